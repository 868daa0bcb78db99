/**
 * Float32 kernels of the transformer layers (ops/transformer.ts, ops/attention.ts): LayerNorm / RMSNorm, row
 * softmax (optionally causal), GELU / SiLU, embedding gather / scatter and the batched GEMM of attention. Arrays
 * are contiguous row-major; the caller allocates outputs; shapes were checked in ops/. Statistics and exponentials
 * are computed in float64 and rounded once on store; native kernels match within the tolerance of
 * test/conformance/transformer.test.ts.
 */

/** 'gelu': the tanh approximation 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) (PyTorch approximate='tanh', GPT-2); 'silu': x·σ(x). */
export type ActivationOp = 'gelu' | 'silu';

export interface TransformerKernels {
  /**
   * Normalisation over the last axis of x[rows, cols], statistics in float64:
   *   LayerNorm (rms = 0): mean μ, rstd = 1/√(var + eps) (biased variance), out = (x − μ)·rstd·γ + β
   *   RMSNorm   (rms = 1): μ = 0, rstd = 1/√(mean(x²) + eps), out = x·rstd·γ (β unused)
   * Writes mean[rows] and rstd[rows] for the backward.
   */
  layerNormForward(x: Float32Array, rows: number, cols: number, gamma: Float32Array, beta: Float32Array, eps: number,
    rms: number, out: Float32Array, mean: Float32Array, rstd: Float32Array): void;

  /**
   * Backward of layerNormForward: with x̂ = (x − μ)·rstd, g = dy·γ:
   *   LayerNorm: dx = rstd·(g − mean(g) − x̂·mean(g·x̂));  RMSNorm: dx = rstd·(g − x̂·mean(g·x̂))
   *   dγ = Σ_rows dy·x̂;  dβ = Σ_rows dy (LayerNorm; left untouched for RMSNorm). Overwrites dx, dgamma, dbeta.
   */
  layerNormBackward(x: Float32Array, dy: Float32Array, rows: number, cols: number, gamma: Float32Array,
    mean: Float32Array, rstd: Float32Array, rms: number, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void;

  /**
   * Softmax of each row of x[rows, cols]. causal = 1: rows come in blocks of `cols` (one square score matrix per
   * head), and row r keeps columns c ≤ r mod cols (the others get exactly 0).
   */
  softmaxForward(x: Float32Array, rows: number, cols: number, causal: number, out: Float32Array): void;

  /** dx = y ⊙ (dy − Σ_c dy·y) per row (masked entries have y = 0, so dx = 0 there). */
  softmaxBackward(y: Float32Array, dy: Float32Array, rows: number, cols: number, dx: Float32Array): void;

  /** out[i] = act(x[i]). */
  activationForward(op: ActivationOp, x: Float32Array, out: Float32Array): void;

  /** dx[i] = dy[i]·act'(x[i]). */
  activationBackward(op: ActivationOp, x: Float32Array, dy: Float32Array, dx: Float32Array): void;

  /** out[i, :] = table[ids[i], :] for a table [vocab, dim] (ids checked in ops/). */
  embeddingForward(ids: Int32Array, table: Float32Array, dim: number, out: Float32Array): void;

  /** dtable (overwritten) = Σ over i of dy[i, :] scattered to row ids[i], added in order of i. */
  embeddingBackward(ids: Int32Array, dy: Float32Array, dim: number, dtable: Float32Array): void;

  /** sgemmT on `batch` independent matrices laid one after another (A: m·k, B: n·k, C: m·n floats each). */
  sgemmBatched(batch: number, m: number, n: number, k: number, a: Float32Array, transA: number, b: Float32Array,
    transB: number, c: Float32Array): void;
}
