/** Hand-value tests of the GEMM ops (NT layer GEMM, matmul, linear). */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import { gemmNT, linear, linearRows, matmul, transpose2d } from '../../src/ops/matmul.js';
import { grad } from '../../src/autograd/graph.js';
import { assertClose, assertShape, assertValues } from '../helpers/approx.js';
import { assertFqtError } from '../helpers/errors.js';
import { leaf, randn, T } from '../helpers/tensors.js';

/** C = A·B by three nested loops in float64 (the independent reference). */
function naiveMatmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      out.push(s);
    }
  }
  return out;
}

describe('GEMM forward', () => {
  it('matmul by hand', () => {
    const c = matmul(T([1, 2, 3, 4, 5, 6], [2, 3]), T([1, 0, 0, 1, 1, 1], [3, 2]));
    assertShape(c, [2, 2]);
    assertValues(c, [4, 5, 10, 11]);
  });

  it('linearRows = X·Wᵀ and linear adds the bias', () => {
    const x = T([1, 2, 3, 4, 5, 6], [2, 3]), w = T([1, 0, -1, 2, 2, 2], [2, 3]);
    assertValues(linearRows(x, w), [-2, 12, -2, 30]);
    assertValues(linear(x, w, T([1, -1], [2])), [-1, 11, -1, 29]);
    assertValues(transpose2d(w), [1, 2, 0, 2, -1, 2]);
    assertValues(gemmNT(x, w), [-2, 12, -2, 30]);
  });

  it('matches a naive triple loop on awkward shapes (m = 1, odd n, k not a multiple of 4, zero rows)', () => {
    for (const [m, k, n] of [[1, 7, 5], [5, 1, 3], [3, 13, 9], [4, 8, 4], [0, 3, 2]]) {
      const a = randn([m, k], m * 100 + k), b = randn([k, n], n * 100 + k + 1);
      const c = matmul(a, b);
      assertShape(c, [m, n]);
      // float64 sums rounded once to float32: relative error ≤ 2^-24 per element (plus cancellation slack).
      assertClose(c, naiveMatmul(a.data, b.data, m, k, n), { rtol: 1e-6, atol: 1e-6 }, `matmul ${m}×${k}·${k}×${n}`);
    }
  });
});

describe('GEMM backward (hand values)', () => {
  it('linear: dX = G·W, dW = Gᵀ·X, db = Σ G', () => {
    const x = leaf(T([1, 2, 3, 4], [2, 2])), w = leaf(T([1, 0, 0, 1, 1, 1], [3, 2])), b = leaf(T([0, 0, 0], [3]));
    const g = grad(linear(x, w, b), T([1, 0, 2, 0, 1, -1], [2, 3]));
    assertValues(g.get(x)!, [3, 2, -1, 0]);
    assertValues(g.get(w)!, [1, 2, 3, 4, -1, 0]);
    assertValues(g.get(b)!, [1, 1, 1]);
  });

  it('matmul: dA = G·Bᵀ, dB = Aᵀ·G', () => {
    const a = leaf(T([1, 2, 3, 4], [2, 2])), b = leaf(T([5, 6, 7, 8], [2, 2]));
    const g = grad(matmul(a, b), T([1, 0, 0, 1], [2, 2]));
    assertValues(g.get(a)!, [5, 7, 6, 8]);
    assertValues(g.get(b)!, [1, 3, 2, 4]);
  });
});

describe('GEMM errors', () => {
  it('name the op and both shapes', () => {
    assertFqtError(() => matmul(T([1, 2, 3, 4, 5, 6], [2, 3]), T([1, 2, 3, 4], [2, 2])), 'matmul', '[2, 3]', '[2, 2]');
    assertFqtError(() => matmul(T([1, 2, 3], [3]), T([1, 2, 3], [3, 1])), 'matmul', '[3]');
    assertFqtError(() => linear(T([1, 2, 3, 4, 5, 6], [2, 3]), T([1, 2, 3, 4], [2, 2])), 'linear', '[2, 3]', '[2, 2]');
    assertFqtError(() => linear(T([1, 2], [1, 2]), T([1, 2, 3, 4], [2, 2]), T([1, 2, 3], [3])), 'linear', 'bias', '[3]');
    assertFqtError(() => linearRows(T([1, 2], [2]), T([1, 2], [1, 2])), 'linear', '[2]');
  });
});
