/**
 * Reference kernels of LUQ (METHODS §2.2–2.3): SAWB statistics and logarithmic stochastic rounding, the
 * literal implementation of quant/rounding.ts §4. Native twins: native/src/quant_log.cc (bit-exact, conformance
 * test test/conformance/quant.test.ts).
 */
import { streamKey, uniformAt } from '../../tensor/random.js';

/** Elements per chunk of the blocked sums of momentSums (backend/quant-kernels.ts). */
export const MOMENT_CHUNK = 4096;

export function momentSums(x: Float32Array, n: number, out: Float64Array): void {
  let sq = 0, ab = 0, mx = 0, mn = Infinity, nan = false;
  const p = new Float64Array(8), q = new Float64Array(8);
  for (let c0 = 0; c0 < n; c0 += MOMENT_CHUNK) {
    p.fill(0);
    q.fill(0);
    for (let i = c0, end = Math.min(n, c0 + MOMENT_CHUNK); i < end; i++) {
      const v = x[i], a = Math.abs(v);
      p[i & 7] += v * v;
      q[i & 7] += a;
      if (a > mx) mx = a;
      if (v < mn) mn = v;
      if (v !== v) nan = true;
    }
    sq += ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
    ab += ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
  }
  out[0] = nan ? NaN : sq;
  out[1] = nan ? NaN : ab;
  out[2] = nan ? NaN : mx;
  out[3] = nan ? NaN : mn === 0 ? 0 : mn;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** ⌊log2 r⌋ of a positive finite float32 r, from its exponent bits (−127 for subnormals). */
function exponentOf(r: number): number {
  f32[0] = r;
  return ((u32[0] >>> 23) & 0xff) - 127;
}

export function quantizeLuq(x: Float32Array, n: number, alpha: Float32Array, kmax: number, seed: number, stream: number, codes: Int8Array): void {
  const a = alpha[0];
  const key = streamKey(seed, stream);
  const top = 2 ** kmax;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const r = Math.fround(Math.abs(v) / a);
    if (v === 0 || !(r >= 0)) { codes[i] = 0; continue; } // zeros stay zero; NaN → 0
    let k = exponentOf(r);
    k = k < 0 ? 0 : k > kmax ? kmax : k;
    const p2 = 2 ** k;
    let mag = p2 * Math.floor(r / p2 + uniformAt(key, i)); // r/2^k and the sum are exact in float64
    if (mag > top) mag = top;
    codes[i] = v < 0 ? -mag : mag;
  }
}
