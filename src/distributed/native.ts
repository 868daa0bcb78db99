/**
 * Loads fqt_dist.node, the gloo addon (native/distributed/binding.gyp, native/distributed/distributed.cc). It is built by `npm install`
 * only where gloo's headers and library are present; without it data-parallel training fails with one line naming
 * the Debian package, and everything else works (the kernel addon never links gloo).
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { FqtError } from '../tensor/errors.js';

/** One gloo context over TCP (native/distributed/distributed.cc documents each method). Every call blocks. */
export interface NativeGroup {
  addresses(): Uint8Array[];
  connect(blobs: Uint8Array[], localRank: number): void;
  allreduceF32(x: Float32Array): void;
  allreduceBlocks(buf: Uint8Array, blockBytes: number, scratch: Uint8Array, reduce: (firstBlock: number, blocks: number) => void): void;
  broadcast(bytes: Uint8Array, root: number): void;
  barrier(): void;
  close(): void;
}

export interface DistAddon {
  Group: new (rank: number, size: number, host: string, timeoutMs: number) => NativeGroup;
  glooVersion: string;
}

/** What to install, in every error that says gloo is missing. */
export const GLOO_PACKAGE_HINT = 'install gloo (Debian/Ubuntu: apt-get install libgloo-dev) and rebuild fqt (npm rebuild fqt)';

/** Package root: this file is dist/src/distributed/native.js. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function distAddonPath(): string {
  return path.join(packageRoot, 'native', 'distributed', 'build', 'Release', 'fqt_dist.node');
}

let cached: { addon: DistAddon | null; reason: string } | null = null;

/** Load the addon at `file`: the addon, or why it cannot be used (naming the package to install). */
export function loadDistAddon(file: string): { addon: DistAddon | null; reason: string } {
  if (!existsSync(file)) return { addon: null, reason: `the gloo addon was not built (${path.relative(process.cwd(), file) || file} is missing): ${GLOO_PACKAGE_HINT}` };
  try {
    return { addon: createRequire(import.meta.url)(file) as DistAddon, reason: '' };
  } catch (err) {
    return { addon: null, reason: `the gloo addon does not load (${(err as Error).message.split('\n')[0]}): is the gloo library installed? (Debian/Ubuntu: apt-get install libgloo0)` };
  }
}

/** Why data-parallel training is unavailable here, or null when it is available. */
export function distUnavailableReason(): string | null {
  cached ??= loadDistAddon(distAddonPath());
  return cached.addon ? null : cached.reason;
}

/** The gloo addon; an FqtError naming the package to install when it is missing. */
export function distAddon(what = 'data-parallel training'): DistAddon {
  cached ??= loadDistAddon(distAddonPath());
  if (!cached.addon) throw new FqtError(`${what} needs gloo: ${cached.reason}`);
  return cached.addon;
}
