/**
 * Loads the C++ N-API addon (native/, built by `npm install` through node-gyp) and adapts it to the
 * Backend interface. Returns why it could not be loaded instead of throwing.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Backend } from './backend.js';

export type NativeLoad = { ok: true; backend: Backend } | { ok: false; reason: string };

/** Package root: this file is dist/src/backend/native.js. */
const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function addonPath(): string {
  return path.join(packageRoot, 'native', 'build', 'Release', 'fqt_native.node');
}

export function loadNative(): NativeLoad {
  const file = addonPath();
  if (!existsSync(file)) return { ok: false, reason: `native addon not built (${path.relative(process.cwd(), file) || file} is missing)` };
  try {
    const require = createRequire(import.meta.url);
    const addon = require(file) as { createBackend?: () => Backend };
    if (typeof addon.createBackend !== 'function') return { ok: false, reason: 'native addon has no createBackend()' };
    return { ok: true, backend: addon.createBackend() };
  } catch (err) {
    return { ok: false, reason: `native addon failed to load: ${(err as Error).message}` };
  }
}
