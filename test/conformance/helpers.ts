/**
 * Shared helpers of the backend conformance suites: which native ISA tiers to run, seeded data,
 * and comparisons (bit-exact, or within a stated tolerance; see native/README.md).
 */
import assert from 'node:assert/strict';
import { nativeAddon, nativeLoadError, loadNative, type IsaTier, type NativeAddon } from '../../src/backend/native.js';
import type { Backend } from '../../src/backend/backend.js';
import { Rng } from '../../src/tensor/random.js';

export interface NativeUnderTest {
  addon: NativeAddon;
  backend: Backend;
  tiers: IsaTier[];
}

/** The native addon and the tiers to test, or the reason to skip. */
export function nativeUnderTest(): NativeUnderTest | string {
  const addon = nativeAddon();
  if (addon === null) return `native addon not available (${nativeLoadError()}); run \`npm install\` with a C++ compiler`;
  const loaded = loadNative();
  if (!loaded.ok) return loaded.reason;
  let tiers = addon.info().tiers;
  // FQT_ISA restricts the run to one tier (CI can spawn one run per tier).
  const only = process.env.FQT_ISA;
  if (only) tiers = tiers.filter((t) => t === only);
  return { addon, backend: loaded.backend, tiers };
}

export function rng(seed: number): Rng {
  return new Rng(seed);
}

export function randn(r: Rng, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  r.fillNormal(out, 0, scale);
  return out;
}

/** Uniform int8 over the whole range, with the extremes −128 and 127 forced in now and then. */
export function randI8(r: Rng, n: number): Int8Array {
  const u = new Float32Array(n);
  r.fillUniform(u);
  const out = new Int8Array(n);
  for (let i = 0; i < n; i++) out[i] = i % 17 === 0 ? -128 : i % 19 === 0 ? 127 : Math.floor(u[i] * 256) - 128;
  return out;
}

/** Random ±1 rows of k bits packed into ceil(k/32) words per row, padding bits zero. */
export function randBits(r: Rng, rows: number, k: number): Uint32Array {
  const words = (k + 31) >>> 5;
  const out = new Uint32Array(rows * words);
  const u = new Float32Array(rows * words * 2);
  r.fillUniform(u);
  for (let i = 0; i < rows; i++) {
    for (let w = 0; w < words; w++) {
      let v = ((Math.floor(u[2 * (i * words + w)] * 65536) << 16) | Math.floor(u[2 * (i * words + w) + 1] * 65536)) >>> 0;
      const valid = Math.min(32, k - w * 32);
      if (valid < 32) v &= (1 << valid) - 1;
      out[i * words + w] = v >>> 0;
    }
  }
  return out;
}

type Numeric = Float32Array | Int32Array | Uint32Array | Int8Array | Uint8Array;

/** Bit-for-bit equality (NaN payloads and the sign of zero included). */
export function assertBitExact(actual: Numeric, expected: Numeric, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const a = new Uint8Array(actual.buffer, actual.byteOffset, actual.byteLength);
  const e = new Uint8Array(expected.buffer, expected.byteOffset, expected.byteLength);
  if (Buffer.compare(a, e) === 0) return;
  for (let i = 0; i < actual.length; i++) {
    const show = (v: number) => (Object.is(v, -0) ? '-0' : String(v));
    if (!Object.is(actual[i], expected[i])) assert.fail(`${what}: element ${i} is ${show(actual[i])}, reference ${show(expected[i])}`);
  }
}

/** |a − e| ≤ atol + rtol·|e| elementwise (NaN must match NaN). */
export function assertClose(actual: Float32Array, expected: Float32Array, rtol: number, atol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      assert.fail(`${what}: element ${i} is ${a}, reference ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

/**
 * The sgemm tolerance: |c − ref| ≤ (k + 2)·2⁻²⁴·Σ_p |a_ip·b_jp| — the classic worst-case bound of a
 * float32 dot product of length k (the reference sums in float64 and rounds once).
 */
export function assertGemmClose(m: number, n: number, k: number, a: Float32Array, b: Float32Array,
  actual: Float32Array, expected: Float32Array, what: string): void {
  const u = 2 ** -24;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let abs = 0;
      for (let p = 0; p < k; p++) abs += Math.abs(a[i * k + p] * b[j * k + p]);
      const d = Math.abs(actual[i * n + j] - expected[i * n + j]);
      if (!(d <= (k + 2) * u * abs + 1e-30)) {
        assert.fail(`${what}: C[${i},${j}] = ${actual[i * n + j]}, reference ${expected[i * n + j]}, bound ${(k + 2) * u * abs}`);
      }
    }
  }
}
