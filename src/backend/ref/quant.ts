/**
 * Reference quantization kernels: the literal implementation of quant/rounding.ts (see
 * backend/quant-kernels.ts for the group layout). Native kernels must reproduce these codes bit-exactly.
 */
import type { QuantKernels } from '../quant-kernels.js';
import { streamKey, uniformAt } from '../../tensor/random.js';
import { affineParams, roundHalfEven } from './quant-math.js';
import { blockHouseholder } from './quant-transform.js';
import { momentSums, quantizeLuq } from './quant-log.js';
import { transpose } from './layout.js';

const fr = Math.fround;

/** Group index of the first element of row r (add floor(c / colDiv) for column c). */
function rowBase(r: number, rowDiv: number, rowMod: number, colGroups: number): number {
  return (Math.floor(r / rowDiv) % rowMod) * colGroups;
}

/**
 * Walks each row block by block (one group per block) in element order, calling f(g, start, end) with the block's
 * group and element range, so the group lookup is hoisted out of the per-element work; the arithmetic per element
 * is exactly quant/rounding.ts §1.
 */
function forEachBlock(rows: number, cols: number, rowDiv: number, rowMod: number, colDiv: number,
  f: (g: number, start: number, end: number) => void): void {
  const colGroups = Math.ceil(cols / colDiv);
  for (let r = 0; r < rows; r++) {
    const base = rowBase(r, rowDiv, rowMod, colGroups);
    for (let cg = 0; cg < colGroups; cg++) f(base + cg, r * cols + cg * colDiv, r * cols + Math.min(cols, (cg + 1) * colDiv));
  }
}

export function quantRange(x: Float32Array, rows: number, cols: number, rowDiv: number, rowMod: number, colDiv: number,
  mins: Float32Array, maxs: Float32Array): void {
  mins.fill(Infinity);
  maxs.fill(-Infinity);
  forEachBlock(rows, cols, rowDiv, rowMod, colDiv, (g, start, end) => {
    let lo = mins[g], hi = maxs[g];
    for (let i = start; i < end; i++) {
      const v = x[i];
      if (v < lo || v !== v) lo = v;
      if (v > hi || v !== v) hi = v;
    }
    mins[g] = lo;
    maxs[g] = hi;
  });
}

/**
 * The code of one element (quant/rounding.ts §1): key = streamKey(seed, stream), i = the element's index. A NaN
 * result is returned as NaN and stored as 0 by the typed array. Shared with the fused binary conv kernels (bconv.ts).
 */
export function affineCode(v: number, off: number, iv: number, zp: number, qmin: number, qmax: number, stochastic: number,
  key: number, i: number): number {
  const s = fr(fr(v - off) * iv) + zp;
  const q = stochastic ? Math.floor(s + uniformAt(key, i)) : roundHalfEven(s);
  return q < qmin ? qmin : q > qmax ? qmax : q;
}

export function quantizeAffine(x: Float32Array, rows: number, cols: number, rowDiv: number, rowMod: number, colDiv: number,
  offset: Float32Array, inv: Float32Array, zeroPoint: Int32Array, qmin: number, qmax: number,
  stochastic: number, seed: number, stream: number, codes: Int8Array | Uint8Array): void {
  const key = streamKey(seed, stream);
  forEachBlock(rows, cols, rowDiv, rowMod, colDiv, (g, start, end) => {
    const off = offset[g], iv = inv[g], zp = zeroPoint[g];
    for (let i = start; i < end; i++) codes[i] = affineCode(x[i], off, iv, zp, qmin, qmax, stochastic, key, i);
  });
}

/** [n][c][hw] planes → the rows view [n·hw, c]: the planes kernels are specified as the rows kernels on it. */
function planesAsRows(x: Float32Array, n: number, c: number, hw: number): Float32Array {
  const rows = new Float32Array(x.length);
  transpose(n, c, hw, x, rows);
  return rows;
}
export const quantRangePlanes: QuantKernels['quantRangePlanes'] = (x, n, c, hw, ...rest) => quantRange(planesAsRows(x, n, c, hw), n * hw, c, ...rest);
export const quantizeAffinePlanes: QuantKernels['quantizeAffinePlanes'] = (x, n, c, hw, ...rest) =>
  quantizeAffine(planesAsRows(x, n, c, hw), n * hw, c, ...rest);
