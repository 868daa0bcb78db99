/**
 * Quantized matrices: integer codes in layer layout plus per-group scale, offset and zero point
 * (x̂ = offset + (code − zeroPoint)·scale, quant/rounding.ts). Codes are Uint8Array for unsigned formats
 * and Int8Array for signed ones. A stochastic QTensor records the (seed, stream) of its draw, so its codes
 * can be reproduced exactly.
 */
import { backend } from '../backend/index.js';
import { check } from '../tensor/errors.js';
import type { Granularity, IntFormat, Rounding } from './spec.js';
import { affineParams, type AffineParams } from './params.js';
import { e4m3Value } from '../backend/ref/lowp.js';
import { uninitCodes, uninitF32 } from '../ops/util.js';

/** group(r, c) = (floor(r / rowDiv) mod rowMod)·colGroups + floor(c / colDiv) (backend/quant-kernels.ts). */
export interface Grouping {
  rowDiv: number;
  rowMod: number;
  colDiv: number;
  rowGroups: number;
  colGroups: number;
}

/** Where the random numbers of a stochastic rounding came from (counter RNG, tensor/random.ts). */
export interface Draw {
  seed: number;
  stream: number;
}

/** What a QTensor and the QuantParams it was quantized with share: the format and the per-group parameters. */
export interface QuantFields {
  readonly bits: number;
  readonly format: IntFormat;
  readonly signed: boolean;
  readonly rounding: Rounding;
  readonly grouping: Grouping;
  readonly offset: Float32Array;
  readonly scale: Float32Array;
  readonly zeroPoint: Int32Array;
  readonly qmin: number;
  readonly qmax: number;
  readonly draw: Draw | null;
}

export interface QTensor extends QuantFields {
  readonly rows: number;
  readonly cols: number;
  readonly codes: Uint8Array | Int8Array;
  /**
   * How codes map to values. Absent: affine (above). 'log2': per tensor, code c ≠ 0 is sign(c)·scale·2^(|c| − 1)
   * (LUQ paperCompat, whose levels exceed int8 affine codes); 'e4m3': code is an E4M3 byte, value e4m3(c)·scale[g]
   * (MXFP8, quant/rounding.ts §6). Such an operand only ever runs fp32-dequant.
   */
  readonly levels?: 'log2' | 'e4m3';
}

export function makeGrouping(rows: number, cols: number, rowDiv: number, rowMod: number, colDiv: number): Grouping {
  rowDiv = Math.max(1, rowDiv);
  rowMod = Math.max(1, rowMod);
  colDiv = Math.max(1, colDiv);
  return { rowDiv, rowMod, colDiv, rowGroups: Math.min(rowMod, Math.ceil(rows / rowDiv)), colGroups: Math.ceil(cols / colDiv) };
}

/** The scale groups of a granularity on a [rows, cols] layer-layout matrix whose samples own `rowsPerSample` rows. */
export function groupingOf(g: Granularity, rows: number, cols: number, rowsPerSample: number): Grouping {
  if (typeof g === 'object') return makeGrouping(rows, cols, 1, rows, g.block);
  switch (g) {
    case 'tensor': return makeGrouping(rows, cols, 1, 1, cols);
    case 'sample': return makeGrouping(rows, cols, rowsPerSample, Math.ceil(rows / rowsPerSample), cols);
    case 'row': return makeGrouping(rows, cols, 1, rows, cols);
    case 'column': return makeGrouping(rows, cols, 1, 1, 1);
    case 'feature': return makeGrouping(rows, cols, 1, rowsPerSample, 1);
    default: {
      const never: never = g;
      throw new Error(`unknown granularity ${String(never)}`);
    }
  }
}

/** The group of element (r, c): the formula on Grouping. */
export function groupAt(g: Grouping, r: number, c: number): number {
  return (Math.floor(r / g.rowDiv) % g.rowMod) * g.colGroups + Math.floor(c / g.colDiv);
}

export function groupCount(g: Grouping): number {
  return g.rowGroups * g.colGroups;
}

/**
 * The layer-layout matrix [n·hw, c] (row s·hw + p, column ch) handed over as NCHW planes data[n][c][hw] — a conv
 * layer's dY as autograd delivers it. The quantization functions below take it in place of the row-major array and
 * give bit-identical results (same groups, same random draws, codes in rows layout) without transposing the floats.
 */
export interface Planes { readonly data: Float32Array; readonly n: number; readonly c: number; readonly hw: number }
export type MatrixData = Float32Array | Planes;
export const isPlanes = (x: MatrixData): x is Planes => !(x instanceof Float32Array);
/** x's values as they lie: the row-major array, or the planes' NCHW array. */
export const valuesOf = (x: MatrixData): Float32Array => (isPlanes(x) ? x.data : x);
/** x as the row-major [rows, cols] array (planes are transposed; [n, c, 1] planes already are it). */
export function rowsOf(x: MatrixData): Float32Array {
  if (!isPlanes(x) || x.hw === 1) return valuesOf(x);
  const rows = uninitF32(x.data.length);
  if (rows.length > 0) backend().transpose(x.n, x.c, x.hw, x.data, rows);
  return rows;
}

