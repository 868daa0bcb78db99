/**
 * Per-group quantization parameters from range statistics (quant/rounding.ts §2, METHODS §0.3).
 * Works on per-group arrays only (no loops over data).
 */
import type { IntFormat } from './spec.js';
import { roundDownF32, roundUpF32 } from './rounding.js';

export const RANGE_EPS = 1e-8;

export interface AffineParams {
  offset: Float32Array;
  scale: Float32Array;
  inv: Float32Array;
  zeroPoint: Int32Array;
  qmin: number;
  qmax: number;
  signed: boolean;
  /** Groups where zero alignment was impossible (1-bit on signed data) and the asymmetric grid was used. */
  unaligned: number;
}

export function codeRange(format: IntFormat, bits: number): { qmin: number; qmax: number; signed: boolean } {
  if (format === 'symmetric') {
    const q = 2 ** (bits - 1) - 1;
    return { qmin: -q, qmax: q, signed: true };
  }
  return { qmin: 0, qmax: 2 ** bits - 1, signed: false };
}

/** Parameters of every group from its float32 min and max. */
export function affineParams(format: IntFormat, bits: number, mins: Float32Array, maxs: Float32Array): AffineParams {
  const n = mins.length;
  const { qmin, qmax, signed } = codeRange(format, bits);
  const p: AffineParams = {
    offset: new Float32Array(n), scale: new Float32Array(n), inv: new Float32Array(n), zeroPoint: new Int32Array(n),
    qmin, qmax, signed, unaligned: 0,
  };
  const B = 2 ** bits - 1;
  for (let g = 0; g < n; g++) {
    const m = mins[g], M = maxs[g];
    let offset = 0, scale: number, zp = 0;
    if (format === 'symmetric') {
      scale = roundUpF32((Math.max(-m, M) + RANGE_EPS) / qmax);
    } else if (format === 'zeroAligned' && m >= 0) {
      scale = roundUpF32((M + RANGE_EPS) / B); // z == 0 guard: no negative part, zero is code 0
    } else if (format === 'zeroAligned') {
      const lo = Math.min(m - RANGE_EPS, 0), hi = Math.max(M + RANGE_EPS, 0);
      const z = Math.floor((-lo * B) / (hi - lo));
      if (z >= 1) {
        zp = z;
        scale = roundUpF32(-lo / z);
      } else if (B >= 2) {
        zp = 1; // the negative part is narrower than one bin: give it exactly one level below zero
        scale = roundUpF32(Math.max(-lo, hi / (B - 1)));
      } else {
        p.unaligned++;
        offset = roundDownF32(m - RANGE_EPS);
        scale = roundUpF32((M + RANGE_EPS - offset) / B);
      }
    } else {
      offset = roundDownF32(m - RANGE_EPS);
      scale = roundUpF32((M + RANGE_EPS - offset) / B);
    }
    if (!Number.isFinite(scale) || !Number.isFinite(offset)) scale = NaN; // non-finite data propagates NaN
    p.offset[g] = offset;
    p.scale[g] = scale;
    p.inv[g] = 1 / scale;
    p.zeroPoint[g] = zp;
  }
  return p;
}
