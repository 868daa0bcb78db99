/**
 * NaN propagates through the ops as in IEEE / PyTorch 1.13 (issue 18), on the reference backend and on native:
 * relu(NaN) = NaN with the gradient passing (relu'(NaN) = 1, torch's threshold_backward on the output), max pooling
 * picks the last NaN of a window, clamp / maximum / minimum / max return NaN; masked NaN gradients stay 0.
 */
import assert from 'node:assert/strict';
import { parameter, tensor } from '../../src/tensor/tensor.js';
import { grad } from '../../src/autograd/graph.js';
import { clamp, maximum, mul, relu } from '../../src/ops/elementwise.js';
import { max, sum } from '../../src/ops/reduce.js';
import { maxPool2d } from '../../src/ops/pool.js';
import { backend } from '../../src/backend/index.js';
import { forEachBackend } from '../helpers/backends.js';

const same = (a: ArrayLike<number>, b: number[], what: string): void =>
  assert.deepEqual(Array.from(a, (v) => (Number.isNaN(v) ? 'NaN' : v)), b.map((v) => (Number.isNaN(v) ? 'NaN' : v)), what);

forEachBackend('relu(NaN) = NaN and its gradient passes there (PyTorch); masked NaN gradients give 0', () => {
  // 40 elements: the SIMD body and the scalar tail of the native kernel both see NaN.
  const xs = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? NaN : i % 4 === 1 ? -1 : i % 4 === 2 ? 2 : 0));
  const x = parameter(Float32Array.from(xs), [40]);
  const y = relu(x);
  same(y.data, xs.map((v) => (Number.isNaN(v) ? NaN : Math.max(v, 0))), 'relu');
  const g = grad(sum(mul(y, tensor(xs.map((_, i) => (i % 2 === 0 ? 1 : NaN))))));
  same(g.get(x)!.data, xs.map((v, i) => (Number.isNaN(v) || v > 0 ? (i % 2 === 0 ? 1 : NaN) : 0)), 'relu grad');
});

forEachBackend('max pooling picks the last NaN of a window (torch.max_pool2d), and the gradient goes there', () => {
  const x = parameter(Float32Array.of(1, NaN, 3, NaN, 0, 2, NaN, 1), [1, 1, 2, 4]);
  const y = maxPool2d(x, 2);
  same(y.data, [NaN, NaN], 'max pool');
  const g = grad(sum(y));
  same(g.get(x)!.data, [0, 1, 0, 0, 0, 0, 1, 0], 'max pool grad (torch: indices 1 and 6)');
});

forEachBackend('clamp, maximum, the min kernel and max propagate NaN', () => {
  same(clamp(tensor([NaN, 5, -5]), 0, 1).data, [NaN, 1, 0], 'clamp');
  same(maximum(tensor([NaN, 1, 2]), tensor([1, NaN, 1])).data, [NaN, NaN, 2], 'maximum');
  const lo = new Float32Array(3), s1 = Int32Array.of(1);
  backend().binary('min', Float32Array.of(NaN, 1, 2), s1, Float32Array.of(1, NaN, 1), s1, Int32Array.of(3), lo);
  same(lo, [NaN, NaN, 1], 'min kernel');
  same(max(tensor([1, NaN, 2]), 0).data, [NaN], 'max');
});
