/**
 * Gradient probes around BatchNorm layers (METHODS §4.1): for every backward pass through a training-mode BN,
 * report the gradient at its output (dy) and the gradient BN passes to its input (dz = BN backward of dy,
 * = (γ/σ)·P·dy), together with the layer's γ, batch statistics and ε. Shared by the `fqt variance` BN
 * diagnostics (stats/bn-noise.ts) and the training monitor (train/bn-diagnostics.ts).
 * The probe is an identity op on the BN output (ops/bn-probe.ts), so attaching it changes no value and no gradient.
 * dz is BN's own contribution; terms added directly to z (the BN rectification penalty) are not in it.
 */
import type { Module } from '../nn/module.js';
import { bnBackwardProbe, type BnProbeGrads } from '../ops/bn-probe.js';
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

export interface BnGradEvent extends BnProbeGrads {
  /** Index into BnGradProbe.layers. */
  layer: number;
  name: string;
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
      return bnBackwardProbe(x, stats, y, bn.weight.data, bn.eps, (p) => this.onGrad({ layer: li, name, ...p }));
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
