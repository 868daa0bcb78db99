/**
 * BatchNorm noise amplification, measured (METHODS §4.1 with the §1.7 procedure): on one fixed batch, the QAT
 * gradient (exact backward GEMMs) and K FQT backward passes of the recipe on one forward; at every BN layer
 * the quantization noise n = g_FQT − g_QAT at the BN output (dy) and at the BN input (dz = BN backward of dy):
 *   noiseOut = E_k ‖n_dy‖²,  nsrOut = noiseOut / ‖dy_QAT‖²        (noise-to-signal ratio after the BN, seen
 *   noiseIn  = E_k ‖n_dz‖²,  nsrIn  = noiseIn  / ‖dz_QAT‖²         from the loss, and before it)
 *   noiseGain = noiseIn / noiseOut, against the white-noise prediction Σ_c (γ_c/σ_c)²(1 − 2/m)·N_c / Σ_c N_c
 *   (N_c = noise energy of dy in channel c); nsrGain = nsrIn / nsrOut is the relative amplification §4.1
 *   predicts to be ≥ 1 (the projection removes signal, not white noise).
 * Plus explosion checks across layers (see layerWarnings). The model is left as it was found.
 */
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { grad } from '../autograd/graph.js';
import { crossEntropy } from '../ops/loss.js';
import type { Module } from '../nn/module.js';
import { applyRecipe, isGemmLayer, type GemmLayerLike } from '../quant/apply.js';
import { qatOf, type Recipe } from '../quant/recipe.js';
import { addChannelEnergy, BnGradProbe, gammaSigmaStats, type BnGradEvent, type GammaSigmaStats } from './bn-probe.js';
import type { VarianceBatch } from './variance.js';

export interface BnWarning {
  kind: 'nonfinite' | 'layer-growth' | 'step-growth' | 'noise-dominates';
  layer: string;
  value: number;
  message: string;
}

/** Default limit of gradient-norm growth (across layers or steps) before a warning. */
export const DEFAULT_GROWTH_LIMIT = 10;

export interface LayerGradSummary {
  layer: string;
  /** RMS of the (FQT) gradient at the BN input. */
  rms: number;
  /** Noise-to-signal ratio at the BN input, when measured. */
  nsr: number | null;
}

/**
 * Explosion checks over BN layers given in forward order (the last one is closest to the loss):
 * non-finite gradients; gradient RMS at a layer's input more than `limit` × that at the last BN layer (the
 * warning names the layer nearest the loss where the limit is first crossed); quantization noise above the
 * gradient signal (nsr > 1, naming the layer nearest the loss where it happens).
 */
export function layerWarnings(rows: readonly LayerGradSummary[], limit = DEFAULT_GROWTH_LIMIT): BnWarning[] {
  const out: BnWarning[] = [];
  const bad = rows.find((r) => !Number.isFinite(r.rms) || (r.nsr !== null && Number.isNaN(r.nsr)));
  if (bad) out.push({ kind: 'nonfinite', layer: bad.layer, value: bad.rms, message: `non-finite gradient at the input of BN '${bad.layer}' (RMS ${bad.rms})` });
  const last = rows[rows.length - 1];
  if (last && Number.isFinite(last.rms) && last.rms > 0) {
    let worst = 1;
    for (const r of rows) if (Number.isFinite(r.rms)) worst = Math.max(worst, r.rms / last.rms);
    for (let i = rows.length - 2; i >= 0; i--) {
      const growth = rows[i].rms / last.rms;
      if (Number.isFinite(growth) && growth > limit) {
        out.push({ kind: 'layer-growth', layer: rows[i].layer, value: growth,
          message: `gradient explosion across layers: the gradient RMS at the input of BN '${rows[i].layer}' is ${growth.toFixed(1)}× that at '${last.layer}' ` +
            `(limit ${limit}×; worst ${worst.toFixed(1)}×)` });
        break;
      }
    }
  }
  const noisy = rows.filter((r) => r.nsr !== null && r.nsr > 1);
  if (noisy.length) {
    const n = noisy[noisy.length - 1];
    out.push({ kind: 'noise-dominates', layer: n.layer, value: n.nsr!,
      message: `quantization noise exceeds the gradient at the input of BN '${n.layer}' (noise-to-signal ${n.nsr!.toFixed(2)}; ${noisy.length} of ${rows.length} BN layers)` });
  }
  return out;
}

export interface BnLayerNoise {
  layer: string;
  channels: number;
  /** values per channel: n·h·w */
  m: number;
  gammaSigma: GammaSigmaStats;
  /** RMS of the QAT gradient at the BN output / input */
  rmsOut: number;
  rmsIn: number;
  /** RMS of the FQT gradient at the BN input (over the draws) */
  fqtRmsIn: number;
  noiseOut: number;
  noiseIn: number;
  nsrOut: number | null;
  nsrIn: number | null;
  nsrGain: number | null;
  noiseGain: number | null;
  predictedNoiseGain: number | null;
}

export interface BnNoiseReport {
  recipe: string;
  qatRecipe: string;
  draws: number;
  seed: number;
  /** BN layers in forward order (the last is closest to the loss). */
  layers: BnLayerNoise[];
  warnings: BnWarning[];
}

