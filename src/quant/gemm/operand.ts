/**
 * GEMM operands of the quantized layer paths: layer-layout matrices [rows, cols] (fp32 or quantized codes), consumed
 * as-is or transposed by a GEMM C[M,N] = A[M,K]·B[N,K]ᵀ (DESIGN.md "One GEMM convention, NT"), plus what every
 * path shares: the conv padding mask of sign operands, reusable chunk buffers, and dequantization to fp32.
 */
import { backend } from '../../backend/index.js';
import type { QuantizedOperand } from '../quantize.js';
import { dequantize } from '../qtensor.js';
import { applyBhq } from '../transforms.js';

/** Zero padding of a conv's im2col rows: pad[p, k] = 1 where entry k of pixel row p is padding. */
export interface PadInfo {
  /** Output pixels per sample (P = oh·ow). */
  pixels: number;
  /** [P, K] zeros and ones. */
  mask: Float32Array;
}

/** Geometry of a conv's im2col (ops/conv.ts passes it to the layer GEMM). */
export interface ConvGeometryLike {
  c: number; h: number; w: number; kh: number; kw: number; stride: number; pad: number; oh: number; ow: number;
}

/** `pad`: the operand holds conv im2col rows whose padded entries must count as 0 (sign(0) = +1, bit.ts). */
export type GemmOperand =
  | { kind: 'fp32'; data: Float32Array; rows: number; cols: number }
  | { kind: 'quant'; value: QuantizedOperand; pad?: PadInfo };

const padCache = new Map<string, PadInfo>();

/** The padding mask of a conv geometry (null without padding): 1 − im2col of an all-ones sample. Cached. */
export function padInfoOf(g: ConvGeometryLike): PadInfo | null {
  if (g.pad === 0) return null;
  const key = `${g.c},${g.h},${g.w},${g.kh},${g.kw},${g.stride},${g.pad}`;
  let info = padCache.get(key);
  if (!info) {
    const be = backend();
    const P = g.oh * g.ow, K = g.c * g.kh * g.kw;
    const valid = new Float32Array(P * K), minusValid = new Float32Array(P * K), mask = new Float32Array(P * K);
    be.im2col(new Float32Array(g.c * g.h * g.w).fill(1), 1, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow, valid);
    be.unary('addScalar', valid, minusValid, -1, 0);
    be.unary('neg', minusValid, mask, 0, 0);
    info = { pixels: P, mask };
    if (padCache.size > 256) padCache.clear();
    padCache.set(key, info);
  }
  return info;
}

export function dims(op: GemmOperand): [number, number] {
  return op.kind === 'fp32' ? [op.rows, op.cols] : [op.value.q.rows, op.value.q.cols];
}

/** x[rows, cols] transposed into a new array. */
export function transposedF32(x: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(x.length);
  if (x.length > 0) backend().transpose(1, rows, cols, x, out);
  return out;
}

/** The operand's fp32 values in NT layout (dequantized, BHQ inverse applied, transposed as needed). */
export function materialize(op: GemmOperand, transpose: boolean): Float32Array {
  const [rows, cols] = dims(op);
  let x: Float32Array;
  if (op.kind === 'fp32') x = op.data;
  else {
    x = dequantize(op.value.q);
    const t = op.value.transform;
    if (t) x = applyBhq(t, x, t.n > 0 ? (rows * cols) / t.n : 0, true, true);
    const pad = op.pad;
    if (pad && x.length > 0) {
      // Zero the padded entries: x[n, p, k] · (1 − pad[p, k]).
      const minusValid = new Float32Array(pad.mask.length), valid = new Float32Array(pad.mask.length);
      backend().unary('addScalar', pad.mask, minusValid, -1, 0);
      backend().unary('neg', minusValid, valid, 0, 0);
      const P = pad.pixels;
      backend().binary('mul', x, Int32Array.of(P * cols, cols, 1), valid, Int32Array.of(0, cols, 1), Int32Array.of(rows / P, P, cols), x);
    }
  }
  return transpose ? transposedF32(x, rows, cols) : x;
}

/** A layer call's full conv geometry (a linear layer is a 1×1 conv on a 1×1 image): batch n and output channels. */
export interface LayerGeometry extends ConvGeometryLike {
  n: number;
  oc: number;
}

/** The geometry as the fused kernels take it (backend/qconv-kernels.ts): [n, c, h, w, oc, kh, kw, stride, pad, oh, ow]. */
export function geometryArray(g: LayerGeometry): Int32Array {
  return Int32Array.of(g.n, g.c, g.h, g.w, g.oc, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow);
}

/**
 * What a fused layer keeps of its input X for the grad-weight pass: X's codes as a conv input ([n, h·w·c], NHWC
 * order: the integer kernels read channels contiguously; quantized before any im2col), or the fp32 activation
 * (NCHW) when the grad-weight X slot is fp32.
 */
export type ConvInput = { kind: 'codes'; q: import('../qtensor.js').QTensor } | { kind: 'fp32'; data: Float32Array };

/** dY of a fused backward pass: fp32 as the autograd gave it (NCHW), or quantized in layer layout (rows [n·oh·ow, oc]). */
export type ConvGrad = { kind: 'fp32'; nchw: Float32Array } | { kind: 'quant'; rows: Extract<GemmOperand, { kind: 'quant' }> };
