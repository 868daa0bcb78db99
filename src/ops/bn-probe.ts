/**
 * An identity op on a BatchNorm output y that, in the backward pass, also computes the gradient BN passes to its
 * input (dz = BN backward of dy = (γ/σ)·P·dy, METHODS §4.1) and hands dy and dz to a callback. It changes no value
 * and no gradient; stats/bn-probe.ts attaches it to BN layers for the noise diagnostics.
 */
import { backend } from '../backend/index.js';
import { record } from '../autograd/graph.js';
import { Tensor } from '../tensor/tensor.js';
import type { BatchStats } from './norm.js';

export interface BnProbeGrads {
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

/** y = BN(x) with batch statistics `stats`, γ and ε; returns y as a new tape node whose backward reports. */
export function bnBackwardProbe(x: Tensor, stats: BatchStats, y: Tensor, gammaData: Float32Array, eps: number,
  onGrad: (g: BnProbeGrads) => void): Tensor {
  const c = x.shape[1], n = x.shape[0], hw = x.rank === 4 ? x.shape[2] * x.shape[3] : 1;
  const gamma = new Float32Array(gammaData);
  const invStd = new Float32Array(c);
  for (let ch = 0; ch < c; ch++) invStd[ch] = 1 / Math.sqrt(stats.variance[ch] + eps);
  return record(new Tensor(y.data, y.shape), 'bnGradProbe', [y], (g) => {
    const dz = new Float32Array(x.size);
    backend().batchNormBackward(x.data, g.data, n, c, hw, stats.mean, invStd, gamma, dz, new Float32Array(c), new Float32Array(c));
    onGrad({ n, c, hw, gamma, mean: stats.mean, variance: stats.variance, eps, dy: g.data, dz });
    return [g];
  });
}