export interface BnNoiseOptions {
  model: Module;
  recipe: Recipe;
  batch: VarianceBatch;
  /** FQT backward passes (default 32). */
  draws?: number;
  seed?: number;
  loss?: (logits: Tensor, labels: Int32Array) => Tensor;
  growthLimit?: number;
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

interface Reference { e: BnGradEvent; dy: Float32Array; dz: Float32Array; sigOut: number; sigIn: number }

/** Measure BN noise amplification of `recipe` (see the file comment). */
export function measureBnNoise(opts: BnNoiseOptions): BnNoiseReport {
  const { model, recipe, batch } = opts;
  const draws = opts.draws ?? 32, seed = opts.seed ?? 0;
  const lossFn = opts.loss ?? ((logits: Tensor, labels: Int32Array) => crossEntropy(logits, labels));
  check(Number.isInteger(draws) && draws >= 1, () => `measureBnNoise: draws must be a positive integer, got ${draws}`);
  const gemmLayers = model.namedModules().map(([, m]) => m).filter((m): m is Module & GemmLayerLike => isGemmLayer(m));
  const savedGemms = gemmLayers.map((l) => l.gemm);
  const savedBuffers = model.namedBuffers().map(([, b]) => [b, new Float32Array(b.data)] as const);
  const restoreBuffers = (): void => { for (const [b, d] of savedBuffers) b.data.set(d); };

  let phase: 'qat' | 'fqt' = 'qat';
  const refs: (Reference | undefined)[] = [];
  const acc: { noiseOut: Float64Array; noiseIn: Float64Array; fqtIn: number; count: number }[] = [];
  const sumSq = (a: Float32Array): number => { let s = 0; for (const v of a) s += v * v; return s; };
  const probe = new BnGradProbe(model, (e) => {
    if (phase === 'qat') {
      refs[e.layer] = { e, dy: new Float32Array(e.dy), dz: new Float32Array(e.dz), sigOut: sumSq(e.dy), sigIn: sumSq(e.dz) };
      acc[e.layer] = { noiseOut: new Float64Array(e.c), noiseIn: new Float64Array(e.c), fqtIn: 0, count: 0 };
      return;
    }
    const r = refs[e.layer], a = acc[e.layer];
    check(r !== undefined && a !== undefined && r.dy.length === e.dy.length, `measureBnNoise: BN '${e.name}' ran in the FQT pass but not in the QAT pass`);
    addChannelEnergy(e.dy, r.dy, e.n, e.c, e.hw, a.noiseOut);
    addChannelEnergy(e.dz, r.dz, e.n, e.c, e.hw, a.noiseIn);
    a.fqtIn += sumSq(e.dz);
    a.count++;
  });
  check(probe.layers.length > 0, 'measureBnNoise: the model has no BatchNorm layers');
  probe.attach();
  try {
    applyRecipe(model, qatOf(recipe), { seed });
    grad(lossFn(model.forward(batch.x), batch.labels));
    restoreBuffers();
    phase = 'fqt';
    applyRecipe(model, recipe, { seed });
    const loss = lossFn(model.forward(batch.x), batch.labels);
    for (let k = 0; k < draws; k++) grad(loss);
  } finally {
    probe.detach();
    gemmLayers.forEach((l, i) => { l.gemm = savedGemms[i]; });
    restoreBuffers();
  }

  const layers: BnLayerNoise[] = [];
  for (const li of probe.forwardOrder) {
    const r = refs[li], a = acc[li];
    if (!r || !a || a.count === 0) continue;
    const { e } = r;
    const numel = e.dy.length, m = e.n * e.hw, per = a.count;
    let nOut = 0, nIn = 0, pred = 0;
    for (let c = 0; c < e.c; c++) {
      nOut += a.noiseOut[c];
      nIn += a.noiseIn[c];
      pred += ((e.gamma[c] * e.gamma[c]) / (e.variance[c] + e.eps)) * (1 - 2 / m) * a.noiseOut[c];
    }
    const noiseOut = nOut / per, noiseIn = nIn / per;
    const nsrOut = ratio(noiseOut, r.sigOut), nsrIn = ratio(noiseIn, r.sigIn);
    layers.push({
      layer: e.name, channels: e.c, m,
      gammaSigma: gammaSigmaStats(e.gamma, e.variance, e.eps),
      rmsOut: Math.sqrt(r.sigOut / numel), rmsIn: Math.sqrt(r.sigIn / numel), fqtRmsIn: Math.sqrt(a.fqtIn / per / numel),
      noiseOut, noiseIn, nsrOut, nsrIn,
      nsrGain: nsrOut === null || nsrIn === null ? null : ratio(nsrIn, nsrOut),
      noiseGain: ratio(noiseIn, noiseOut), predictedNoiseGain: ratio(pred, nOut),
    });
  }
  const warnings = layerWarnings(layers.map((l) => ({ layer: l.layer, rms: l.fqtRmsIn, nsr: l.nsrIn })), opts.growthLimit);
  return { recipe: recipe.label, qatRecipe: qatOf(recipe).label, draws, seed, layers, warnings };
}
