/**
 * Layers. Linear and Conv2d run their GEMMs through a replaceable `gemm` slot: fp32 `linearRows` by
 * default; `applyRecipe` (quant/) installs a quantized GEMM there, so modules never change class.
 */
import { Module } from './module.js';
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import type { Rng } from '../tensor/random.js';
import { linear, linearRows } from '../ops/matmul.js';
import { conv2d, type LayerGemm } from '../ops/conv.js';
import { batchNorm, type BatchStats, dropout } from '../ops/norm.js';
import { prelu, relu } from '../ops/elementwise.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../ops/pool.js';
import { flatten } from '../ops/movement.js';
import { fanInUniform, kaimingNormal } from './init.js';

/**
 * The three GEMMs of a layer as one differentiable op: Y[rows,out] = X[rows,in] · W[out,in]ᵀ (ops/conv.ts).
 * `rowsPerSample` (default 1): each sample owns that many consecutive rows (oh·ow for a conv).
 */
export type { LayerGemm };

/** A layer whose GEMMs can be quantized (Linear, Conv2d). */
export abstract class GemmLayer extends Module {
  gemm: LayerGemm = linearRows;
  abstract readonly weight: Tensor;

  /**
   * A parameter a recipe adds to the layer (e.g. the binary output scale a_c, METHODS §3.2): registered like
   * the layer's own, so it is in the state dict, checkpoints and the optimizer. Returns the existing one when
   * the name is taken (applying a recipe twice).
   */
  attachParameter(name: string, data: Float32Array, shape: number[]): Tensor {
    const existing = this.namedParameters().find(([n]) => n === name);
    if (existing) {
      check(existing[1].size === data.length, () => `parameter '${name}' exists with shape ${fmtShape(existing[1].shape)}, not ${fmtShape(shape)}`);
      return existing[1];
    }
    return this.addParameter(name, data, shape);
  }
}

export class Linear extends GemmLayer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, rng: Rng, opts: { bias?: boolean } = {}) {
    super();
    this.weight = this.addParameter('weight', kaimingNormal(rng, outFeatures * inFeatures, inFeatures), [outFeatures, inFeatures]);
    this.bias = opts.bias === false ? null : this.addParameter('bias', fanInUniform(rng, outFeatures, inFeatures), [outFeatures]);
  }

  forward(x: Tensor): Tensor {
    check(x.rank === 2 && x.shape[1] === this.inFeatures, () => `Linear(${this.inFeatures} → ${this.outFeatures}): input ${fmtShape(x.shape)} should be [batch, ${this.inFeatures}]`);
    return linear(x, this.weight, this.bias, this.gemm);
  }
}

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
  bias?: boolean;
}

export class Conv2d extends GemmLayer {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;

  constructor(readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number, rng: Rng, opts: Conv2dOptions = {}) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const fanIn = inChannels * kernelSize * kernelSize;
    this.weight = this.addParameter('weight', kaimingNormal(rng, outChannels * fanIn, fanIn), [outChannels, inChannels, kernelSize, kernelSize]);
    this.bias = opts.bias ? this.addParameter('bias', fanInUniform(rng, outChannels, fanIn), [outChannels]) : null;
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding }, this.gemm);
  }
}

/**
 * Observer of a training-mode BatchNorm forward: the input x, the batch statistics BN computed from it and the
 * output y. A tap may return a replacement output (an identity op that records the gradient reaching y).
 * Used by the BN rectification loss (train/bn-rectify.ts) and the BN noise probe (stats/bn-probe.ts).
 */
export type BatchNormTap = (x: Tensor, stats: BatchStats, y: Tensor, bn: BatchNorm) => Tensor | void;

/** BatchNorm over [n, c] (1d) or [n, c, h, w] (2d). Keeps the last batch statistics for diagnostics. */
export class BatchNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly runningMean: Tensor;
  readonly runningVar: Tensor;
  lastStats: BatchStats | null = null;
  /** Called in order after every training-mode forward (see BatchNormTap). */
  readonly taps: BatchNormTap[] = [];

  constructor(readonly channels: number, readonly opts: { momentum?: number; eps?: number } = {}) {
    super();
    this.weight = this.addParameter('weight', new Float32Array(channels).fill(1), [channels]);
    this.bias = this.addParameter('bias', new Float32Array(channels), [channels]);
    this.runningMean = this.addBuffer('running_mean', new Float32Array(channels), [channels]);
    this.runningVar = this.addBuffer('running_var', new Float32Array(channels).fill(1), [channels]);
  }

  get eps(): number { return this.opts.eps ?? 1e-5; }

  forward(x: Tensor): Tensor {
    const state = { runningMean: this.runningMean.data, runningVar: this.runningVar.data, momentum: this.opts.momentum ?? 0.1, eps: this.eps };
    let stats = null as BatchStats | null;
    let y = batchNorm(x, this.weight, this.bias, state, this.training, (s) => { this.lastStats = stats = s; });
    if (stats) for (const tap of this.taps) y = tap(x, stats, y, this) ?? y;
    return y;
  }
}

export class ReLU extends Module {
  forward(x: Tensor): Tensor { return relu(x); }
}

/** PReLU with one learnable slope per channel (init 0.25, as PyTorch). */
export class PReLU extends Module {
  readonly weight: Tensor;

  constructor(channels: number) {
    super();
    this.weight = this.addParameter('weight', new Float32Array(channels).fill(0.25), [channels]);
  }

  forward(x: Tensor): Tensor { return prelu(x, this.weight); }
}

export class MaxPool2d extends Module {
  constructor(readonly k: number, readonly stride = k, readonly padding = 0) { super(); }
  forward(x: Tensor): Tensor { return maxPool2d(x, this.k, this.stride, this.padding); }
}

export class AvgPool2d extends Module {
  constructor(readonly k: number, readonly stride = k, readonly padding = 0) { super(); }
  forward(x: Tensor): Tensor { return avgPool2d(x, this.k, this.stride, this.padding); }
}

export class GlobalAvgPool extends Module {
  forward(x: Tensor): Tensor { return globalAvgPool(x); }
}

export class Flatten extends Module {
  forward(x: Tensor): Tensor { return flatten(x, 1); }
}

export class Identity extends Module {
  forward(x: Tensor): Tensor { return x; }
}

export class Dropout extends Module {
  constructor(readonly p: number, private readonly rng: Rng) { super(); }
  forward(x: Tensor): Tensor { return dropout(x, this.p, this.training, this.rng); }
}

export class Sequential extends Module {
  private readonly layers: Module[];

  constructor(...layers: Module[]) {
    super();
    this.layers = layers;
    layers.forEach((m, i) => this.addModule(String(i), m));
  }

  forward(x: Tensor): Tensor { return this.layers.reduce((h, m) => m.forward(h), x); }
}
