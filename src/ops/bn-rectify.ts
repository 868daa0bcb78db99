/**
 * BN rectification loss — RECONSTRUCTED (METHODS §4.2), not the paper's published formula (that was never
 * released). Why a penalty on γ/σ: BN's backward maps the output gradient dy to dz = (γ/σ)·P·dy with P an
 * orthogonal projection of rank m − 2 (METHODS §4.1), so white quantization noise in dy reaches the BN input
 * with per-element gain (γ/σ)²(1 − 2/m), while the true gradient also loses its components along 𝟙 and ẑ.
 * Penalizing the gain keeps every BN layer from amplifying gradient-quantization noise:
 *   ratio:  R = Σ_l (1/C_l) Σ_c g_{l,c}              g = γ²/(var + ε) = (γ/σ)², σ = BN's own √(var + ε)
 *   hinge:  R = Σ_l (1/C_l) Σ_c max(0, g_{l,c} − τ)
 *   L_total = L_task + λ·R
 * R is computed from the batch statistics BN already computed in its forward (no extra pass over the data)
 * and is one recorded autograd op whose inputs are every BN layer's input z and γ: it is differentiable
 * through γ and through σ, hence through z and the weights of the layer that produced z. With
 * var_c = (1/m)Σ_i (z_i − μ_c)² (biased, as BN normalizes):
 *   ∂R/∂γ_c = w_c · 2γ_c/(var_c + ε)
 *   ∂R/∂z_i = w_c · (−γ_c²/(var_c + ε)²) · 2(z_i − μ_c)/m      (the μ_c path vanishes: Σ_i (z_i − μ_c) = 0)
 * where w_c = f'(g_c)/C_l (1/C_l for ratio; 1/C_l·[g_c > τ] for hinge).
 * The op lives here; collecting the terms from BN taps and adding λ·R to the loss while gradients are quantized
 * is the trainer hook in train/bn-rectify.ts.
 */
import { backend } from '../backend/index.js';
import { record } from '../autograd/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import type { BatchStats } from './norm.js';

/** The penalty's form and weight (validated as the recipe add-on `addons.bnRectify`, quant/addons/bn-rectify.ts). */
export type BnRectifySpec =
  | { form: 'ratio'; lambda: number }
  | { form: 'hinge'; lambda: number; tau: number };

/** One BN layer's contribution: its input z ([n, c] or [n, c, h, w]), γ, ε and (optionally) the batch statistics of z. */
export interface BnRectifyTerm {
  x: Tensor;
  gamma: Tensor;
  eps: number;
  /** The mean / biased variance BN computed from x; recomputed when absent. */
  stats?: BatchStats;
}

export interface BnRectifyValue {
  /** λ·R as a scalar tensor on the tape (add it to the task loss). */
  loss: Tensor;
  /** R itself (the value logged per epoch). */
  penalty: number;
}

/** Per-channel BN noise gain (γ/σ)² = γ²/(var + ε) (METHODS §4.1). */
export function bnGains(gamma: Float32Array, variance: Float32Array, eps: number): Float64Array {
  const g = new Float64Array(gamma.length);
  for (let c = 0; c < g.length; c++) g[c] = (gamma[c] * gamma[c]) / (variance[c] + eps);
  return g;
}

function geometry(x: Tensor): [number, number, number] {
  return [x.shape[0], x.shape[1], x.rank === 4 ? x.shape[2] * x.shape[3] : 1];
}

/** λ·R over the given BN layers (see the file comment), as one differentiable op. */
export function bnRectifyLoss(terms: readonly BnRectifyTerm[], spec: BnRectifySpec): BnRectifyValue {
  check(terms.length > 0, 'bnRectifyLoss: needs at least one BatchNorm layer');
  check(Number.isFinite(spec.lambda) && spec.lambda >= 0, () => `bnRectify.lambda must be a finite number ≥ 0, got ${spec.lambda}`);
  const k = backend();
  const prepared = terms.map((t, i) => {
    check(t.x.rank === 2 || t.x.rank === 4, () => `bnRectifyLoss: term ${i}: input must be [n, c] or [n, c, h, w], got ${fmtShape(t.x.shape)}`);
    const [n, c, hw] = geometry(t.x);
    check(t.gamma.size === c, () => `bnRectifyLoss: term ${i}: input has ${c} channels but γ has ${t.gamma.size}`);
    check(n * hw > 1, () => `bnRectifyLoss: term ${i}: needs more than one value per channel, got input ${fmtShape(t.x.shape)}`);
    check(t.eps > 0, () => `bnRectifyLoss: term ${i}: eps must be > 0, got ${t.eps}`);
    let stats = t.stats;
    if (!stats) {
      stats = { mean: new Float32Array(c), variance: new Float32Array(c) };
      k.channelMoments(t.x.data, n, c, hw, stats.mean, stats.variance);
    }
    check(stats.mean.length === c && stats.variance.length === c, () => `bnRectifyLoss: term ${i}: statistics for ${stats!.mean.length} channels, input has ${c}`);
    return { ...t, n, c, hw, stats, gains: bnGains(t.gamma.data, stats.variance, t.eps) };
  });
  let penalty = 0;
  const weights = prepared.map((p) => {
    const w = new Float64Array(p.c);
    for (let c = 0; c < p.c; c++) {
      const g = p.gains[c];
      if (spec.form === 'ratio') { penalty += g / p.c; w[c] = 1 / p.c; }
      else if (g > spec.tau) { penalty += (g - spec.tau) / p.c; w[c] = 1 / p.c; }
    }
    return w;
  });
  const out = new Tensor(Float32Array.of(spec.lambda * penalty), []);
  const inputs = prepared.flatMap((p) => [p.x, p.gamma]);
  const loss = record(out, 'bnRectify', inputs, (g) => {
    const s = g.data[0] * spec.lambda;
    return prepared.flatMap((p, i) => {
      const w = weights[i], m = p.n * p.hw;
      const dgamma = new Tensor(new Float32Array(p.c), p.gamma.shape);
      const coef = new Float32Array(p.c);
      for (let c = 0; c < p.c; c++) {
        const v = p.stats.variance[c] + p.eps, gm = p.gamma.data[c];
        dgamma.data[c] = (s * w[c] * 2 * gm) / v;
        coef[c] = (s * w[c] * (-(gm * gm) / (v * v)) * 2) / m;
      }
      let dx: Tensor | null = null;
      if (p.x.requiresGrad) {
        // dz = coef_c·(z − μ_c): BN's affine forward kernel with invStd := coef, γ := 1, β := 0.
        dx = new Tensor(new Float32Array(p.x.size), p.x.shape);
        k.batchNormForward(p.x.data, p.n, p.c, p.hw, p.stats.mean, coef, new Float32Array(p.c).fill(1), new Float32Array(p.c), dx.data);
      }
      return [dx, dgamma];
    });
  });
  return { loss, penalty };
}

