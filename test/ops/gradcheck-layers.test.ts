/**
 * Finite-difference checks of the layer ops: GEMMs, conv/im2col, pooling, batch norm, dropout and the
 * loss (method and tolerances: test/helpers/gradcheck.ts).
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import { linear, linearRows, matmul } from '../../src/ops/matmul.js';
import { conv2d, im2col, planesToRows, rowsToPlanes } from '../../src/ops/conv.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../../src/ops/pool.js';
import { batchNorm, dropout } from '../../src/ops/norm.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { Rng } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { distinct, randn, randu } from '../helpers/tensors.js';

describe('gradcheck: GEMMs', () => {
  it('linearRows, linear (with and without bias), matmul', () => {
    gradCheck('linearRows', linearRows, [randn([3, 4], 80), randn([5, 4], 81)]);
    gradCheck('linear + bias', (x, w, b) => linear(x, w, b), [randn([3, 4], 82), randn([5, 4], 83), randn([5], 84)]);
    gradCheck('linear no bias', (x, w) => linear(x, w), [randn([2, 7], 85), randn([3, 7], 86)]);
    gradCheck('matmul', matmul, [randn([3, 4], 87), randn([4, 2], 88)]);
    gradCheck('matmul 1×k·k×1', matmul, [randn([1, 5], 89), randn([5, 1], 90)]);
  });
});

describe('gradcheck: convolution', () => {
  it('conv2d with stride, padding and bias', () => {
    gradCheck('conv2d s2 p1 bias', (x, w, b) => conv2d(x, w, b, { stride: 2, padding: 1 }),
      [randn([2, 3, 5, 5], 91), randn([4, 3, 3, 3], 92, 0.5), randn([4], 93)]);
    gradCheck('conv2d s1 p0', (x, w) => conv2d(x, w, null),
      [randn([1, 2, 4, 5], 94), randn([3, 2, 2, 3], 95, 0.5)]);
    gradCheck('conv2d 1×1 s2', (x, w) => conv2d(x, w, null, { stride: 2 }),
      [randn([2, 3, 5, 5], 96), randn([2, 3, 1, 1], 97)]);
    gradCheck('conv2d s3 p2', (x, w, b) => conv2d(x, w, b, { stride: 3, padding: 2 }),
      [randn([1, 1, 7, 6], 98), randn([2, 1, 4, 4], 99, 0.5), randn([2], 100)]);
  });

  it('im2col', () => {
    gradCheck('im2col k3 s1 p1', (x) => im2col(x, 3, 3, 1, 1), [randn([1, 2, 4, 4], 101)]);
    gradCheck('im2col k2×3 s2 p0', (x) => im2col(x, 2, 3, 2, 0), [randn([2, 1, 5, 6], 102)]);
  });

  it('planesToRows and rowsToPlanes (the GEMM layout changes)', () => {
    gradCheck('planesToRows', planesToRows, [randn([2, 3, 2, 2], 130)]);
    gradCheck('rowsToPlanes', (r) => rowsToPlanes(r, 2, 3), [randn([6, 4], 131)]);
  });
});

describe('gradcheck: pooling', () => {
  it('maxPool2d (distinct values)', () => {
    gradCheck('maxPool2d k2', (x) => maxPool2d(x, 2), [distinct([2, 2, 4, 4], 103)]);
    gradCheck('maxPool2d k3 s2 p1', (x) => maxPool2d(x, 3, 2, 1), [distinct([1, 2, 5, 5], 104)]);
    gradCheck('maxPool2d k3 s1 p1 (overlapping windows)', (x) => maxPool2d(x, 3, 1, 1), [distinct([1, 1, 4, 5], 105)]);
  });

  it('avgPool2d including padding, and globalAvgPool', () => {
    gradCheck('avgPool2d k2', (x) => avgPool2d(x, 2), [randn([2, 2, 4, 4], 106)]);
    gradCheck('avgPool2d k3 s2 p1', (x) => avgPool2d(x, 3, 2, 1), [randn([1, 2, 5, 5], 107)]);
    gradCheck('avgPool2d k3 s1 p1', (x) => avgPool2d(x, 3, 1, 1), [randn([1, 1, 4, 5], 108)]);
    gradCheck('globalAvgPool', globalAvgPool, [randn([2, 3, 3, 2], 109)]);
  });
});

describe('gradcheck: batch norm and dropout', () => {
  const bn = (training: boolean, x: Tensor, g: Tensor, b: Tensor): Tensor => {
    const c = x.shape[1];
    // Fresh running statistics on every call: f must be a pure function of its inputs.
    const state = { runningMean: new Float32Array(c).fill(0.2), runningVar: new Float32Array(c).fill(1.5), momentum: 0.1, eps: 1e-5 };
    return batchNorm(x, g, b, state, training);
  };

  it('train mode: x, gamma, beta ([n, c, h, w] and [n, c])', () => {
    gradCheck('batchNorm train nchw', (x, g, b) => bn(true, x, g, b),
      [randn([3, 2, 2, 3], 110, 1.5, 0.3), randu([2], 111, 0.5, 1.5), randn([2], 112)]);
    gradCheck('batchNorm train nc', (x, g, b) => bn(true, x, g, b),
      [randn([5, 3], 113, 1.5, -0.4), randu([3], 114, 0.5, 1.5), randn([3], 115)]);
  });

  it('eval mode: x, gamma, beta', () => {
    gradCheck('batchNorm eval nchw', (x, g, b) => bn(false, x, g, b),
      [randn([2, 3, 2, 2], 116), randu([3], 117, 0.5, 1.5), randn([3], 118)]);
    gradCheck('batchNorm eval nc', (x, g, b) => bn(false, x, g, b),
      [randn([4, 2], 119), randu([2], 120, 0.5, 1.5), randn([2], 121)]);
  });

  it('dropout with a fixed mask (same seed and stream on every call)', () => {
    gradCheck('dropout p=0.3', (x) => dropout(x, 0.3, true, new Rng(7)), [randn([4, 5], 122)]);
  });
});

describe('gradcheck: cross-entropy', () => {
  const labels = Int32Array.from([2, 0, 3, 3, 1]);
  for (const smoothing of [0, 0.1, 0.3]) {
    it(`crossEntropy with label smoothing ${smoothing}`, () => {
      gradCheck(`crossEntropy ε=${smoothing}`, (z) => crossEntropy(z, labels, smoothing), [randn([5, 4], 123, 2)]);
    });
  }
});
