/** Hand-value tests of the elementwise ops: forward values, broadcasting, backward values, errors. */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  abs, add, addScalar, clamp, div, exp, log, maximum, mul, neg, powScalar, prelu, relu, scale, sqrt, square, sub,
} from '../../src/ops/elementwise.js';
import { grad } from '../../src/autograd/graph.js';
import { Tensor, scalar, tensor, zeros } from '../../src/tensor/tensor.js';
import { assertClose, assertShape, assertValues } from '../helpers/approx.js';
import { assertFqtError } from '../helpers/errors.js';
import { leaf, T } from '../helpers/tensors.js';

describe('elementwise forward', () => {
  it('add / sub / mul / div on equal shapes', () => {
    const a = T([1, 2, 3, 4], [2, 2]), b = T([10, 20, 30, 40], [2, 2]);
    assertValues(add(a, b), [11, 22, 33, 44]);
    assertValues(sub(a, b), [-9, -18, -27, -36]);
    assertValues(mul(a, b), [10, 40, 90, 160]);
    assertValues(div(b, a), [10, 10, 10, 10]);
    assertShape(add(a, b), [2, 2]);
  });

  it('broadcasting: row vector, column vector, leading axes, rank 0 and numbers', () => {
    const m = T([1, 2, 3, 4, 5, 6], [2, 3]);
    const row = add(m, T([10, 20, 30], [3]));
    assertShape(row, [2, 3]);
    assertValues(row, [11, 22, 33, 14, 25, 36]);
    const col = mul(m, T([2, -1], [2, 1]));
    assertValues(col, [2, 4, 6, -4, -5, -6]);
    const outer = sub(T([1, 2], [2, 1]), T([10, 20, 30], [1, 3]));
    assertShape(outer, [2, 3]);
    assertValues(outer, [-9, -19, -29, -8, -18, -28]);
    const lead = add(T([1, 2], [2]), zeros([3, 1, 2]));
    assertShape(lead, [3, 1, 2]);
    assertValues(lead, [1, 2, 1, 2, 1, 2]);
    assertValues(add(m, scalar(1)), [2, 3, 4, 5, 6, 7]);
    assertValues(sub(10, m), [9, 8, 7, 6, 5, 4]);
    assertValues(div(m, 2), [0.5, 1, 1.5, 2, 2.5, 3]);
    assertShape(add(scalar(1), scalar(2)), []);
    assertValues(add(scalar(1), scalar(2)), [3]);
  });

  it('zero-size tensors broadcast to zero-size results', () => {
    const e = add(zeros([0, 3]), T([1, 2, 3], [3]));
    assertShape(e, [0, 3]);
    assert.equal(e.size, 0);
  });

  it('maximum', () => {
    assertValues(maximum(T([1, 5, -2], [3]), T([3, 4, -2], [3])), [3, 5, -2]);
    assertValues(maximum(T([-1, 2, -3, 4], [2, 2]), 0), [0, 2, 0, 4]);
  });

  it('unary ops', () => {
    const x = T([-2, -0.5, 0, 1, 4], [5]);
    assertValues(neg(x), [2, 0.5, -0, -1, -4]);
    assertValues(abs(x), [2, 0.5, 0, 1, 4]);
    assertValues(relu(x), [0, 0, 0, 1, 4]);
    assertValues(square(x), [4, 0.25, 0, 1, 16]);
    assertValues(scale(x, 3), [-6, -1.5, 0, 3, 12]);
    assertValues(addScalar(x, 1), [-1, 0.5, 1, 2, 5]);
    assertValues(clamp(x, -1, 2), [-1, -0.5, 0, 1, 2]);
    assertValues(sqrt(T([0, 1, 4, 9], [4])), [0, 1, 2, 3]);
    assertClose(exp(T([0, 1, -1], [3])), [1, Math.E, 1 / Math.E], { rtol: 1e-7 });
    assertClose(log(T([1, Math.E, 0.5], [3])), [0, 1, Math.log(0.5)], { rtol: 1e-6, atol: 1e-7 });
    assertValues(powScalar(T([2, 3, 4], [3]), 2), [4, 9, 16]);
    assertClose(powScalar(T([4, 9], [2]), -0.5), [0.5, 1 / 3], { rtol: 1e-7 });
  });

  it('prelu with one slope and with a slope per channel', () => {
    const x = T([-2, 3, -4, 5], [2, 2]);
    assertValues(prelu(x, T([0.5], [1])), [-1, 3, -2, 5]);
    assertValues(prelu(x, T([0.5, 0.25], [2])), [-1, 3, -2, 5]);
    assertValues(prelu(x, T([0.25, 0.5], [2])), [-0.5, 3, -1, 5]);
    // NCHW: channel is axis 1.
    const x4 = T([-1, -1, -1, -1, 2, -2, 2, -2], [1, 2, 2, 2]);
    assertValues(prelu(x4, T([0.1, 0.2], [2])), [-0.1, -0.1, -0.1, -0.1, 2, -0.4, 2, -0.4]);
  });
});

