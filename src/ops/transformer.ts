/**
 * Transformer ops with their backward rules: LayerNorm and RMSNorm over the last axis, GELU and SiLU, row softmax
 * (optionally causal), embedding lookup and the batched NT product of attention (bmm). Kernels:
 * backend/transformer-kernels.ts.
 */
import { backend } from '../backend/index.js';
import type { ActivationOp } from '../backend/backend.js';
import { record } from '../autograd/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { empty, uninit } from './util.js';

/** [rows, cols] view of x over its last axis. */
function rowsOf(x: Tensor, op: string): [number, number] {
  check(x.rank >= 1, () => `${op}: needs rank ≥ 1, got ${fmtShape(x.shape)}`);
  const cols = x.shape[x.rank - 1];
  return [cols === 0 ? 0 : x.size / cols, cols];
}

function norm(x: Tensor, gamma: Tensor, beta: Tensor | null, eps: number, op: 'layerNorm' | 'rmsNorm'): Tensor {
  const [rows, cols] = rowsOf(x, op);
  check(gamma.rank === 1 && gamma.size === cols && (beta === null || (beta.rank === 1 && beta.size === cols)),
    () => `${op}: input ${fmtShape(x.shape)} needs weight${beta ? ' and bias' : ''} of shape [${cols}], got ${fmtShape(gamma.shape)}${beta ? ` and ${fmtShape(beta.shape)}` : ''}`);
  check(eps > 0, () => `${op}: eps must be positive, got ${eps}`);
  const rms = op === 'rmsNorm' ? 1 : 0;
  const out = uninit(x.shape), mean = new Float32Array(rows), rstd = new Float32Array(rows);
  const b = beta ?? gamma; // RMSNorm ignores β
  backend().layerNormForward(x.data, rows, cols, gamma.data, b.data, eps, rms, out.data, mean, rstd);
  const inputs = beta ? [x, gamma, beta] : [x, gamma];
  return record(out, op, inputs, (g) => {
    const dx = uninit(x.shape), dgamma = empty(gamma.shape), dbeta = empty([cols]);
    backend().layerNormBackward(x.data, g.data, rows, cols, gamma.data, mean, rstd, rms, dx.data, dgamma.data, dbeta.data);
    return beta ? [dx, dgamma, dbeta] : [dx, dgamma];
  });
}

/** LayerNorm over the last axis: (x − μ)/√(σ² + eps)·γ + β (biased variance, as PyTorch). */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  return norm(x, gamma, beta, eps, 'layerNorm');
}

/** RMSNorm over the last axis: x/√(mean(x²) + eps)·γ. */
export function rmsNorm(x: Tensor, gamma: Tensor, eps = 1e-6): Tensor {
  return norm(x, gamma, null, eps, 'rmsNorm');
}

function activation(op: ActivationOp, x: Tensor): Tensor {
  const out = uninit(x.shape);
  backend().activationForward(op, x.data, out.data);
  return record(out, op, [x], (g) => {
    const dx = uninit(x.shape);
    backend().activationBackward(op, x.data, g.data, dx.data);
    return [dx];
  });
}

/** GELU, tanh approximation (PyTorch approximate='tanh'; GPT-2's). */
export const gelu = (x: Tensor): Tensor => activation('gelu', x);
/** SiLU (swish): x·σ(x). */
export const silu = (x: Tensor): Tensor => activation('silu', x);

/**
 * Softmax over the last axis. `causal`: the last two axes form square [T, T] score matrices and query row i keeps
 * only keys j ≤ i (the others are exactly 0).
 */
export function softmax(x: Tensor, causal = false): Tensor {
  const [rows, cols] = rowsOf(x, 'softmax');
  check(!causal || (x.rank >= 2 && x.shape[x.rank - 2] === cols), () => `softmax: a causal mask needs square [.., T, T] scores, got ${fmtShape(x.shape)}`);
  const out = uninit(x.shape);
  backend().softmaxForward(x.data, rows, cols, causal ? 1 : 0, out.data);
  return record(out, 'softmax', [x], (g) => {
    const dx = uninit(x.shape);
    backend().softmaxBackward(out.data, g.data, rows, cols, dx.data);
    return [dx];
  });
}

/** Rows of `table` [vocab, dim] picked by `ids` → [...idsShape, dim]; the gradient is scattered back (added). */
export function embedding(ids: Int32Array, idsShape: readonly number[], table: Tensor): Tensor {
  check(table.rank === 2, () => `embedding: table must be [vocab, dim], got ${fmtShape(table.shape)}`);
  const [vocab, dim] = table.shape;
  check(ids.length === idsShape.reduce((a, b) => a * b, 1), () => `embedding: ${ids.length} ids for shape ${fmtShape(idsShape)}`);
  for (let i = 0; i < ids.length; i++) {
    check(Number.isInteger(ids[i]) && ids[i] >= 0 && ids[i] < vocab, () => `embedding: id ${ids[i]} at position ${i} is outside [0, ${vocab})`);
  }
  const out = uninit([...idsShape, dim]);
  backend().embeddingForward(ids, table.data, dim, out.data);
  return record(out, 'embedding', [table], (g) => {
    const dt = uninit(table.shape); // embeddingBackward overwrites it
    backend().embeddingBackward(ids, g.data, dim, dt.data);
    return [dt];
  });
}

/** C[b] = op(A[b])·op(B[b])ᵀ for b < batch (no autograd): A [batch, m, k] (or [batch, k, m] when transA), B [batch, n, k] (or [batch, k, n]). */
export function bmmRaw(a: Tensor, transA: boolean, b: Tensor, transB: boolean): Tensor {
  const [batch, a1, a2] = a.shape, [, b1, b2] = b.shape;
  const [m, k] = transA ? [a2, a1] : [a1, a2];
  const n = transB ? b2 : b1;
  const c = uninit([batch, m, n]);
  backend().sgemmBatched(batch, m, n, k, a.data, transA ? 1 : 0, b.data, transB ? 1 : 0, c.data);
  return c;
}

/**
 * Batched NT product C[b] = A[b]·B[b]ᵀ for A [batch, m, k], B [batch, n, k] (attention: Q·Kᵀ; P·V as P·(Vᵀ)ᵀ).
 * Backward: dA = dC·B, dB = dCᵀ·A (batched, no transposed copies).
 */
export function bmm(a: Tensor, b: Tensor): Tensor {
  check(a.rank === 3 && b.rank === 3 && a.shape[0] === b.shape[0] && a.shape[2] === b.shape[2],
    () => `bmm: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} do not fit (need [batch, m, k] and [batch, n, k])`);
  return record(bmmRaw(a, false, b, false), 'bmm', [a, b], (g) => [
    a.requiresGrad ? bmmRaw(g, false, b, true) : null,
    b.requiresGrad ? bmmRaw(g, true, a, true) : null,
  ]);
}
