/** Finite-difference checks of every elementwise backward (see test/helpers/gradcheck.ts for the method and tolerances). */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import {
  abs, add, addScalar, clamp, div, exp, log, maximum, mul, neg, powScalar, prelu, relu, scale, sqrt, square, sub,
} from '../../src/ops/elementwise.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { awayFrom, randn, randu } from '../helpers/tensors.js';

/** Kinks stay this far from every value; the FD step is ≤ 1e-2·max(1,|x|) < margin for |x| < 10. */
const MARGIN = 0.1;

describe('gradcheck: binary ops with broadcasting', () => {
  it('add: same shape, row broadcast, column broadcast, scalar operand', () => {
    gradCheck('add same', add, [randn([2, 3], 1), randn([2, 3], 2)]);
    gradCheck('add [2,3]+[3]', add, [randn([2, 3], 3), randn([3], 4)]);
    gradCheck('add [2,1,3]+[4,1]', add, [randn([2, 1, 3], 5), randn([4, 1], 6)]);
    gradCheck('add x+2', (x) => add(x, 2), [randn([5], 7)]);
    gradCheck('add 2+x', (x) => add(2, x), [randn([5], 8)]);
  });

  it('sub', () => {
    gradCheck('sub same', sub, [randn([3, 2], 9), randn([3, 2], 10)]);
    gradCheck('sub [3,1]-[1,4]', sub, [randn([3, 1], 11), randn([1, 4], 12)]);
    gradCheck('sub 1-x', (x) => sub(1, x), [randn([4], 13)]);
  });

  it('mul', () => {
    gradCheck('mul same', mul, [randn([2, 3], 14), randn([2, 3], 15)]);
    gradCheck('mul [2,1,3]*[4,1]', mul, [randn([2, 1, 3], 16), randn([4, 1], 17)]);
    gradCheck('mul [3]*[] (rank-0)', mul, [randn([3], 18), randn([], 19)]);
  });

  it('div (denominators in ±[0.5, 2])', () => {
    const den = (shape: number[], seed: number): Tensor => {
      const t = randu(shape, seed, 0.5, 2);
      for (let i = 0; i < t.size; i += 2) t.data[i] = -t.data[i];
      return t;
    };
    gradCheck('div same', div, [randn([2, 3], 20), den([2, 3], 21)]);
    gradCheck('div [2,3]/[3]', div, [randn([2, 3], 22), den([3], 23)]);
    gradCheck('div [3]/[2,1]', div, [randn([3], 24), den([2, 1], 25)]);
    gradCheck('div 1/x', (x) => div(1, x), [den([4], 26)]);
  });

  it('maximum (|a − b| ≥ 0.1 everywhere), including broadcasting', () => {
    const b = randn([3], 27);
    const off = awayFrom(randn([2, 3], 28, 0.5), [0], MARGIN);
    const a = new Tensor(Float32Array.from(off.data, (v, i) => v + b.data[i % 3]), [2, 3]);
    gradCheck('maximum [2,3],[3]', maximum, [a, b]);
    gradCheck('maximum [3],[2,3]', maximum, [b, a]);
    gradCheck('maximum(x, 0)', (x) => maximum(x, 0), [awayFrom(randn([6], 29), [0], MARGIN)]);
  });
});

describe('gradcheck: unary ops', () => {
  it('neg, exp, square, scale, addScalar', () => {
    gradCheck('neg', neg, [randn([2, 3], 30)]);
    gradCheck('exp', exp, [randu([2, 3], 31, -1, 1)]);
    gradCheck('square', square, [randn([2, 3], 32)]);
    gradCheck('scale', (x) => scale(x, -1.75), [randn([2, 3], 33)]);
    gradCheck('addScalar', (x) => addScalar(x, 0.3), [randn([2, 3], 34)]);
  });

  it('log and sqrt on [0.5, 2] (away from the singularity at 0)', () => {
    gradCheck('log', log, [randu([2, 3], 35, 0.5, 2)]);
    gradCheck('sqrt', sqrt, [randu([2, 3], 36, 0.5, 2)]);
  });

  it('powScalar for integer, fractional and negative exponents', () => {
    for (const p of [2, 3, 0.5, 2.5, -1, -0.5]) {
      gradCheck(`powScalar ${p}`, (x) => powScalar(x, p), [randu([2, 3], 37, 0.5, 2)]);
    }
    gradCheck('powScalar 3 on negatives', (x) => powScalar(x, 3), [randn([6], 38)]);
  });

  it('abs and relu (values ≥ 0.1 away from 0)', () => {
    gradCheck('abs', abs, [awayFrom(randn([3, 4], 39), [0], MARGIN)]);
    gradCheck('relu', relu, [awayFrom(randn([3, 4], 40), [0], MARGIN)]);
  });

  it('clamp (values ≥ 0.1 away from both bounds)', () => {
    gradCheck('clamp', (x) => clamp(x, -0.5, 0.7), [awayFrom(randn([4, 4], 41), [-0.5, 0.7], MARGIN)]);
  });

  it('prelu: gradient of x and of the slope (per channel and shared)', () => {
    const x = awayFrom(randn([2, 3, 2, 2], 42), [0], MARGIN);
    gradCheck('prelu per-channel', prelu, [x, randu([3], 43, 0.05, 0.5)]);
    gradCheck('prelu shared', prelu, [x, randu([1], 44, 0.05, 0.5)]);
    gradCheck('prelu [n, c]', prelu, [awayFrom(randn([4, 3], 45), [0], MARGIN), randu([3], 46, 0.05, 0.5)]);
  });
});