/** BHQ's one-pass kernel (quant-kernels.ts), spelled out: Z = T·x stored, its per-sample ranges, parameters and codes. */
export const quantizeBhqPlanes: QuantKernels['quantizeBhqPlanes'] = (x, n, c, hw, order, groupSizes, rowScale, bits, stochastic, seed, stream,
  offset, scale, inv, zeroPoint, codes) => {
  const mins = new Float32Array(n), maxs = new Float32Array(n), z = new Float32Array(x.length); // no values: the range [0, 0]
  if (x.length > 0) {
    blockHouseholder(x, n, c * hw, order, groupSizes, rowScale, 0, z);
    quantRangePlanes(z, n, c, hw, hw, n, c, mins, maxs);
    for (let s = 0; s < n; s++) mins[s] += 0, maxs[s] += 0; // −0 + 0 = +0: a zero extreme is +0
  }
  affineParams(0, bits, mins, maxs, offset, scale, inv, zeroPoint, new Int32Array(1));
  if (x.length > 0) quantizeAffinePlanes(z, n, c, hw, hw, n, c, offset, inv, zeroPoint, 0, 2 ** bits - 1, stochastic, seed, stream, codes);
};
export const quantizeLuqPlanes: QuantKernels['quantizeLuqPlanes'] = (x, n, c, hw, ...rest) => quantizeLuq(planesAsRows(x, n, c, hw), n * hw * c, ...rest);

export function dequantizeAffine(codes: Int8Array | Uint8Array, rows: number, cols: number, rowDiv: number, rowMod: number,
  colDiv: number, offset: Float32Array, scale: Float32Array, zeroPoint: Int32Array, out: Float32Array): void {
  forEachBlock(rows, cols, rowDiv, rowMod, colDiv, (g, start, end) => {
    const off = offset[g], sc = scale[g], zp = zeroPoint[g];
    for (let i = start; i < end; i++) out[i] = off + fr((codes[i] - zp) * sc);
  });
}

export function codesToI8(codes: Int8Array | Uint8Array, rows: number, cols: number, rowDiv: number, rowMod: number,
  colDiv: number, shift: Int32Array, transpose: number, out: Int8Array): void {
  const colGroups = Math.ceil(cols / colDiv);
  for (let r = 0; r < rows; r++) {
    const base = rowBase(r, rowDiv, rowMod, colGroups);
    for (let c = 0; c < cols; c++) {
      const v = codes[r * cols + c] - shift[base + Math.floor(c / colDiv)];
      out[transpose ? c * rows + r : r * cols + c] = v;
    }
  }
}

export function codeBlockSums(m: number, k: number, kBlock: number, a: Int8Array, out: Int32Array): void {
  const nkb = Math.ceil(k / kBlock) || 0;
  for (let i = 0; i < m; i++) {
    for (let kb = 0; kb < nkb; kb++) {
      let s = 0;
      for (let p = kb * kBlock, end = Math.min(k, p + kBlock); p < end; p++) s += a[i * k + p];
      out[i * nkb + kb] = s;
    }
  }
}

export function packNibbles(codes: Int8Array | Uint8Array, out: Uint8Array): void {
  const n = codes.length;
  for (let i = 0; 2 * i < n; i++) out[i] = (codes[2 * i] & 15) | (2 * i + 1 < n ? (codes[2 * i + 1] & 15) << 4 : 0);
}

export function unpackNibbles(packed: Uint8Array, out: Int8Array | Uint8Array): void {
  const signed = out instanceof Int8Array;
  for (let i = 0; i < out.length; i++) {
    const v = (packed[i >> 1] >> ((i & 1) * 4)) & 15;
    out[i] = signed && v >= 8 ? v - 16 : v;
  }
}

export const refQuantKernels: QuantKernels = {
  affineParams, quantRange, quantizeAffine, quantRangePlanes, quantizeAffinePlanes, dequantizeAffine, codesToI8, codeBlockSums, blockHouseholder, quantizeBhqPlanes, packNibbles, unpackNibbles,
  momentSums, quantizeLuq, quantizeLuqPlanes,
};
