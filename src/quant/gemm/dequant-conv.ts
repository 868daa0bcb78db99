/**
 * Conv-level runners of the float paths (fused.ts): 'fp32' and 'fp32-dequant' passes run the backend's fused fp32
 * convolution (conv2dForward / conv2dBackward: implicit GEMM, no batch-sized column matrix) on the dequantized
 * operands, with zero padding — the same semantics as the integer conv kernels. Used when an operand is fp32
 * (e.g. qat8's fp32 gradients) or its quantizer fits no integer kernel; reports call it fp32-dequant, never
 * integer. X must be fp32 or quantized as a whole conv input (not on im2col rows).
 */
import { backend } from '../../backend/index.js';
import { dequantize } from '../qtensor.js';
import type { QuantSpec } from '../spec.js';
import { convInputKind } from './int8-conv.js';
import { type ConvGrad, type ConvInput, type LayerGeometry, materialize } from './operand.js';
import type { ConvRunners, LayerPass, PlanAnswer } from './plan.js';
import { uninitCodes, uninitF32 } from '../../ops/util.js';

const EMPTY = new Float32Array(0);

/** X in NCHW: the fp32 original, or the NHWC codes transposed back (1 byte each) and dequantized. */
function xValues(x: ConvInput, g: LayerGeometry): Float32Array {
  if (x.kind === 'fp32') return x.data;
  const hw = g.h * g.w, codes = x.q.codes;
  if (hw === 1 || g.c === 1 || codes.length === 0) return dequantize(x.q);
  const nchw = uninitCodes(codes.length, codes instanceof Int8Array);
  backend().transposeCodes(g.n, hw, g.c, codes, nchw);
  return dequantize({ ...x.q, codes: nchw });
}

/** dY in NCHW: the fp32 original, or the dequantized rows (BHQ inverse applied) transposed back. */
function dyNchw(dy: ConvGrad, g: LayerGeometry): Float32Array {
  if (dy.kind === 'fp32') return dy.nchw;
  const rows = materialize(dy.rows, false);
  const out = uninitF32(rows.length);
  const P = g.oh * g.ow;
  if (out.length > 0) backend().transpose(g.n, P, g.oc, rows, out);
  return out;
}

function plan(path: 'fp32' | 'fp32-dequant') {
  return (pass: LayerPass, a: QuantSpec | null, b: QuantSpec | null, shape: { oc: number; k: number; rowsPerSample: number }): PlanAnswer => {
    if ((a === null && b === null) !== (path === 'fp32')) return null;
    const x = pass === 'forward' ? a : pass === 'gradWeight' ? b : null;
    if (x !== null && convInputKind(x, shape.k, shape.rowsPerSample) === null) return { reject: 'X is not quantized as a whole conv input' };
    return { path, kBlock: null, fused: true };
  };
}

/** A linear layer's geometry (a 1×1 conv on a 1×1 image): its passes are linearRows' GEMMs, bit for bit. */
function isLinear(g: LayerGeometry): boolean {
  return g.h === 1 && g.w === 1 && g.kh === 1 && g.kw === 1 && g.pad === 0;
}

function runners(path: 'fp32' | 'fp32-dequant'): ConvRunners {
  return {
    plan: plan(path),
    forward(x, w, g) {
      const y = uninitF32(g.n * g.oc * g.oh * g.ow);
      if (isLinear(g)) backend().sgemm(g.n, g.oc, g.c, xValues(x, g), materialize(w, false), y);
      else backend().conv2dForward(xValues(x, g), g.n, g.c, g.h, g.w, materialize(w, false), g.oc, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow, y);
      return y;
    },
    gradInput(dy, w, g) {
      const dx = uninitF32(g.n * g.c * g.h * g.w);
      if (isLinear(g)) backend().sgemmT(g.n, g.c, g.oc, dyNchw(dy, g), 0, materialize(w, false), 1, dx);
      else backend().conv2dBackward(EMPTY, g.n, g.c, g.h, g.w, materialize(w, false), g.oc, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow, dyNchw(dy, g), dx, EMPTY);
      return dx;
    },
    gradWeight(dy, x, g) {
      const dw = new Float32Array(g.oc * g.c * g.kh * g.kw);
      if (isLinear(g)) backend().sgemmT(g.oc, g.c, g.n, dyNchw(dy, g), 1, xValues(x, g), 1, dw);
      else backend().conv2dBackward(xValues(x, g), g.n, g.c, g.h, g.w, EMPTY, g.oc, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow, dyNchw(dy, g), EMPTY, dw);
      return dw;
    },
  };
}

export const fp32ConvRunners = runners('fp32');
export const dequantConvRunners = runners('fp32-dequant');
