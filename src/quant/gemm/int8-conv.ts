/**
 * Conv-level runners of the int8 paths (fused.ts): each pass of a quantized conv (or linear layer) is ONE backend
 * kernel on integer codes — implicit GEMM, affine zero points and scales in a float64 epilogue, exact zero padding
 * (backend/qconv-kernels.ts). What fits:
 *   forward      X: the conv input's codes per tensor or sample (deterministic)   W: per tensor or output channel
 *   grad-input   dY: per tensor or sample (BHQ: per sample of T·dY, T⁻¹ on dX)     W: per tensor
 *   grad-weight  dY: per tensor, output channel, or (column, pixel) feature        X: the conv input's codes per tensor
 * Per-feature dY scales lie along K of the grad-weight GEMM in layer layout (METHODS §0.1); the fused kernel
 * reduces pixel by pixel, so they become K-blocks of the batch ('int8-blocked', one block per output pixel).
 */
import { backend } from '../../backend/index.js';
import { check } from '../../tensor/errors.js';
import { specCodeBits, specMixesRows, specQuantizesConvInput, specZeroNotExact } from '../quantizers/index.js';
import type { QuantSpec } from '../spec.js';
import type { QTensor } from '../qtensor.js';
import { type ConvGrad, type ConvInput, type GemmOperand, geometryArray, type LayerGeometry } from './operand.js';
import { type ConvRunners, groupKind, type GroupKind, type LayerPass, type PlanAnswer } from './plan.js';
import { uninitF32 } from '../../ops/util.js';

/** Why a quantized operand's codes cannot feed an int8 kernel (null: they can). */
function notInt8(spec: QuantSpec): string | null {
  if (specZeroNotExact(spec)) return 'sign operands run on the bit paths';
  if (specCodeBits(spec) > 8) return 'codes wider than 8 bits';
  return null;
}

/** Whether X can be quantized as the conv input (before im2col), and its groups then. */
export function convInputKind(spec: QuantSpec, k: number, rowsPerSample: number): GroupKind | null {
  if (!specQuantizesConvInput(spec)) return null;
  const kind = groupKind(spec, k, rowsPerSample);
  return kind === 'tensor' || kind === 'sample' ? kind : null;
}

function planInt8Conv(pass: LayerPass, a: QuantSpec | null, b: QuantSpec | null, shape: { oc: number; k: number; rowsPerSample: number }): PlanAnswer {
  const { oc, k, rowsPerSample: P } = shape;
  if (a === null || b === null) {
    const names = { forward: ['X', 'W'], gradInput: ['dY', 'W'], gradWeight: ['dY', 'X'] }[pass];
    return { reject: `${names[a === null ? 0 : 1]} is fp32: the recipe does not quantize it for this pass` };
  }
  const why = notInt8(a) ?? notInt8(b);
  if (why !== null) return { reject: why };
  if (pass === 'forward') {
    if (convInputKind(a, k, P) === null) return { reject: 'X is not quantized as a whole conv input (stochastic, or groups other than tensor / sample)' };
    const wk = groupKind(b, k, 1, oc);
    return wk === 'tensor' || wk === 'row' ? { path: 'int8', kBlock: null, fused: true } : { reject: `W scales per ${wk} do not fit the fused forward` };
  }
  if (pass === 'gradInput') {
    const dk = groupKind(a, oc, P);
    if (dk !== 'tensor' && dk !== 'sample') return { reject: `dY scales per ${dk} change along K of the grad-input GEMM` };
    if (specMixesRows(a) && dk !== 'sample') return { reject: 'a row transform whose groups are not samples' };
    return groupKind(b, k, 1, oc) === 'tensor' ? { path: 'int8', kBlock: null, fused: true } : { reject: 'W scales change along K of the grad-input GEMM' };
  }
  if (specMixesRows(a)) return { reject: 'the BHQ transform mixes rows along the reduced axis K' };
  const dk = groupKind(a, oc, P);
  if (dk !== 'tensor' && dk !== 'column' && dk !== 'feature') return { reject: `dY scales per ${dk} change along K of the grad-weight GEMM` };
  if (convInputKind(b, k, P) !== 'tensor') return { reject: 'X scales change along K of the grad-weight GEMM (per sample)' };
  return dk === 'feature' && P > 1
    ? { path: 'int8-blocked', kBlock: null, fused: true, note: 'K-blocks: one per output pixel (the batch)' }
    : { path: 'int8', kBlock: null, fused: true };
}

function codesOf(op: GemmOperand | ConvGrad, what: string): QTensor {
  if (op.kind === 'quant' && 'rows' in op) return op.rows.value.q;
  check(op.kind === 'quant' && 'value' in op, () => `internal: the fused int8 ${what} needs quantized codes`);
  return op.value.q;
}

const NO_I32 = new Int32Array(0), NO_F32 = new Float32Array(0);

export const int8ConvRunners: ConvRunners = {
  plan: planInt8Conv,

  forward(x: ConvInput, w: GemmOperand, g: LayerGeometry): Float32Array {
    check(x.kind === 'codes', 'internal: the fused int8 forward needs X codes');
    const xq = x.q, wq = codesOf(w, 'forward');
    const y = uninitF32(g.n * g.oc * g.oh * g.ow);
    backend().qconvForward(geometryArray(g), xq.codes, xq.offset, xq.scale, xq.zeroPoint, wq.codes, wq.offset, wq.scale, wq.zeroPoint, y);
    return y;
  },

  gradInput(dy: ConvGrad, w: GemmOperand, g: LayerGeometry): Float32Array {
    const dq = codesOf(dy, 'grad-input'), wq = codesOf(w, 'grad-input');
    const dx = uninitF32(g.n * g.c * g.h * g.w);
    // BHQ: the operand is T⁻¹·x̂(T·dY); T mixes whole samples, so it commutes with the GEMM: the kernel applies T⁻¹ to dX.
    const t = dy.kind === 'quant' ? dy.rows.value.transform : null;
    backend().qconvGradInput(geometryArray(g), dq.codes, dq.offset, dq.scale, dq.zeroPoint, wq.codes, wq.offset, wq.scale, wq.zeroPoint, dx,
      t?.order ?? NO_I32, t?.groupSizes ?? NO_I32, t?.rowScale ?? NO_F32);
    return dx;
  },

  gradWeight(dy: ConvGrad, x: ConvInput, g: LayerGeometry): Float32Array {
    check(x.kind === 'codes', 'internal: the fused int8 grad-weight needs X codes');
    const dq = codesOf(dy, 'grad-weight'), xq = x.q;
    const dw = new Float32Array(g.oc * g.c * g.kh * g.kw);
    backend().qconvGradWeight(geometryArray(g), dq.codes, dq.offset, dq.scale, dq.zeroPoint, xq.codes, xq.offset, xq.scale, xq.zeroPoint, dw);
    return dw;
  },
};
