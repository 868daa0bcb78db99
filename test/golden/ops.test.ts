/**
 * fqt vs PyTorch 1.13 on conv2d, batch norm, pooling and cross-entropy (fixtures from tools/golden/gen.py).
 *
 * Tolerances. The fixtures are exact (float64) answers rounded once to float32. fqt stores float32 and
 * accumulates in float64, so each value differs by a few float32 roundings of its terms: for a sum of K
 * products that is ≲ K·ε·Σ|terms| in the worst case (ε = 6·10⁻⁸) and ~√K·ε·Σ|terms| typically. With
 * K ≤ 75 and unit-scale data, a bound of atol 1e-5 (absolute, values O(1..10)) plus rtol 1e-5 is
 * ≥ 10× the observed error, while any indexing or formula bug gives O(1) errors.
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { conv2d } from '../../src/ops/conv.js';
import { batchNorm } from '../../src/ops/norm.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../../src/ops/pool.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { grad } from '../../src/autograd/graph.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, assertShape, type Tolerance } from '../helpers/approx.js';
import { f32, loadFixture, type TensorJson, toTensor } from './fixtures.js';

const TOL: Tolerance = { atol: 1e-5, rtol: 1e-5 };

function expectTensor(actual: Tensor | undefined, expected: TensorJson, what: string, tol = TOL): void {
  assert.ok(actual, `${what}: missing`);
  assertShape(actual, expected.shape, what);
  assertClose(actual, expected.data, tol, what);
}

interface ConvCase { name: string; stride: number; padding: number; x: TensorJson; w: TensorJson; b?: TensorJson; y: TensorJson; gy: TensorJson; dx: TensorJson; dw: TensorJson; db?: TensorJson }
interface BnCase {
  name: string; training: boolean; momentum: number; eps: number; x: TensorJson; gamma: TensorJson; beta: TensorJson;
  running_mean_before: TensorJson; running_var_before: TensorJson; running_mean_after: TensorJson; running_var_after: TensorJson;
  y: TensorJson; gy: TensorJson; dx: TensorJson; dgamma: TensorJson; dbeta: TensorJson;
}
interface PoolCase { name: string; kind: 'max' | 'avg' | 'global'; k: number; stride: number; padding: number; x: TensorJson; y: TensorJson; gy: TensorJson; dx: TensorJson }
interface CeCase { name: string; smoothing: number; logits: TensorJson; labels: number[]; loss: number; dlogits: TensorJson }

describe('golden: conv2d (forward, dx, dw, db)', () => {
  for (const c of loadFixture<{ cases: ConvCase[] }>('conv2d.json').cases) {
    it(c.name, () => {
      const x = toTensor(c.x, true), w = toTensor(c.w, true), b = c.b ? toTensor(c.b, true) : null;
      const y = conv2d(x, w, b, { stride: c.stride, padding: c.padding });
      expectTensor(y, c.y, 'y');
      const g = grad(y, toTensor(c.gy));
      expectTensor(g.get(x), c.dx, 'dx');
      expectTensor(g.get(w), c.dw, 'dw');
      if (b) expectTensor(g.get(b), c.db!, 'db');
    });
  }
});

describe('golden: batch norm (train with running-stat update, eval)', () => {
  for (const c of loadFixture<{ cases: BnCase[] }>('batchnorm.json').cases) {
    it(c.name, () => {
      const x = toTensor(c.x, true), gamma = toTensor(c.gamma, true), beta = toTensor(c.beta, true);
      const state = { runningMean: f32(c.running_mean_before), runningVar: f32(c.running_var_before), momentum: c.momentum, eps: c.eps };
      const y = batchNorm(x, gamma, beta, state, c.training);
      expectTensor(y, c.y, 'y');
      assertClose(state.runningMean, c.running_mean_after.data, TOL, 'running_mean');
      assertClose(state.runningVar, c.running_var_after.data, TOL, 'running_var');
      const g = grad(y, toTensor(c.gy));
      expectTensor(g.get(x), c.dx, 'dx');
      expectTensor(g.get(gamma), c.dgamma, 'dgamma');
      expectTensor(g.get(beta), c.dbeta, 'dbeta');
    });
  }
});

describe('golden: pooling (forward and dx)', () => {
  for (const c of loadFixture<{ cases: PoolCase[] }>('pool.json').cases) {
    it(c.name, () => {
      const x = toTensor(c.x, true);
      const y = c.kind === 'max' ? maxPool2d(x, c.k, c.stride, c.padding)
        : c.kind === 'avg' ? avgPool2d(x, c.k, c.stride, c.padding) : globalAvgPool(x);
      expectTensor(y, c.y, 'y');
      expectTensor(grad(y, toTensor(c.gy)).get(x), c.dx, 'dx');
    });
  }
});

describe('golden: cross-entropy with label smoothing (loss and dlogits)', () => {
  for (const c of loadFixture<{ cases: CeCase[] }>('cross_entropy.json').cases) {
    it(c.name, () => {
      const logits = toTensor(c.logits, true);
      const loss = crossEntropy(logits, Int32Array.from(c.labels), c.smoothing);
      // One float32 rounding of the per-sample losses and of their mean.
      assertClose([loss.item()], [c.loss], { rtol: 1e-6, atol: 1e-7 }, 'loss');
      expectTensor(grad(loss).get(logits), c.dlogits, 'dlogits', { atol: 1e-7, rtol: 1e-5 });
    });
  }
});
