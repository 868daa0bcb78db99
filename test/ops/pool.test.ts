/** Hand-value tests of max, average and global average pooling. */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import { avgPool2d, globalAvgPool, maxPool2d } from '../../src/ops/pool.js';
import { grad } from '../../src/autograd/graph.js';
import { assertClose, assertShape, assertValues } from '../helpers/approx.js';
import { assertFqtError } from '../helpers/errors.js';
import { leaf, T } from '../helpers/tensors.js';

const range = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => i + from);

describe('pooling forward', () => {
  it('max and average 2×2 pooling', () => {
    const x = T(range(16), [1, 1, 4, 4]);
    assertShape(maxPool2d(x, 2), [1, 1, 2, 2]);
    assertValues(maxPool2d(x, 2), [6, 8, 14, 16]);
    assertValues(avgPool2d(x, 2), [3.5, 5.5, 11.5, 13.5]);
    assertShape(maxPool2d(T(range(2 * 3 * 5 * 5), [2, 3, 5, 5]), 2), [2, 3, 2, 2]);
  });

  it('max pooling ignores padding (negative inputs stay negative)', () => {
    const y = maxPool2d(T(new Array(9).fill(-1), [1, 1, 3, 3]), 3, 1, 1);
    assertValues(y, new Array(9).fill(-1));
  });

  it('average pooling counts padding as zeros in the divisor (count_include_pad)', () => {
    const y = avgPool2d(T([1, 1, 1, 1], [1, 1, 2, 2]), 3, 1, 1);
    assertClose(y, [4 / 9, 4 / 9, 4 / 9, 4 / 9], { rtol: 1e-6 });
    const z = avgPool2d(T(range(9), [1, 1, 3, 3]), 3, 2, 1);
    assertClose(z, [(1 + 2 + 4 + 5) / 9, (2 + 3 + 5 + 6) / 9, (4 + 5 + 7 + 8) / 9, (5 + 6 + 8 + 9) / 9], { rtol: 1e-6 });
  });

  it('global average pooling: [n, c, h, w] → [n, c]', () => {
    const y = globalAvgPool(T(range(12), [1, 2, 2, 3]));
    assertShape(y, [1, 2]);
    assertValues(y, [3.5, 9.5]);
  });
});

describe('pooling backward (hand values)', () => {
  it('max pooling routes each gradient to its arg max, overlapping windows accumulate', () => {
    const x = leaf(T(range(16), [1, 1, 4, 4]));
    assertValues(grad(maxPool2d(x, 2), T([1, 2, 3, 4], [1, 1, 2, 2])).get(x)!,
      [0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 0, 3, 0, 4]);
    const y = leaf(T([0, 0, 0, 0, 9, 0, 0, 0, 0], [1, 1, 3, 3]));
    // Every 2×2 window with stride 1 contains the centre.
    assertValues(grad(maxPool2d(y, 2, 1), T([1, 1, 1, 1], [1, 1, 2, 2])).get(y)!, [0, 0, 0, 0, 4, 0, 0, 0, 0]);
  });

  it('average pooling spreads g/k² over each window, padding included in k²', () => {
    const x = leaf(T(range(4), [1, 1, 2, 2]));
    assertClose(grad(avgPool2d(x, 3, 1, 1), T([1, 1, 1, 1], [1, 1, 2, 2])).get(x)!, [4 / 9, 4 / 9, 4 / 9, 4 / 9], { rtol: 1e-6 });
    const y = leaf(T(range(16), [1, 1, 4, 4]));
    assertValues(grad(avgPool2d(y, 2), T([4, 8, 12, 16], [1, 1, 2, 2])).get(y)!,
      [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  });

  it('global average pooling', () => {
    const x = leaf(T(range(8), [1, 2, 2, 2]));
    assertValues(grad(globalAvgPool(x), T([4, 8], [1, 2])).get(x)!, [1, 1, 1, 1, 2, 2, 2, 2]);
  });
});

describe('pooling errors', () => {
  it('name the op and the shape or the window', () => {
    const x = T(range(16), [1, 1, 4, 4]);
    assertFqtError(() => maxPool2d(T(range(16), [1, 4, 4]), 2), 'maxPool2d', '[1, 4, 4]');
    assertFqtError(() => avgPool2d(T(range(16), [4, 4]), 2), 'avgPool2d', '[4, 4]');
    assertFqtError(() => globalAvgPool(T(range(16), [1, 4, 4])), 'globalAvgPool', '[1, 4, 4]');
    assertFqtError(() => maxPool2d(x, 5), 'maxPool2d', '5×5', '[1, 1, 4, 4]');
    assertFqtError(() => maxPool2d(x, 0), 'maxPool2d', 'kernel 0');
    assertFqtError(() => avgPool2d(x, 2, 0), 'avgPool2d', 'stride 0');
    assertFqtError(() => maxPool2d(x, 2, 2, 2), 'maxPool2d', 'padding 2');
  });

  it('a fractional padding is rejected, not turned into NaN outputs', () => {
    const x = T([1, 1, 1, 1], [1, 1, 2, 2]);
    assertFqtError(() => avgPool2d(x, 2, 1, 0.5), 'avgPool2d', 'padding 0.5');
    assertFqtError(() => maxPool2d(x, 2, 1, 0.5), 'maxPool2d', 'padding 0.5');
  });
});
