/**
 * Child process of test/backend/args.test.ts (does nothing unless FQT_HOSTILE_CHILD=1): calls every function of
 * the raw native addon, of its createBackend() object and of backend() with wrong arguments — missing, extra,
 * plain arrays, short and empty buffers, wrong typed-array kinds, huge / negative / fractional / NaN integers,
 * out-of-range index arrays, huge dimensions over empty buffers — derived from each function's signature. Every
 * call must return or throw; the parent asserts that this process exits normally and prints its counts.
 */
import { nativeAddon } from '../../src/backend/native.js';
import { backend } from '../../src/backend/index.js';
import { parseSignature } from '../../src/backend/args.js';
import { ADDON_SIGNATURES, KERNEL_SIGNATURES } from '../../src/backend/signatures.js';

type Fn = (...args: unknown[]) => unknown;
const ARRAYS: Record<string, (n: number) => unknown> = {
  f32: (n) => new Float32Array(n), f64: (n) => new Float64Array(n), i32: (n) => new Int32Array(n), u32: (n) => new Uint32Array(n),
  i8: (n) => new Int8Array(n), u8: (n) => new Uint8Array(n), codes: (n) => new Uint8Array(n),
};

/** A plausible call (small dims, 64-element buffers) from the signature; mutations start from it. */
function baseline(sig: string): unknown[] {
  return parseSignature(sig).args.map((a) => {
    if (a.t === 'int') return Math.max(a.lo, Math.min(a.hi, 2));
    if (a.t === 'num') return Number.isFinite(a.lo) ? a.lo : 0.5;
    if (a.t === 'str') return a.choices ? a.choices[0] : 'scalar';
    // A valid conv geometry [n, c, h, w, oc, kh, kw, stride, pad, oh, ow] for the fused conv kernels.
    if (a.name === 'geo') return Int32Array.of(1, 2, 4, 4, 2, 3, 3, 1, 1, 4, 4);
    return ARRAYS[a.kind](64);
  });
}

const BAD_VALUES: unknown[] = [
  undefined, null, 'x', true, {}, [1, 2, 3], -1, 0.5, NaN, Infinity, -Infinity, 2 ** 31, 2 ** 31 - 1, 1e15, 2 ** 53, -(2 ** 31),
  new Float32Array(0), new Float32Array(1), new Float64Array(64), new Int8Array(64), new Uint8Array(3), new Int32Array(64).fill(2 ** 31 - 1),
  Int32Array.of(-5, 7, 1 << 30), new Uint32Array(64).fill(0xffffffff), new Float32Array(64).fill(NaN),
];

function calls(sig: string): unknown[][] {
  const base = baseline(sig);
  const out: unknown[][] = [[], base, [...base, 1], base.slice(0, -1)];
  for (let i = 0; i < base.length; i++) for (const v of BAD_VALUES) out.push(base.map((b, j) => (j === i ? v : b)));
  const ints = parseSignature(sig).args.map((a) => a.t === 'int');
  // Geometry arrays: every element at its extremes.
  base.forEach((b, j) => {
    if (!(b instanceof Int32Array) || b.length !== 11) return;
    for (let e = 0; e < 11; e++) {
      for (const v of [0, -1, 65, 1000, 2 ** 31 - 1]) out.push(base.map((x, k) => (k === j ? Int32Array.from(b, (g, i) => (i === e ? v : g)) : x)));
    }
  });
  // Huge dimensions over empty buffers, and everything at its extreme.
  for (const big of [2 ** 31 - 1, 2 ** 20]) out.push(base.map((b, j) => (ints[j] ? big : ArrayBuffer.isView(b) ? new (b.constructor as new (n: number) => unknown)(0) : b)));
  const zero = base.map((b, j) => (ints[j] ? 0 : ArrayBuffer.isView(b) ? new (b.constructor as new (n: number) => unknown)(0) : b));
  out.push(zero);
  // One dimension huge, the others 0, every buffer empty: all lengths are 0, so only the loops could hurt. The
  // reference kernels run such empty loops in JavaScript (harmless, but seconds per call): a smaller giant there.
  const giant = process.env.FQT_BACKEND === 'ref' ? 2 ** 16 : 2 ** 31 - 1;
  for (let i = 0; i < base.length; i++) if (ints[i]) out.push(zero.map((z, j) => (j === i ? giant : z)));
  return out;
}

function hammer(label: string, fn: Fn, self: unknown, sig: string, counts: { calls: number; threw: number }): void {
  for (const args of calls(sig)) {
    counts.calls++;
    try {
      fn.apply(self, args);
    } catch {
      counts.threw++;
    }
  }
  void label;
}

if (process.env.FQT_HOSTILE_CHILD === '1') {
  const counts = { calls: 0, threw: 0 };
  const addon = nativeAddon() as unknown as Record<string, Fn> | null;
  if (addon !== null) {
    const { active, threads } = addon.info() as { active: string; threads: number };
    const raw = addon.createBackend() as unknown as Record<string, Fn>;
    for (const [name, sig] of Object.entries(KERNEL_SIGNATURES)) if (typeof raw[name] === 'function') hammer(`native ${name}`, raw[name], raw, sig, counts);
    // setThreads / peak / setIsa last: a successful call changes the pool or runs a timed loop (bounded to 60 s by
    // the signature, so only the short values run); restore the pool afterwards.
    for (const [name, sig] of Object.entries(ADDON_SIGNATURES)) {
      // peak runs its loop for `seconds`: skip only the long valid durations (larger ones must be rejected).
      if (name === 'peak') hammer(name, (...a: unknown[]) => (typeof a[2] === 'number' && a[2] > 0.01 && a[2] <= 60 ? undefined : addon.peak(...a)), addon, sig, counts);
      else hammer(name, addon[name], addon, sig, counts);
    }
    addon.setThreads(threads);
    addon.setIsa(active);
  }
  const be = backend() as unknown as Record<string, Fn>;
  for (const [name, sig] of Object.entries(KERNEL_SIGNATURES)) hammer(`backend() ${name}`, be[name], be, sig, counts);
  hammer('backend().supports', be.supports, be, 'kernel:str', counts);
  process.stdout.write(`${JSON.stringify(counts)}\n`);
}
