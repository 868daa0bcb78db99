/** Hand-value tests of batch norm (train / eval, running statistics) and dropout. */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { batchNorm, type BatchNormState, dropout } from '../../src/ops/norm.js';
import { grad } from '../../src/autograd/graph.js';
import { Rng } from '../../src/tensor/random.js';
import { assertClose, assertShape } from '../helpers/approx.js';
import { assertFqtError } from '../helpers/errors.js';
import { leaf, randn, T } from '../helpers/tensors.js';

const state = (c: number, mean = 0, variance = 1): BatchNormState => ({
  runningMean: new Float32Array(c).fill(mean), runningVar: new Float32Array(c).fill(variance), momentum: 0.1, eps: 1e-5,
});

describe('batchNorm', () => {
  it('training: normalises with the biased batch variance and updates running stats with the unbiased one', () => {
    const st = state(2);
    // channel 0: [1, 3] (mean 2, var 1); channel 1: [10, 10] (mean 10, var 0)
    const y = batchNorm(T([1, 10, 3, 10], [2, 2]), T([2, 1], [2]), T([0.5, -1], [2]), st, true);
    const s = 1 / Math.sqrt(1 + 1e-5);
    assertClose(y, [-2 * s + 0.5, -1, 2 * s + 0.5, -1], { rtol: 1e-6 });
    assertClose(st.runningMean, [0.9 * 0 + 0.1 * 2, 0.1 * 10], { rtol: 1e-6 });
    // unbiased variance of [1, 3] is 2; of [10, 10] is 0
    assertClose(st.runningVar, [0.9 * 1 + 0.1 * 2, 0.9], { rtol: 1e-6 });
  });

  it('training over [n, c, h, w] pools the batch and spatial axes per channel', () => {
    const st = state(2);
    const x = T([1, 2, 3, 4, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0, 0, 8], [2, 2, 2, 2]);
    const stats: { mean?: Float32Array; variance?: Float32Array } = {};
    batchNorm(x, T([1, 1], [2]), T([0, 0], [2]), st, true, (s) => Object.assign(stats, s));
    assertClose(stats.mean!, [4.5, 1], { rtol: 1e-6 });
    assertClose(stats.variance!, [5.25, 7], { rtol: 1e-6 });
    assertClose(st.runningVar, [0.9 + 0.1 * 5.25 * 8 / 7, 0.9 + 0.1 * 8], { rtol: 1e-6 });
  });

  it('eval: uses the running statistics and leaves them unchanged', () => {
    const st = state(1, 1, 4);
    const y = batchNorm(T([1, 3, 5], [3, 1]), T([2], [1]), T([1], [1]), st, false);
    const s = 2 / Math.sqrt(4 + 1e-5);
    assertClose(y, [1, 2 * s + 1, 4 * s + 1], { rtol: 1e-6 });
    assert.deepEqual(Array.from(st.runningMean), [1]);
    assert.deepEqual(Array.from(st.runningVar), [4]);
    // One value per channel is fine in eval mode.
    assertShape(batchNorm(T([1], [1, 1]), T([1], [1]), T([0], [1]), st, false), [1, 1]);
  });

  it('backward in training mode: the normalised output is invariant to shifts, so Σ dx = 0', () => {
    const x = leaf(randn([4, 3], 1)), g = leaf(T([1, 2, 3], [3])), b = leaf(T([0, 0, 0], [3]));
    const grads = grad(batchNorm(x, g, b, state(3), true), randn([4, 3], 2));
    const dx = grads.get(x)!.data;
    for (let c = 0; c < 3; c++) {
      const colSum = dx[c] + dx[3 + c] + dx[6 + c] + dx[9 + c];
      assert.ok(Math.abs(colSum) < 1e-5, `Σ dx over channel ${c} = ${colSum}`);
    }
  });

  it('backward in eval mode is the per-channel affine map', () => {
    const x = leaf(T([1, 3], [2, 1])), g = leaf(T([2], [1])), b = leaf(T([0], [1]));
    const grads = grad(batchNorm(x, g, b, state(1, 1, 3), false), T([1, 1], [2, 1]));
    const s = 1 / Math.sqrt(3 + 1e-5);
    assertClose(grads.get(x)!, [2 * s, 2 * s], { rtol: 1e-6 });
    assertClose(grads.get(g)!, [(0 + 2) * s], { rtol: 1e-6 });
    assertClose(grads.get(b)!, [2], { rtol: 1e-6 });
  });

  it('errors name batchNorm and the shape', () => {
    assertFqtError(() => batchNorm(T([1, 2, 3], [1, 3, 1]), T([1, 1, 1], [3]), T([0, 0, 0], [3]), state(3), true), 'batchNorm', '[1, 3, 1]');
    assertFqtError(() => batchNorm(T([1, 2], [1, 2]), T([1, 1], [2]), T([0, 0], [2]), state(2), true), 'batchNorm', 'more than one value', '[1, 2]');
    assertFqtError(() => batchNorm(T([1, 2, 3, 4], [2, 2]), T([1, 1, 1], [3]), T([0, 0, 0], [3]), state(3), true), 'batchNorm', '2 channels', '3');
  });
});

describe('dropout', () => {
  it('is the identity in eval mode and for p = 0', () => {
    const x = randn([3, 3], 3);
    assert.equal(dropout(x, 0.5, false, new Rng(1)), x);
    assert.equal(dropout(x, 0, true, new Rng(1)), x);
  });

  it('keeps each value with probability 1 − p and scales it by 1/(1 − p); same seed, same mask', () => {
    const x = T(new Array(20000).fill(1), [20000]);
    const y = dropout(x, 0.25, true, new Rng(42));
    let kept = 0;
    for (const v of y.data) {
      assert.ok(v === 0 || Math.abs(v - 1 / 0.75) < 1e-6, `dropout output ${v}`);
      if (v !== 0) kept++;
    }
    // Binomial(20000, 0.75): sd ≈ 61, so ±400 is > 6 sd.
    assert.ok(Math.abs(kept - 15000) < 400, `kept ${kept} of 20000`);
    assert.deepEqual(dropout(x, 0.25, true, new Rng(42)).data, y.data);
    assert.notDeepEqual(dropout(x, 0.25, true, new Rng(43)).data, y.data);
    // Successive calls draw fresh streams.
    const rng = new Rng(42);
    assert.notDeepEqual(dropout(x, 0.25, true, rng).data, dropout(x, 0.25, true, rng).data);
  });

  it('the gradient is the mask', () => {
    const x = leaf(T(new Array(100).fill(2), [100]));
    const y = dropout(x, 0.5, true, new Rng(5));
    const g = grad(y, T(new Array(100).fill(1), [100])).get(x)!;
    for (let i = 0; i < 100; i++) assert.equal(g.data[i], y.data[i] / 2);
  });

  it('rejects p outside [0, 1)', () => {
    assertFqtError(() => dropout(T([1], [1]), 1, true, new Rng(1)), 'dropout', '1');
    assertFqtError(() => dropout(T([1], [1]), -0.1, true, new Rng(1)), 'dropout', '-0.1');
  });
});
