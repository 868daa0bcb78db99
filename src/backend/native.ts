/**
 * Loads the C++ N-API addon (native/, built by `npm install` through node-gyp) and adapts it to the
 * Backend interface. Returns why it could not be loaded instead of throwing, except when FQT_ISA
 * names an ISA tier this machine lacks: that is a configuration error and is raised.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Backend } from './backend.js';
import { FqtError } from '../tensor/errors.js';

export type NativeLoad = { ok: true; backend: Backend } | { ok: false; reason: string };

export type IsaTier = 'scalar' | 'avx2' | 'avx512' | 'amx';

/** What the addon reports about the machine (`fqt info`). */
export interface NativeInfo {
  /** ISA tiers this CPU and OS support, lowest first. */
  tiers: IsaTier[];
  /** The tier kernels dispatch on (FQT_ISA, or the best available). */
  active: IsaTier;
  threads: number;
  description: string;
  features: Record<string, boolean>;
  /** Set when FQT_ISA asks for a tier the machine lacks. */
  isaError?: string;
  /** The argument signature every binding is checked against (native/src/signatures.cc). */
  signatures: Record<string, string>;
}

/** The raw addon: the backend factory plus controls used by tests and benchmarks. */
export interface NativeAddon {
  createBackend(): Backend;
  info(): NativeInfo;
  /** Switch the dispatch tier at run time (throws when the machine lacks it). */
  setIsa(tier: IsaTier): void;
  /** Resize the thread pool (FQT_THREADS sets the initial size; default: all cores). */
  setThreads(n: number): void;
  /**
   * Machine peak in operations per second over all threads, measured for `seconds`:
   * 'fma' (fp32 FMA, 2 flops per lane), 'int8' (best int8 dot instruction of the tier),
   * 'int8exact' (the exact sequence gemmI8 uses), 'popcount' (2 ops per bit).
   */
  peak(kind: 'fma' | 'int8' | 'int8exact' | 'popcount', tier: IsaTier, seconds: number): number;
  /** Record SIGINT / SIGTERM for a graceful stop of the synchronous training loop (train/signals.ts). */
  stopSignals(action: 'install' | 'uninstall'): void;
  stopSignals(action: 'poll'): number;
}

/** Package root: this file is dist/src/backend/native.js. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function addonPath(): string {
  return path.join(packageRoot, 'native', 'build', 'Release', 'fqt_native.node');
}

let cached: { addon: NativeAddon | null; reason: string } | null = null;

/** The raw addon, or null (with the reason in `nativeLoadError()`) when it is not built or fails to load. */
export function nativeAddon(): NativeAddon | null {
  if (cached === null) {
    const file = addonPath();
    if (!existsSync(file)) {
      cached = { addon: null, reason: `native addon not built (${path.relative(process.cwd(), file) || file} is missing)` };
    } else {
      try {
        const require = createRequire(import.meta.url);
        const addon = require(file) as Partial<NativeAddon>;
        cached = typeof addon.createBackend === 'function'
          ? { addon: addon as NativeAddon, reason: '' }
          : { addon: null, reason: 'native addon has no createBackend()' };
      } catch (err) {
        cached = { addon: null, reason: `native addon failed to load: ${(err as Error).message}` };
      }
    }
  }
  return cached.addon;
}

export function nativeLoadError(): string | null {
  nativeAddon();
  return cached?.addon ? null : cached?.reason ?? null;
}

/** ISA tiers, active tier and threads of the native addon, or null when it is not loaded. */
export function nativeInfo(): NativeInfo | null {
  return nativeAddon()?.info() ?? null;
}

export function loadNative(): NativeLoad {
  const addon = nativeAddon();
  if (addon === null) return { ok: false, reason: nativeLoadError() ?? 'native addon unavailable' };
  const info = addon.info();
  if (info.isaError !== undefined) throw new FqtError(info.isaError);
  try {
    const raw = addon.createBackend();
    // The description follows setIsa / setThreads (tests switch tiers at run time).
    const backend: Backend = Object.create(raw, {
      description: { get: () => addon.info().description, enumerable: true },
    }) as Backend;
    for (const key of Object.keys(raw)) {
      if (key !== 'description') Object.defineProperty(backend, key, { value: (raw as unknown as Record<string, unknown>)[key], enumerable: true });
    }
    return { ok: true, backend };
  } catch (err) {
    return { ok: false, reason: `native addon failed to initialise: ${(err as Error).message}` };
  }
}
