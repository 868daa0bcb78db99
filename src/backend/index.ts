/**
 * Backend selection. FQT_BACKEND=ref|native chooses (default: native when it loaded); a native backend
 * covers only the kernels it `supports`, the rest fall back to the reference (withFallback).
 */
import type { Backend, KernelName, Kernels } from './backend.js';
import { loadNative } from './native.js';
import { refBackend as rawRef } from './ref/index.js';
import { checkedBackend } from './args.js';
import { FqtError } from '../tensor/errors.js';

export type { Backend, KernelName } from './backend.js';

/** The reference backend; every kernel checks its arguments first (backend/signatures.ts), like native ones. */
export const refBackend: Backend = checkedBackend(rawRef);

/** A backend that uses `fast` for the kernels it supports and `ref` for every other kernel. */
export function withFallback(fast: Backend, ref: Backend = refBackend): Backend {
  const kernels = {} as Record<string, unknown>;
  for (const key of Object.keys(ref) as (keyof Backend)[]) {
    if (key === 'name' || key === 'description' || key === 'supports') continue;
    const useFast = fast.supports(key as KernelName) && typeof fast[key] === 'function';
    const impl = (useFast ? fast[key] : ref[key]) as (...args: unknown[]) => unknown;
    kernels[key] = impl.bind(useFast ? fast : ref);
  }
  return {
    ...(kernels as unknown as Kernels),
    name: fast.name,
    description: fast.description,
    supports: (k: KernelName) => fast.supports(k),
  };
}

let current: Backend | null = null;
let notice: string | null = null;
let noticeShown = false;

function select(): Backend {
  const wanted = process.env.FQT_BACKEND ?? '';
  if (wanted !== '' && wanted !== 'ref' && wanted !== 'native') {
    throw new FqtError(`FQT_BACKEND must be 'ref' or 'native', got '${wanted}'`);
  }
  if (wanted === 'ref') return refBackend;
  const loaded = loadNative();
  if (loaded.ok) return withFallback(loaded.backend);
  if (wanted === 'native') throw new FqtError(`FQT_BACKEND=native but ${loaded.reason}`);
  notice = `fqt: using the reference backend (pure TypeScript, slow): ${loaded.reason}`;
  return refBackend;
}

/** The active backend (chosen once, on first use; says once on stderr when native is not active). */
export function backend(): Backend {
  if (current === null) current = select();
  if (notice !== null && !noticeShown) {
    noticeShown = true;
    if (process.env.FQT_QUIET !== '1') process.stderr.write(`${notice}\n`);
  }
  return current;
}

/** Why native is not active, or null; the caller shows it, so backend() will not print it again. */
export function backendNotice(): string | null {
  if (current === null) current = select();
  noticeShown = true;
  return notice;
}

/** Replace the active backend (tests run the same suite on every backend). */
export function setBackend(b: Backend): void {
  current = b;
}
