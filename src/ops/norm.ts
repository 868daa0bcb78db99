/** Batch normalisation (train/eval with running statistics) and dropout. */
import { backend } from '../backend/index.js';
import { record } from '../autograd/graph.js';
import { savedValues } from '../autograd/saved.js';
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import type { Rng } from '../tensor/random.js';
import { mul } from './elementwise.js';
import { empty, uninit } from './util.js';

export interface BatchNormState {
  runningMean: Float32Array;
  runningVar: Float32Array;
  momentum: number;
  eps: number;
}

/** Batch statistics of the last training-mode call, for diagnostics (BN noise gain γ/σ, METHODS §4). */
export interface BatchStats {
  mean: Float32Array;
  variance: Float32Array;
}

/**
 * x: [n, c] or [n, c, h, w]. Training: normalise with batch statistics (biased variance) and update the
 * running ones with the unbiased variance (PyTorch semantics). Eval: normalise with running statistics.
 */
export function batchNorm(x: Tensor, gamma: Tensor, beta: Tensor, state: BatchNormState, training: boolean,
  statsOut?: (s: BatchStats) => void): Tensor {
  check(x.rank === 2 || x.rank === 4, () => `batchNorm: input must be [n, c] or [n, c, h, w], got ${fmtShape(x.shape)}`);
  const [n, c] = x.shape;
  const hw = x.rank === 4 ? x.shape[2] * x.shape[3] : 1;
  check(gamma.size === c && beta.size === c && state.runningMean.length === c,
    () => `batchNorm: input has ${c} channels but the layer has ${gamma.size}`);
  const m = n * hw;
  const mean = new Float32Array(c), variance = new Float32Array(c), invStd = new Float32Array(c);
  const k = backend();
  if (training) {
    check(m > 1, () => `batchNorm: training needs more than one value per channel, got input ${fmtShape(x.shape)}`);
    k.channelMoments(x.data, n, c, hw, mean, variance);
    const unbias = m / (m - 1);
    for (let ch = 0; ch < c; ch++) {
      state.runningMean[ch] = (1 - state.momentum) * state.runningMean[ch] + state.momentum * mean[ch];
      state.runningVar[ch] = (1 - state.momentum) * state.runningVar[ch] + state.momentum * variance[ch] * unbias;
    }
    statsOut?.({ mean, variance });
  } else {
    mean.set(state.runningMean);
    variance.set(state.runningVar);
  }
  for (let ch = 0; ch < c; ch++) invStd[ch] = 1 / Math.sqrt(variance[ch] + state.eps);
  const out = uninit(x.shape); // batchNormForward / Backward write every element of out and dx
  k.batchNormForward(x.data, n, c, hw, mean, invStd, gamma.data, beta.data, out.data);
  return record(out, 'batchNorm', [x, gamma, beta], batchNormBackward(savedValues(x), x.shape, gamma, mean, invStd, training));
}

/**
 * The backward of batchNorm, built outside its forward so the closure's context holds only these arguments (a
 * closure shares its context with every other closure of the function that creates it, and the forward's error
 * messages capture x): it keeps x's values, or how to recompute them (autograd/saved.ts), never x itself.
 */
function batchNormBackward(xValues: () => Float32Array, xShape: readonly number[], gamma: Tensor, mean: Float32Array,
  invStd: Float32Array, training: boolean): (g: Tensor) => Tensor[] {
  const [n, c] = xShape;
  const hw = xShape.length === 4 ? xShape[2] * xShape[3] : 1;
  const m = n * hw, size = n * c * hw;
  return (g) => {
    const k = backend();
    const dx = uninit(xShape), dgamma = empty(gamma.shape), dbeta = empty([c]);
    const xd = xValues();
    if (training) {
      k.batchNormBackward(xd, g.data, n, c, hw, mean, invStd, gamma.data, dx.data, dgamma.data, dbeta.data);
    } else {
      // Eval mode is an affine map per channel: dx = g·γ·invStd; dγ = Σ g·x̂; dβ = Σ g.
      const zero = new Float32Array(c);
      const ones = new Float32Array(c).fill(1);
      const xhat = empty(xShape);
      k.batchNormForward(xd, n, c, hw, mean, invStd, ones, zero, xhat.data);
      const scaleV = new Float32Array(c);
      for (let ch = 0; ch < c; ch++) scaleV[ch] = gamma.data[ch] * invStd[ch];
      k.batchNormForward(g.data, n, c, hw, zero, scaleV, ones, zero, dx.data);
      const gx = empty(xShape);
      k.binary('mul', g.data, Int32Array.of(1), xhat.data, Int32Array.of(1), Int32Array.of(size), gx.data);
      // Per-channel sums = m · per-channel means.
      const scratch = new Float32Array(c);
      k.channelMoments(gx.data, n, c, hw, dgamma.data, scratch);
      k.channelMoments(g.data, n, c, hw, dbeta.data, scratch);
      for (let ch = 0; ch < c; ch++) { dgamma.data[ch] *= m; dbeta.data[ch] *= m; }
    }
    return [dx, dgamma, dbeta];
  };
}

/** Inverted dropout with a mask from the counter RNG (one fresh stream per call). */
export function dropout(x: Tensor, p: number, training: boolean, rng: Rng): Tensor {
  check(p >= 0 && p < 1, () => `dropout: probability must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const mask = empty(x.shape);
  backend().dropoutMask(rng.seed, rng.next(), p, mask.data);
  return mul(x, mask);
}