describe('elementwise backward (hand values)', () => {
  it('broadcast operands receive gradients summed over the broadcast axes', () => {
    const a = leaf(T([1, 2, 3, 4, 5, 6], [2, 3])), b = leaf(T([10, 20, 30], [3]));
    const seed = T([1, 2, 3, 4, 5, 6], [2, 3]);
    const g = grad(add(a, b), seed);
    assertValues(g.get(a)!, [1, 2, 3, 4, 5, 6]);
    assertValues(g.get(b)!, [5, 7, 9]);
    assertShape(g.get(b)!, [3]);
    const g2 = grad(mul(a, b), seed);
    assertValues(g2.get(a)!, [10, 40, 90, 40, 100, 180]);
    assertValues(g2.get(b)!, [1 + 16, 4 + 25, 9 + 36]);
    const g3 = grad(sub(a, b), seed);
    assertValues(g3.get(b)!, [-5, -7, -9]);
  });

  it('a column vector and a rank-0 operand', () => {
    const a = leaf(T([1, 2, 3, 4, 5, 6], [2, 3])), c = leaf(T([2, 3], [2, 1])), s = leaf(T([4], []));
    const g = grad(mul(mul(a, c), s), T([1, 1, 1, 1, 1, 1], [2, 3]));
    assertValues(g.get(c)!, [4 * 6, 4 * 15]);
    assertShape(g.get(c)!, [2, 1]);
    assertValues(g.get(s)!, [2 * 6 + 3 * 15]);
    assertShape(g.get(s)!, []);
  });

  it('div: d/da = 1/b, d/db = −a/b²', () => {
    const a = leaf(T([3], [1])), b = leaf(T([2], [1]));
    const g = grad(div(a, b), T([1], [1]));
    assertValues(g.get(a)!, [0.5]);
    assertValues(g.get(b)!, [-0.75]);
  });

  it('masks: relu, abs, clamp (open interval), maximum (ties go to the first operand)', () => {
    const x = leaf(T([-1, 0, 2, 5], [4]));
    const ones = T([1, 1, 1, 1], [4]);
    assertValues(grad(relu(x), ones).get(x)!, [0, 0, 1, 1]);
    assertValues(grad(abs(x), ones).get(x)!, [-1, 0, 1, 1]);
    assertValues(grad(clamp(x, 0, 2), ones).get(x)!, [0, 0, 0, 0]);
    assertValues(grad(clamp(x, -2, 3), ones).get(x)!, [1, 1, 1, 0]);
    const a = leaf(T([1, 2, 3], [3])), b = leaf(T([2, 2, 1], [3]));
    const g = grad(maximum(a, b), T([1, 1, 1], [3]));
    assertValues(g.get(a)!, [0, 1, 1]);
    assertValues(g.get(b)!, [1, 0, 0]);
  });

  it('prelu: slope gradient sums x·g over the negative entries of its channel', () => {
    const x = leaf(T([-2, 3, -4, -5], [2, 2])), a = leaf(T([0.5, 0.25], [2]));
    const g = grad(prelu(x, a), T([1, 1, 1, 1], [2, 2]));
    assertValues(g.get(x)!, [0.5, 1, 0.5, 0.25]);
    assertValues(g.get(a)!, [-6, -5]);
    assertShape(g.get(a)!, [2]);
  });

  it('ops on constants record nothing', () => {
    const y = mul(T([1, 2], [2]), 3);
    assert.equal(y.requiresGrad, false);
    assert.equal(y.node, null);
  });
});

describe('elementwise errors', () => {
  it('mismatched shapes name the op and both shapes', () => {
    const a = T([1, 2, 3, 4, 5, 6], [2, 3]), b = T([1, 2, 3, 4], [4]);
    assertFqtError(() => add(a, b), 'add', '[2, 3]', '[4]');
    assertFqtError(() => sub(a, b), 'sub', '[2, 3]', '[4]');
    assertFqtError(() => mul(b, a), 'mul', '[4]', '[2, 3]');
    assertFqtError(() => div(a, b), 'div', '[2, 3]', '[4]');
    assertFqtError(() => maximum(a, T([1, 2], [2])), 'maximum', '[2, 3]', '[2]');
    assertFqtError(() => add(T([1, 2, 3, 4, 5, 6], [3, 2]), T([1, 2, 3, 4, 5, 6], [2, 1, 3])), 'add', 'cannot be broadcast');
  });

  it('clamp bounds and prelu slopes are validated', () => {
    assertFqtError(() => clamp(T([1], [1]), 2, 1), 'clamp', '2', '1');
    assertFqtError(() => prelu(T([1, 2, 3, 4, 5, 6], [2, 3]), T([1, 2], [2])), 'prelu', '[2]');
    assertFqtError(() => prelu(T([1, 2, 3], [3]), T([1, 2, 3], [3])), 'prelu');
  });

  it('tensor construction rejects inconsistent data and shapes', () => {
    assertFqtError(() => tensor([1, 2, 3], [2, 2]), '3 elements', '[2, 2]');
    assertFqtError(() => new Tensor(new Float32Array(0), [-1]), '[-1]');
    assertFqtError(() => zeros([2, 1.5]), '[2, 1.5]');
    assertFqtError(() => T([1, 2], [2]).item(), 'item', '[2]');
  });
});
