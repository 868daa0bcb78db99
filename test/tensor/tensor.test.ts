/**
 * Typed boundary of Tensor (issue 18): kernels read tensor data as raw float32 memory (the native ones without a
 * bounds check of their own), so only a Float32Array of exactly the shape's size gets in, with a one-line error
 * naming what was passed.
 */
import '../helpers/backend.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, zeros } from '../../src/tensor/tensor.js';
import { matmul } from '../../src/ops/matmul.js';
import { relu } from '../../src/ops/elementwise.js';
import { assertFqtError } from '../helpers/errors.js';

test('Tensor accepts only a Float32Array of the right length and a shape of non-negative integers', () => {
  const bad: [unknown, unknown, RegExp][] = [
    [[1, 2, 3, 4], [2, 2], /Float32Array, got a plain array/],
    [new Float64Array(4), [2, 2], /Float32Array, got Float64Array/],
    [new Int8Array(4), [2, 2], /Float32Array, got Int8Array/],
    [new Uint8Array(16), [2, 2], /Float32Array, got Uint8Array/],
    [null, [2, 2], /Float32Array, got null/],
    ['abcd', [4], /Float32Array, got string/],
    [new Float32Array(3), [2, 2], /3 elements but shape \[2, 2\] needs 4/],
    [new Float32Array(4), [2, 2.5], /invalid dimension 2.5/],
    [new Float32Array(4), [-2, -2], /invalid dimension -2/],
    [new Float32Array(4), [NaN], /invalid dimension NaN/],
    [new Float32Array(4), '4', /shape must be an array/],
    [new Float32Array(4), undefined, /shape must be an array/],
  ];
  for (const [data, shape, msg] of bad) {
    assertFqtError(() => new Tensor(data as Float32Array, shape as number[]), msg);
  }
  assert.equal(new Tensor(new Float32Array(4), [2, 2]).size, 4);
});

test('matmul and relu on a tensor built from a plain array fail with a clear error instead of crashing', () => {
  assertFqtError(() => matmul(new Tensor([1, 2, 3, 4] as unknown as Float32Array, [2, 2]), zeros([2, 2])), /Float32Array, got a plain array/);
  assertFqtError(() => relu(new Tensor(new Float64Array(4) as unknown as Float32Array, [4])), /Float32Array, got Float64Array/);
});
