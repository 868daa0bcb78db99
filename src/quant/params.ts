/**
 * Per-group quantization parameters from range statistics (quant/rounding.ts §2, METHODS §0.3).
 * Works on per-group arrays only (no loops over data).
 */
import { type IntFormat, INT_FORMATS } from './spec.js';
import { backend } from '../backend/index.js';

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
  const q = 2 ** (bits - 1) - 1;
  if (format === 'symmetric') return { qmin: -q, qmax: q, signed: true };
  return { qmin: 0, qmax: 2 ** bits - 1, signed: false };
}

/** Parameters of every group from its float32 min and max (a kernel: a stage-1 conv's per-feature dY has 12 544 groups). */
export function affineParams(format: IntFormat, bits: number, mins: Float32Array, maxs: Float32Array): AffineParams {
  const n = mins.length, unaligned = new Int32Array(1);
  const p = { offset: new Float32Array(n), scale: new Float32Array(n), inv: new Float32Array(n), zeroPoint: new Int32Array(n), ...codeRange(format, bits) };
  if (n > 0) backend().affineParams(INT_FORMATS.indexOf(format), bits, mins, maxs, p.offset, p.scale, p.inv, p.zeroPoint, unaligned);
  return { ...p, unaligned: unaligned[0] };
}
