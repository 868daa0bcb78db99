/** Scalar helpers of the quantization arithmetic specified in quant/rounding.ts (shared by ref kernels and quant/). */

/** Round half to even (PyTorch `round_`, numpy `rint`). */
export function roundHalfEven(s: number): number {
  const r = Math.round(s); // rounds halves up
  return r - s === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Float32 coefficients of the Householder reflection of a size-G group (quant/rounding.ts section 3). */
export function householderCoefficients(g: number): { a: number; wl: number; c: number } {
  const a = Math.fround(1 / Math.sqrt(g));
  return { a, wl: Math.fround(a - 1), c: Math.fround(1 / Math.fround(1 - a)) };
}

const f32buf = new Float32Array(1), u32buf = new Uint32Array(f32buf.buffer);

/** The float32 next to float32 v, up or down (the bit pattern steps by one; ±0 steps to ±the smallest subnormal). */
function nextFloat32(v: number, up: boolean): number {
  f32buf[0] = v;
  if (v === 0) return up ? 1.401298464324817e-45 : -1.401298464324817e-45;
  u32buf[0] += v > 0 === up ? 1 : -1;
  return f32buf[0];
}

/** Smallest float32 ≥ v. */
export function roundUpF32(v: number): number {
  const f = Math.fround(v);
  return f >= v || Number.isNaN(v) ? f : nextFloat32(f, true);
}

/** Largest float32 ≤ v. */
export function roundDownF32(v: number): number {
  const f = Math.fround(v);
  return f <= v || Number.isNaN(v) ? f : nextFloat32(f, false);
}

const RANGE_EPS = 1e-8;

/** The per-group parameters of quant/rounding.ts §2 from each group's float32 min and max (quant-kernels.ts affineParams). */
export function affineParams(format: number, bits: number, mins: Float32Array, maxs: Float32Array, offsets: Float32Array,
  scales: Float32Array, inv: Float32Array, zeroPoint: Int32Array, unaligned: Int32Array): void {
  const B = 2 ** bits - 1, qmax = 2 ** (bits - 1) - 1, symmetric = format === 2, zeroAligned = format === 1;
  unaligned[0] = 0;
  for (let g = 0; g < mins.length; g++) {
    const m = mins[g], M = maxs[g];
    let offset = 0, scale: number, zp = 0;
    if (symmetric) scale = roundUpF32((Math.max(-m, M) + RANGE_EPS) / qmax);
    else if (zeroAligned && m >= 0) scale = roundUpF32((M + RANGE_EPS) / B); // z == 0 guard: no negative part, zero is code 0
    else if (zeroAligned) {
      const lo = Math.min(m - RANGE_EPS, 0), hi = Math.max(M + RANGE_EPS, 0);
      const z = Math.floor((-lo * B) / (hi - lo));
      if (z >= 1) [zp, scale] = [z, roundUpF32(-lo / z)];
      // the negative part is narrower than one bin: give it exactly one level below zero
      else if (B >= 2) [zp, scale] = [1, roundUpF32(Math.max(-lo, hi / (B - 1)))];
      else {
        unaligned[0]++;
        offset = roundDownF32(m - RANGE_EPS);
        scale = roundUpF32((M + RANGE_EPS - offset) / B);
      }
    } else {
      offset = roundDownF32(m - RANGE_EPS);
      scale = roundUpF32((M + RANGE_EPS - offset) / B);
    }
    if (!Number.isFinite(scale) || !Number.isFinite(offset)) scale = NaN; // non-finite data propagates NaN
    offsets[g] = offset, scales[g] = scale, inv[g] = 1 / scale, zeroPoint[g] = zp;
  }
}
