/** Hand-value tests of conv2d and im2col, plus a comparison with a naive direct convolution. */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import { conv2d, im2col, planesToRows, rowsToPlanes } from '../../src/ops/conv.js';
import { grad } from '../../src/autograd/graph.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, assertShape, assertValues } from '../helpers/approx.js';
import { assertFqtError } from '../helpers/errors.js';
import { leaf, randn, T } from '../helpers/tensors.js';

const range = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => i + from);

/** Direct convolution by seven nested loops in float64 (the independent reference). */
function naiveConv(x: Tensor, w: Tensor, b: Tensor | null, stride: number, pad: number): number[] {
  const [n, c, h, wd] = x.shape, [oc, , kh, kw] = w.shape;
  const oh = Math.floor((h + 2 * pad - kh) / stride) + 1, ow = Math.floor((wd + 2 * pad - kw) / stride) + 1;
  const out: number[] = [];
  for (let s = 0; s < n; s++) for (let o = 0; o < oc; o++) for (let y = 0; y < oh; y++) for (let xx = 0; xx < ow; xx++) {
    let acc = b ? b.data[o] : 0;
    for (let ch = 0; ch < c; ch++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
      const iy = y * stride - pad + i, ix = xx * stride - pad + j;
      if (iy >= 0 && iy < h && ix >= 0 && ix < wd) acc += x.data[((s * c + ch) * h + iy) * wd + ix] * w.data[((o * c + ch) * kh + i) * kw + j];
    }
    out.push(acc);
  }
  return out;
}

describe('conv2d forward', () => {
  it('by hand: a 2×2 difference kernel, and a 3×3 box with stride 2 and padding 1', () => {
    const y = conv2d(T(range(16), [1, 1, 4, 4]), T([1, 0, 0, -1], [1, 1, 2, 2]), null);
    assertShape(y, [1, 1, 3, 3]);
    assertValues(y, new Array(9).fill(-5));
    const box = conv2d(T(range(9), [1, 1, 3, 3]), T(new Array(9).fill(1), [1, 1, 3, 3]), T([0.5], [1]), { stride: 2, padding: 1 });
    assertShape(box, [1, 1, 2, 2]);
    assertValues(box, [12.5, 16.5, 24.5, 28.5]);
  });

  it('matches a naive direct convolution (channels, batch, non-square kernel, stride, padding, bias)', () => {
    const cases: [number[], number[], boolean, number, number][] = [
      [[2, 3, 6, 5], [4, 3, 3, 3], true, 1, 1],
      [[1, 2, 7, 7], [3, 2, 2, 3], false, 2, 0],
      [[3, 1, 5, 6], [2, 1, 5, 5], true, 3, 2],
      [[2, 4, 3, 3], [5, 4, 1, 1], false, 1, 0],
    ];
    cases.forEach(([xs, ws, bias, stride, pad], k) => {
      const x = randn(xs, 10 + k), w = randn(ws, 20 + k), b = bias ? randn([ws[0]], 30 + k) : null;
      const y = conv2d(x, w, b, { stride, padding: pad });
      // K ≤ 36 products summed in float64 and rounded once: ≤ 1 ulp, plus slack for cancellation.
      assertClose(y, naiveConv(x, w, b, stride, pad), { rtol: 1e-6, atol: 1e-6 }, `conv case ${k}`);
    });
  });

  it('im2col rows are (sample, output pixel), columns (channel, ky, kx)', () => {
    const cols = im2col(T(range(9), [1, 1, 3, 3]), 2, 2, 1, 0);
    assertShape(cols, [4, 4]);
    assertValues(cols, [1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9]);
    const padded = im2col(T([1, 2, 3, 4], [1, 1, 2, 2]), 3, 3, 1, 1);
    assertShape(padded, [4, 9]);
    assertValues(slice9(padded.data, 0), [0, 0, 0, 0, 1, 2, 0, 3, 4]);
  });

  it('planesToRows and rowsToPlanes are inverse layout changes', () => {
    const x = T(range(12), [2, 3, 2, 1]);
    const rows = planesToRows(x);
    assertShape(rows, [4, 3]);
    assertValues(rows, [1, 3, 5, 2, 4, 6, 7, 9, 11, 8, 10, 12]);
    assertValues(rowsToPlanes(rows, 2, 2), range(12));
  });
});

function slice9(d: Float32Array, row: number): number[] {
  return Array.from(d.subarray(row * 9, row * 9 + 9));
}

describe('conv2d backward (hand values)', () => {
  it('box filter: dx counts how many windows read each pixel; dw sums the windows; db sums g', () => {
    const x = leaf(T(range(9), [1, 1, 3, 3])), w = leaf(T(new Array(4).fill(1), [1, 1, 2, 2])), b = leaf(T([0], [1]));
    const g = grad(conv2d(x, w, b), T([1, 1, 1, 1], [1, 1, 2, 2]));
    assertValues(g.get(x)!, [1, 2, 1, 2, 4, 2, 1, 2, 1]);
    assertValues(g.get(w)!, [1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9]);
    assertValues(g.get(b)!, [4]);
  });
});

describe('conv2d errors', () => {
  it('name conv2d and the offending shapes or options', () => {
    const x = randn([1, 2, 4, 4], 1), w = randn([3, 2, 3, 3], 2);
    assertFqtError(() => conv2d(randn([2, 4, 4], 3), w, null), 'conv2d', '[2, 4, 4]');
    assertFqtError(() => conv2d(x, randn([3, 2, 3], 4), null), 'conv2d', '[3, 2, 3]');
    assertFqtError(() => conv2d(x, randn([3, 5, 3, 3], 5), null), 'conv2d', '2 channels', '[3, 5, 3, 3]');
    assertFqtError(() => conv2d(x, randn([3, 2, 5, 5], 6), null), 'conv2d', '5×5', '[1, 2, 4, 4]');
    assertFqtError(() => conv2d(x, w, randn([4], 7)), 'conv2d', 'bias', '[4]');
    assertFqtError(() => conv2d(x, w, null, { stride: 0 }), 'conv2d', 'stride 0');
    assertFqtError(() => conv2d(x, w, null, { padding: -1 }), 'conv2d', 'padding -1');
    assertFqtError(() => conv2d(x, w, null, { padding: 0.5 }), 'conv2d', 'padding 0.5');
  });
});
