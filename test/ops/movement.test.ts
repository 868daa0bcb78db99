/** Hand-value tests of reshape, flatten, permute, transpose, slice, pad and concat. */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { concat, flatten, pad, permute, reshape, slice, transpose } from '../../src/ops/movement.js';
import { grad } from '../../src/autograd/graph.js';
import { assertShape, assertValues } from '../helpers/approx.js';
import { assertFqtError } from '../helpers/errors.js';
import { leaf, T } from '../helpers/tensors.js';

const X = (): ReturnType<typeof T> => T([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], [2, 3, 2]);

describe('movement forward', () => {
  it('reshape (with one -1) and flatten keep the row-major order', () => {
    const r = reshape(X(), [3, -1]);
    assertShape(r, [3, 4]);
    assertValues(r, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    assertShape(reshape(X(), [12]), [12]);
    assertShape(flatten(X()), [2, 6]);
    assertShape(flatten(X(), 0), [12]);
    assertShape(flatten(X(), -1), [2, 3, 2]);
    assertShape(reshape(T([], [0, 3]), [3, 0]), [3, 0]);
  });

  it('permute and transpose', () => {
    const p = permute(X(), [2, 0, 1]);
    assertShape(p, [2, 2, 3]);
    // p[k][i][j] = x[i][j][k]
    assertValues(p, [0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11]);
    const t = transpose(T([1, 2, 3, 4, 5, 6], [2, 3]));
    assertShape(t, [3, 2]);
    assertValues(t, [1, 4, 2, 5, 3, 6]);
    assertShape(transpose(X()), [2, 2, 3]);
  });

  it('slice (ends exclusive, missing axes whole)', () => {
    const s = slice(X(), [1, 1], [2, 3]);
    assertShape(s, [1, 2, 2]);
    assertValues(s, [8, 9, 10, 11]);
    assertShape(slice(X(), [0, 1, 1], [2, 1, 2]), [2, 0, 1]);
  });

  it('pad with zeros', () => {
    const p = pad(T([1, 2, 3, 4], [2, 2]), [[1, 0], [0, 2]]);
    assertShape(p, [3, 4]);
    assertValues(p, [0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0]);
  });

  it('concat along an inner axis and a negative axis', () => {
    const c = concat([T([1, 2, 3, 4], [2, 2]), T([5, 6], [2, 1])], 1);
    assertShape(c, [2, 3]);
    assertValues(c, [1, 2, 5, 3, 4, 6]);
    assertValues(concat([T([1, 2], [1, 2]), T([3, 4], [1, 2])], -2), [1, 2, 3, 4]);
  });
});

describe('movement backward (hand values)', () => {
  it('slice scatters into zeros, pad crops, concat splits, permute inverts', () => {
    const x = leaf(T([1, 2, 3, 4, 5, 6], [2, 3]));
    assertValues(grad(slice(x, [0, 1], [2, 3]), T([1, 2, 3, 4], [2, 2])).get(x)!, [0, 1, 2, 0, 3, 4]);
    assertValues(grad(pad(x, [[0, 1], [1, 0]]), T([...Array(12).keys()], [3, 4])).get(x)!, [1, 2, 3, 5, 6, 7]);
    const y = leaf(T([7, 8], [2, 1]));
    const g = grad(concat([x, y], 1), T([1, 2, 3, 4, 5, 6, 7, 8], [2, 4]));
    assertValues(g.get(x)!, [1, 2, 3, 5, 6, 7]);
    assertValues(g.get(y)!, [4, 8]);
    const x3 = leaf(X());
    const gp = grad(permute(x3, [2, 0, 1]), T([...Array(12).keys()], [2, 2, 3])).get(x3)!;
    assertShape(gp, [2, 3, 2]);
    assertValues(gp, [0, 6, 1, 7, 2, 8, 3, 9, 4, 10, 5, 11]);
  });

  it('reshape passes the gradient through with the input shape', () => {
    const x = leaf(X());
    const g = grad(reshape(x, [4, 3]), T([...Array(12).keys()], [4, 3])).get(x)!;
    assertShape(g, [2, 3, 2]);
    assert.deepEqual(Array.from(g.data), [...Array(12).keys()]);
  });
});

describe('movement errors', () => {
  it('name the op and the shapes', () => {
    assertFqtError(() => reshape(X(), [5, -1]), 'reshape', '[2, 3, 2]', '[5, -1]');
    assertFqtError(() => reshape(X(), [5, 2]), 'reshape', '[2, 3, 2]', '[5, 2]');
    assertFqtError(() => reshape(X(), [-1, -1]), 'reshape');
    assertFqtError(() => permute(X(), [0, 0, 1]), 'permute', '[0, 0, 1]', '[2, 3, 2]');
    assertFqtError(() => permute(X(), [1, 0]), 'permute');
    assertFqtError(() => transpose(T([1, 2], [2])), 'transpose', '[2]');
    assertFqtError(() => slice(X(), [0, 2], [2, 4]), 'slice', 'axis 1', '[2, 3, 2]');
    assertFqtError(() => slice(X(), [1], [0]), 'slice', 'axis 0');
    assertFqtError(() => pad(X(), [[0, -1]]), 'pad', 'axis 0');
    assertFqtError(() => concat([]), 'concat');
    assertFqtError(() => concat([T([1, 2], [1, 2]), T([1, 2, 3], [1, 3])], 0), 'concat', '[1, 2]', '[1, 3]');
    assertFqtError(() => concat([T([1, 2], [1, 2]), T([1, 2], [2])], 0), 'concat');
    assertFqtError(() => concat([T([1, 2], [1, 2])], 2), 'concat', 'axis 2');
    assertFqtError(() => flatten(X(), 3), 'flatten', 'axis 3');
  });
});
