/**
 * Gradient probes around BatchNorm layers (METHODS §4.1): for every backward pass through a training-mode BN,
 * report the gradient at its output (dy) and the gradient BN passes to its input (dz = BN backward of dy,
 * = (γ/σ)·P·dy), together with the layer's γ, batch statistics and ε. Shared by the `fqt variance` BN
 * diagnostics (stats/bn-noise.ts) and the training monitor (train/bn-diagnostics.ts).
 * The probe is an identity op on the BN output, so attaching it changes no value and no gradient.
 * dz is BN's own contribution; terms added directly to z (the BN rectification penalty) are not in it.
 */
import { backend } from '../backend/index.js';
import { record } from '../autograd/graph.js';
import { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import { BatchNorm, type BatchNormTap } from '../nn/layers.js';

export function bnLayers(model: Module): [string, BatchNorm][] {
  return model.namedModules().filter((e): e is [string, BatchNorm] => e[1] instanceof BatchNorm);
}

/** Per-layer summary of the BN noise gain γ/σ (σ = √(batch var + ε)), METHODS §4.1. */
export interface GammaSigmaStats {
  /** mean over channels of |γ|/σ */
  mean: number;
  max: number;
  /** the channel of `max` */
  maxChannel: number;
  /** fraction of channels with (γ/σ)² > 1 (they amplify white gradient noise) */
  amplifying: number;
  /** mean over channels of (γ/σ)² */
  meanGain: number;
}

export function gammaSigmaStats(gamma: Float32Array, variance: Float32Array, eps: number): GammaSigmaStats {
  const c = gamma.length;
  let sum = 0, max = -Infinity, maxChannel = 0, amp = 0, gain = 0;
  for (let i = 0; i < c; i++) {
    const r = Math.abs(gamma[i]) / Math.sqrt(variance[i] + eps);
    sum += r;
    gain += r * r;
    if (r * r > 1) amp++;
    if (r > max) { max = r; maxChannel = i; }
  }
  return { mean: c ? sum / c : 0, max: c ? max : 0, maxChannel, amplifying: c ? amp / c : 0, meanGain: c ? gain / c : 0 };
}

export interface BnGradEvent {
  /** Index into BnGradProbe.layers. */
  layer: number;
  name: string;
  n: number;
  c: number;
  hw: number;
  /** γ, batch mean and biased variance of the forward this backward belongs to. */
  gamma: Float32Array;
  mean: Float32Array;
  variance: Float32Array;
  eps: number;
  dy: Float32Array;
  dz: Float32Array;
}

/** Σ_{i ∈ channel} (a_i − ref_i)² per channel, added into out (ref null: Σ a_i²). */
export function addChannelEnergy(a: Float32Array, ref: Float32Array | null, n: number, c: number, hw: number, out: Float64Array): void {
  for (let s = 0; s < n; s++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (s * c + ch) * hw;
      let e = 0;
      for (let i = base; i < base + hw; i++) { const d = ref ? a[i] - ref[i] : a[i]; e += d * d; }
      out[ch] += e;
    }
  }
}

export class BnGradProbe {
  readonly layers: [string, BatchNorm][];
  /** Layer indices in the order their forwards first ran (input → loss). */
  readonly forwardOrder: number[] = [];
  private readonly taps: BatchNormTap[];

  constructor(model: Module, private readonly onGrad: (e: BnGradEvent) => void) {
    this.layers = bnLayers(model);
    this.taps = this.layers.map(([name], li) => (x, stats, y, bn) => {
      if (!this.forwardOrder.includes(li)) this.forwardOrder.push(li);
      if (!y.requiresGrad) return;
      const c = x.shape[1], n = x.shape[0], hw = x.rank === 4 ? x.shape[2] * x.shape[3] : 1;
      const gamma = new Float32Array(bn.weight.data), eps = bn.eps;
      const invStd = new Float32Array(c);
      for (let ch = 0; ch < c; ch++) invStd[ch] = 1 / Math.sqrt(stats.variance[ch] + eps);
      const out = new Tensor(y.data, y.shape);
      return record(out, 'bnGradProbe', [y], (g) => {
        const dz = new Float32Array(x.size);
        backend().batchNormBackward(x.data, g.data, n, c, hw, stats.mean, invStd, gamma, dz, new Float32Array(c), new Float32Array(c));
        this.onGrad({ layer: li, name, n, c, hw, gamma, mean: stats.mean, variance: stats.variance, eps, dy: g.data, dz });
        return [g];
      });
    });
  }

  attach(): this {
    this.layers.forEach(([, bn], i) => bn.taps.push(this.taps[i]));
    return this;
  }

  detach(): void {
    this.layers.forEach(([, bn], i) => {
      const at = bn.taps.indexOf(this.taps[i]);
      if (at >= 0) bn.taps.splice(at, 1);
    });
  }
}
