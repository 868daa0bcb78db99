/** Hand-value tests of the reductions (sum, mean, max, variance over axes). */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import { max, mean, sum, variance } from '../../src/ops/reduce.js';
import { grad } from '../../src/autograd/graph.js';
import { assertClose, assertShape, assertValues } from '../helpers/approx.js';
import { assertFqtError } from '../helpers/errors.js';
import { leaf, T } from '../helpers/tensors.js';

const M = (): ReturnType<typeof T> => T([1, 2, 3, 4, 5, 6], [2, 3]);

describe('reductions forward', () => {
  it('sum over all, one axis, negative axis, keepDims, several axes, no axis', () => {
    assertShape(sum(M()), []);
    assertValues(sum(M()), [21]);
    assertValues(sum(M(), 0), [5, 7, 9]);
    assertValues(sum(M(), -1), [6, 15]);
    assertShape(sum(M(), 1, true), [2, 1]);
    assertShape(sum(M(), [0, 1], true), [1, 1]);
    const x3 = T([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2]);
    assertValues(sum(x3, [0, 2]), [1 + 2 + 5 + 6, 3 + 4 + 7 + 8]);
    assertValues(sum(x3, [2, 0, 2]), [14, 22]); // duplicates and order do not matter
    assertValues(sum(M(), []), [1, 2, 3, 4, 5, 6]);
  });

  it('mean, max, variance (biased)', () => {
    assertValues(mean(M()), [3.5]);
    assertValues(mean(M(), 1), [2, 5]);
    assertValues(max(M(), 0), [4, 5, 6]);
    assertValues(max(T([-3, -1, -2], [3])), [-1]);
    assertClose(variance(M(), 1), [2 / 3, 2 / 3], { rtol: 1e-6 });
    assertValues(variance(M(), 0), [2.25, 2.25, 2.25]);
    assertShape(variance(M(), 0, true), [1, 3]);
  });
});

describe('reductions backward (hand values)', () => {
  it('sum and mean broadcast the gradient back', () => {
    const x = leaf(M());
    assertValues(grad(sum(x, 0), T([1, 2, 3], [3])).get(x)!, [1, 2, 3, 1, 2, 3]);
    assertValues(grad(mean(x, 1), T([3, 6], [2])).get(x)!, [1, 1, 1, 2, 2, 2]);
    assertValues(grad(sum(x)).get(x)!, [1, 1, 1, 1, 1, 1]);
  });

  it('max sends the gradient to the arg max', () => {
    const x = leaf(T([1, 9, 3, 7, 2, 8], [2, 3]));
    assertValues(grad(max(x, 1), T([1, 2], [2])).get(x)!, [0, 1, 0, 0, 0, 2]);
  });

  it('max with ties shares the gradient equally among the maxima (as PyTorch amax)', () => {
    const x = leaf(T([1, 3, 3], [3]));
    const g = grad(max(x)).get(x)!;
    // The gradient of a max must still sum to the upstream gradient (1), whatever the ties.
    assertValues(g, [0, 0.5, 0.5]);
    const y = leaf(T([5, 5, 5, 5, 1, 2], [2, 3]));
    assertValues(grad(max(y, 1), T([3, 4], [2])).get(y)!, [1, 1, 1, 4, 0, 0]);
  });

  it('variance: d/dx = 2(x − mean)/n', () => {
    const x = leaf(T([1, 2, 6], [3]));
    assertClose(grad(variance(x)).get(x)!, [2 * (1 - 3) / 3, 2 * (2 - 3) / 3, 2 * (6 - 3) / 3], { rtol: 1e-6 });
  });
});

describe('reduction errors', () => {
  it('an axis out of range names the op, the axis and the rank', () => {
    assertFqtError(() => sum(M(), 2), 'sum', 'axis 2', 'rank 2');
    assertFqtError(() => mean(M(), -3), 'mean', 'axis -3');
    assertFqtError(() => max(M(), [0, 5]), 'max', 'axis 5');
    assertFqtError(() => variance(M(), 1.5), 'variance', 'axis 1.5');
  });
});