/** Per-group min and max of x[rows, cols]. */
export function rangeStats(x: MatrixData, rows: number, cols: number, grouping: Grouping): { mins: Float32Array; maxs: Float32Array } {
  const mins = new Float32Array(groupCount(grouping)), maxs = new Float32Array(mins.length);
  const { rowDiv, rowMod, colDiv } = grouping;
  if (rows > 0 && cols > 0 && isPlanes(x)) backend().quantRangePlanes(x.data, x.n, x.c, x.hw, rowDiv, rowMod, colDiv, mins, maxs);
  else if (rows > 0 && cols > 0) backend().quantRange(x as Float32Array, rows, cols, rowDiv, rowMod, colDiv, mins, maxs);
  return { mins, maxs };
}

export interface QuantizeOptions {
  format: IntFormat;
  bits: number;
  grouping: Grouping;
  rounding: Rounding;
  /** Required for stochastic rounding. */
  draw?: Draw | null;
}

/**
 * Everything of a QTensor but its shape and codes, plus the float32 inverse scales quantizeAffine multiplies by: what
 * a kernel that quantizes while it consumes the operand needs (the fused binary conv, quant/gemm/bconv.ts).
 */
export interface QuantParams extends QuantFields {
  readonly inv: Float32Array;
}

/** The min/max parameters of every group from its range (METHODS §0.3). */
export function quantParams(mins: Float32Array, maxs: Float32Array, opts: QuantizeOptions): QuantParams {
  return paramsWith(affineParams(opts.format, opts.bits, mins, maxs), opts);
}

/** QuantParams of per-group parameters already computed for opts (by affineParams or a kernel that fuses it). */
export function paramsWith(p: Omit<AffineParams, 'unaligned'>, opts: QuantizeOptions): QuantParams {
  const stochastic = opts.rounding === 'stochastic';
  const draw = stochastic ? opts.draw ?? null : null;
  check(!stochastic || draw !== null, 'internal: stochastic rounding needs a (seed, stream) draw');
  return {
    bits: opts.bits, format: opts.format, signed: p.signed, rounding: opts.rounding, grouping: opts.grouping,
    offset: p.offset, scale: p.scale, inv: p.inv, zeroPoint: p.zeroPoint, qmin: p.qmin, qmax: p.qmax, draw,
  };
}

/** The codes of x[rows, cols] under given parameters (quantizeAffine). */
export function quantizeWithParams(x: MatrixData, rows: number, cols: number, p: QuantParams): QTensor {
  const codes = uninitCodes(rows * cols, p.signed), g = p.grouping;
  const args = [p.offset, p.inv, p.zeroPoint, p.qmin, p.qmax, p.rounding === 'stochastic' ? 1 : 0, p.draw?.seed ?? 0, p.draw?.stream ?? 0, codes] as const;
  if (rows > 0 && cols > 0 && isPlanes(x)) backend().quantizeAffinePlanes(x.data, x.n, x.c, x.hw, g.rowDiv, g.rowMod, g.colDiv, ...args);
  else if (rows > 0 && cols > 0) backend().quantizeAffine(x as Float32Array, rows, cols, g.rowDiv, g.rowMod, g.colDiv, ...args);
  return qtensorOf(p, rows, cols, codes);
}

/** The QTensor of `codes` quantized with parameters p. */
export function qtensorOf(p: QuantParams, rows: number, cols: number, codes: Uint8Array | Int8Array): QTensor {
  return {
    rows, cols, bits: p.bits, format: p.format, signed: p.signed, rounding: p.rounding, grouping: p.grouping, codes,
    offset: p.offset, scale: p.scale, zeroPoint: p.zeroPoint, qmin: p.qmin, qmax: p.qmax, draw: p.draw,
  };
}

/** Quantize x[rows, cols] with min/max ranges per group (METHODS §0.3). */
export function quantizeMatrix(x: MatrixData, rows: number, cols: number, opts: QuantizeOptions): QTensor {
  const len = valuesOf(x).length;
  check(len === rows * cols && (!isPlanes(x) || (x.n * x.hw === rows && x.c === cols)),
    () => `quantize: ${len} values for a [${rows}, ${cols}] matrix`);
  const { mins, maxs } = rangeStats(x, rows, cols, opts.grouping);
  return quantizeWithParams(x, rows, cols, quantParams(mins, maxs, opts));
}

/** x̂[rows, cols] = offset + (code − zeroPoint)·scale (affine), sign(c)·scale·2^(|c| − 1) ('log2'), f32(e4m3(c)·scale[g]) ('e4m3'). */
export function dequantize(q: QTensor, out: Float32Array = new Float32Array(q.rows * q.cols)): Float32Array {
  const g = q.grouping;
  if (q.levels === 'e4m3') {
    for (let i = 0; i < q.rows * q.cols; i++) out[i] = Math.fround(e4m3Value(q.codes[i]) * q.scale[groupAt(g, Math.floor(i / q.cols), i % q.cols)]);
  } else if (q.levels === 'log2') {
    const a = q.scale[0];
    for (let i = 0; i < q.rows * q.cols; i++) out[i] = q.codes[i] === 0 ? 0 : Math.fround(Math.sign(q.codes[i]) * a * 2 ** (Math.abs(q.codes[i]) - 1));
  } else if (q.rows > 0 && q.cols > 0) {
    backend().dequantizeAffine(q.codes, q.rows, q.cols, g.rowDiv, g.rowMod, g.colDiv, q.offset, q.scale, q.zeroPoint, out);
  }
  return out;
}
