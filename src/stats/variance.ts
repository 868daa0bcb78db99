/**
 * Gradient statistics of an FQT recipe per GEMM layer weight (METHODS §1.7, §0.5):
 *   bias          ‖mean_k g_FQT − g_QAT‖ after k = 1, 2, 4, … K backward passes on one fixed batch; with
 *                 unbiased gradient quantizers it follows sqrt(quantVar / k) (decays like 1/√K)
 *   quantVar      E_k ‖g_FQT,k − g_QAT‖² on the fixed batch (the quantization part of Var[g_FQT])
 *   samplingVar   Σ_b ‖g_QAT,b − ḡ‖² / (B − 1) across the given batches (minibatch sampling variance;
 *                 ḡ = mean over the batches stands in for the full-data gradient)
 *   meanAbsGrad   mean |g_QAT| on the fixed batch
 * g_QAT = the same forward with exact (fp32, STE) backward GEMMs (qatOf); g_FQT = the recipe's backward.
 * The K FQT passes share one forward (only the backward quantizers are random), as in StatQuant's debug.py.
 * A forward with stochastic rounding makes g_QAT itself random: the statistics then mix both sources.
 * The model is left as it was found (GEMMs, buffers, train/eval mode).
 */
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { grad } from '../autograd/graph.js';
import { crossEntropy } from '../ops/loss.js';
import type { Module } from '../nn/module.js';
import { applyRecipe, isGemmLayer, type GemmLayerLike, type ResolvedRecipe } from '../quant/apply.js';
import { qatOf, type Recipe } from '../quant/recipe.js';
import type { GemmPath } from '../quant/gemm/plan.js';

export interface VarianceBatch {
  x: Tensor;
  labels: Int32Array;
}

export interface VarianceOptions {
  model: Module;
  recipe: Recipe;
  /** batches[0] is the fixed batch of the bias and quantization-variance measurements; ≥ 2 batches give samplingVar. */
  batches: readonly VarianceBatch[];
  /** FQT backward passes K on the fixed batch (default 100, as StatQuant's bias check). */
  draws?: number;
  /** Seed of the gradient quantizers' random streams (default 0). */
  seed?: number;
  loss?: (logits: Tensor, labels: Int32Array) => Tensor;
}

export interface BiasPoint {
  k: number;
  /** ‖mean of the first k FQT gradients − g_QAT‖₂ */
  bias: number;
  /** sqrt(quantVar / k): what an unbiased estimator gives */
  expected: number;
}

export interface VarianceRow {
  layer: string;
  type: string;
  param: string;
  numel: number;
  paths: Record<'forward' | 'gradInput' | 'gradWeight', GemmPath>;
  meanAbsGrad: number;
  gradNorm: number;
  /** E‖g_FQT − g_QAT‖², summed over the layer's weight-gradient elements (the one variance unit of every report) */
  quantVar: number;
  /** Σ_b ‖g_QAT,b − ḡ‖² / (B − 1), same unit */
  samplingVar: number | null;
  /** quantVar / samplingVar */
  ratio: number | null;
  bias: BiasPoint[];
}

export interface VarianceReport {
  recipe: string;
  qatRecipe: string;
  draws: number;
  batches: number;
  seed: number;
  rows: VarianceRow[];
}

function checkpoints(k: number): number[] {
  const out: number[] = [];
  for (let p = 1; p < k; p *= 2) out.push(p);
  out.push(k);
  return out;
}

/** Σ over elements of the variance of one layer's QAT gradient across batches, or null for a single batch. */
function samplingVariance(perBatch: readonly Float32Array[]): number | null {
  if (perBatch.length < 2) return null;
  const numel = perBatch[0].length;
  const mean = new Float64Array(numel);
  for (const g of perBatch) for (let i = 0; i < numel; i++) mean[i] += g[i] / perBatch.length;
  let v = 0;
  for (const g of perBatch) for (let i = 0; i < numel; i++) v += (g[i] - mean[i]) ** 2;
  return v / (perBatch.length - 1);
}

