/** Finite-difference checks of reductions and movement ops (method and tolerances: test/helpers/gradcheck.ts). */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import { max, mean, sum, variance } from '../../src/ops/reduce.js';
import { concat, flatten, pad, permute, reshape, slice, transpose } from '../../src/ops/movement.js';
import { mul } from '../../src/ops/elementwise.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { distinct, randn } from '../helpers/tensors.js';

const AXES: [string, number | number[] | undefined, boolean][] = [
  ['all', undefined, false],
  ['axis 0', 0, false],
  ['axis -1 keepDims', -1, true],
  ['axes [0, 2]', [0, 2], false],
  ['axes [1, 2] keepDims', [1, 2], true],
];

describe('gradcheck: reductions over axes', () => {
  for (const [label, axes, keep] of AXES) {
    it(`sum, mean, variance, max over ${label}`, () => {
      const x = randn([2, 3, 4], 50);
      gradCheck(`sum ${label}`, (t) => sum(t, axes, keep), [x]);
      gradCheck(`mean ${label}`, (t) => mean(t, axes, keep), [x]);
      gradCheck(`variance ${label}`, (t) => variance(t, axes, keep), [x]);
      // Values ≥ 0.1 apart: no tie and no near-tie a finite difference could flip.
      gradCheck(`max ${label}`, (t) => max(t, axes, keep), [distinct([2, 3, 4], 51)]);
    });
  }

  it('reductions over an axis of size 1 and of a rank-0 tensor', () => {
    gradCheck('sum size-1 axis', (t) => sum(t, 1), [randn([3, 1, 2], 52)]);
    gradCheck('max size-1 axis', (t) => max(t, 1), [randn([3, 1, 2], 53)]);
    gradCheck('mean rank 0', (t) => mean(t), [randn([], 54)]);
  });
});

describe('gradcheck: movement ops', () => {
  it('reshape (with -1) and flatten', () => {
    // Multiply by a fixed tensor so the output is not the input's own storage only.
    gradCheck('reshape', (t) => reshape(t, [3, -1]), [randn([2, 3, 2], 60)]);
    gradCheck('flatten', (t) => flatten(t), [randn([2, 3, 2], 61)]);
    gradCheck('flatten from 0', (t) => flatten(t, 0), [randn([2, 3], 62)]);
  });

  it('permute and transpose', () => {
    gradCheck('permute [2,0,1]', (t) => permute(t, [2, 0, 1]), [randn([2, 3, 4], 63)]);
    gradCheck('permute [1,3,0,2]', (t) => permute(t, [1, 3, 0, 2]), [randn([2, 3, 2, 2], 64)]);
    gradCheck('transpose', transpose, [randn([2, 3, 4], 65)]);
  });

  it('slice and pad', () => {
    gradCheck('slice', (t) => slice(t, [1, 0, 1], [3, 2, 4]), [randn([3, 2, 5], 66)]);
    gradCheck('slice one axis', (t) => slice(t, [0, 2], [2, 3]), [randn([2, 4], 67)]);
    gradCheck('pad', (t) => pad(t, [[1, 0], [2, 1]]), [randn([2, 3], 68)]);
    gradCheck('pad 4-d', (t) => pad(t, [[0, 0], [0, 0], [1, 1], [0, 2]]), [randn([1, 2, 2, 2], 69)]);
  });

  it('concat along each axis, of three inputs', () => {
    gradCheck('concat axis 0', (a, b, c) => concat([a, b, c], 0), [randn([1, 3], 70), randn([2, 3], 71), randn([1, 3], 72)]);
    gradCheck('concat axis 1', (a, b, c) => concat([a, b, c], 1), [randn([2, 1, 2], 73), randn([2, 3, 2], 74), randn([2, 2, 2], 75)]);
    gradCheck('concat axis -1', (a, b) => concat([a, b], -1), [randn([2, 2], 76), randn([2, 3], 77)]);
    gradCheck('concat same tensor twice', (a) => concat([a, mul(a, a)], 0), [randn([2, 2], 78)]);
  });
});
