/**
 * The layer GEMM and its two backward GEMMs (DESIGN.md "One GEMM convention, NT"):
 *   forward      Y[rows,out] = X[rows,in] · W[out,in]ᵀ
 *   grad-input   dX = dY · W        (W transposed to [in,out] so the GEMM is NT)
 *   grad-weight  dW = dYᵀ · X       (dY and X transposed so K = rows)
 * Quantized training replaces exactly these three GEMMs (quant/ qgemm); everything else is shared.
 */
import { backend } from '../backend/index.js';
import { record } from '../autograd/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { add } from './elementwise.js';
import { empty } from './util.js';

/** Transpose a 2-D matrix (no autograd). */
export function transpose2d(x: Tensor): Tensor {
  const [r, c] = x.shape;
  const out = empty([c, r]);
  backend().transpose(1, r, c, x.data, out.data);
  return out;
}

/** C = A · Bᵀ for A [m,k], B [n,k] (no autograd). */
export function gemmNT(a: Tensor, b: Tensor): Tensor {
  const [m, k] = a.shape;
  const n = b.shape[0];
  const out = empty([m, n]);
  backend().sgemm(m, n, k, a.data, b.data, out.data);
  return out;
}

export function checkLayerGemm(op: string, x: Tensor, w: Tensor): void {
  check(x.rank === 2 && w.rank === 2 && x.shape[1] === w.shape[1],
    () => `${op}: input ${fmtShape(x.shape)} and weight ${fmtShape(w.shape)} do not fit (need [rows, in] and [out, in])`);
}

/** op(A)·op(B)ᵀ where A is [m,k] or (transA) [k,m], B is [n,k] or (transB) [k,n] (no autograd, no transposed copies). */
export function gemmT(a: Tensor, transA: boolean, b: Tensor, transB: boolean): Tensor {
  const [m, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
  const n = transB ? b.shape[1] : b.shape[0];
  const out = empty([m, n]);
  backend().sgemmT(m, n, k, a.data, transA ? 1 : 0, b.data, transB ? 1 : 0, out.data);
  return out;
}

/** Y = X · Wᵀ with the fp32 backward GEMMs dX = dY·W and dW = dYᵀ·X. */
export function linearRows(x: Tensor, w: Tensor): Tensor {
  checkLayerGemm('linear', x, w);
  return record(gemmNT(x, w), 'linearRows', [x, w], (g) => [
    x.requiresGrad ? gemmT(g, false, w, true) : null,
    w.requiresGrad ? gemmT(g, true, x, true) : null,
  ]);
}

/** Plain matrix product A[m,k] · B[k,n]. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  check(a.rank === 2 && b.rank === 2 && a.shape[1] === b.shape[0],
    () => `matmul: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} do not fit (need [m, k] and [k, n])`);
  const bt = record(transpose2d(b), 'transpose', [b], (g) => [transpose2d(g)]);
  return linearRows(a, bt);
}

/** y = x·Wᵀ + b for x [batch, in], W [out, in], b [out]. */
export function linear(x: Tensor, w: Tensor, b?: Tensor | null, gemm: (x: Tensor, w: Tensor) => Tensor = linearRows): Tensor {
  const y = gemm(x, w);
  if (!b) return y;
  check(b.rank === 1 && b.shape[0] === w.shape[0], () => `linear: bias ${fmtShape(b.shape)} does not match ${w.shape[0]} outputs`);
  return add(y, b);
}