/** Per-layer statistics of the recipe's gradient estimator (see the file comment). */
export function measureVariance(opts: VarianceOptions): VarianceReport {
  const { model, recipe, batches } = opts;
  const draws = opts.draws ?? 100;
  const seed = opts.seed ?? 0;
  const lossFn = opts.loss ?? ((logits: Tensor, labels: Int32Array) => crossEntropy(logits, labels));
  check(batches.length >= 1, 'measureVariance: needs at least one batch');
  check(Number.isInteger(draws) && draws >= 2, () => `measureVariance: draws must be an integer ≥ 2, got ${draws}`);

  const layers = model.namedModules().filter((e): e is [string, Module & GemmLayerLike] => isGemmLayer(e[1]));
  check(layers.length > 0, 'measureVariance: the model has no GEMM layers (Linear / Conv2d)');
  const savedGemms = layers.map(([, l]) => l.gemm);
  const savedBuffers = model.namedBuffers().map(([, b]) => [b, new Float32Array(b.data)] as const);
  const restoreBuffers = (): void => { for (const [b, d] of savedBuffers) b.data.set(d); };
  const weights = layers.map(([, l]) => l.weight);

  const gradsOf = (batch: VarianceBatch, loss = lossFn(model.forward(batch.x), batch.labels)): Float32Array[] => {
    const g = grad(loss);
    return weights.map((w) => new Float32Array(g.get(w)?.data ?? new Float32Array(w.size)));
  };

  try {
    // QAT gradients on every batch.
    applyRecipe(model, qatOf(recipe), { seed });
    const qat = batches.map((b) => { restoreBuffers(); return gradsOf(b); });

    // K FQT backward passes on one forward of the fixed batch.
    restoreBuffers();
    const resolved: ResolvedRecipe = applyRecipe(model, recipe, { seed });
    const loss = lossFn(model.forward(batches[0].x), batches[0].labels);
    const sums = weights.map((w) => new Float64Array(w.size));
    const sqErr = new Float64Array(layers.length);
    const marks = new Set(checkpoints(draws));
    const biasAt: { k: number; values: number[] }[] = [];
    for (let k = 1; k <= draws; k++) {
      const g = gradsOf(batches[0], loss);
      g.forEach((gl, li) => {
        const s = sums[li], ref = qat[0][li];
        let e = 0;
        for (let i = 0; i < gl.length; i++) { s[i] += gl[i]; e += (gl[i] - ref[i]) ** 2; }
        sqErr[li] += e;
      });
      if (marks.has(k)) {
        biasAt.push({ k, values: sums.map((s, li) => {
          let b = 0;
          for (let i = 0; i < s.length; i++) b += (s[i] / k - qat[0][li][i]) ** 2;
          return Math.sqrt(b);
        }) });
      }
    }

    const rows: VarianceRow[] = layers.map(([name, layer], li) => {
      const ref = qat[0][li];
      const numel = ref.length;
      let abs = 0, sq = 0;
      for (let i = 0; i < numel; i++) { abs += Math.abs(ref[i]); sq += ref[i] * ref[i]; }
      const quantVar = sqErr[li] / draws;
      const samplingVar = samplingVariance(qat.map((g) => g[li]));
      const entry = resolved.layers.find((l) => l.name === name);
      return {
        layer: name,
        type: (layer as object).constructor?.name ?? 'GemmLayer',
        param: name ? `${name}.weight` : 'weight',
        numel,
        paths: { forward: entry!.gemms.forward.path, gradInput: entry!.gemms.gradInput.path, gradWeight: entry!.gemms.gradWeight.path },
        meanAbsGrad: numel ? abs / numel : 0,
        gradNorm: Math.sqrt(sq),
        quantVar,
        samplingVar,
        ratio: samplingVar === null || samplingVar === 0 ? null : quantVar / samplingVar,
        bias: biasAt.map(({ k, values }) => ({ k, bias: values[li], expected: Math.sqrt(quantVar / k) })),
      };
    });
    return { recipe: recipe.label, qatRecipe: qatOf(recipe).label, draws, batches: batches.length, seed, rows };
  } finally {
    layers.forEach(([, l], i) => { l.gemm = savedGemms[i]; });
    restoreBuffers();
  }
}
