/**
 * Native fused convolution (conv2dForward / conv2dBackward) against the reference (im2col + GEMMs on the
 * whole batch) on every ISA tier: within the float32 dot-product bound, computed from the same convolution
 * on absolute values; awkward geometries (1×1, 5×5, strides 2 and 3, no padding, one sample, odd sizes, an
 * empty batch); and bit-identical results for 1 and 2 threads.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { refBackend } from '../../src/backend/ref/index.js';
import type { Backend } from '../../src/backend/backend.js';
import { assertBitExact, nativeUnderTest, randn, rng } from './helpers.js';

const nut = nativeUnderTest();
const U = 2 ** -24;

// [n, c, h, w, oc, kh, kw, stride, pad]
const GEOMS: number[][] = [
  [2, 3, 7, 7, 4, 3, 3, 1, 1], [1, 16, 9, 9, 16, 3, 3, 1, 1], [3, 5, 8, 6, 7, 1, 1, 1, 0], [2, 4, 11, 11, 6, 3, 3, 2, 1],
  [2, 2, 10, 10, 3, 5, 5, 1, 2], [9, 8, 6, 6, 12, 3, 3, 1, 0], [0, 3, 5, 5, 4, 3, 3, 1, 1], [17, 4, 5, 5, 8, 3, 3, 2, 1],
  // stride 1 runs the direct kernels (conv_direct.cc): a non-square window, pad = k − 1 (the grad-input
  // convolution has no padding), pad > k − 1 (falls back to im2col), one input channel, a plane wider than
  // several pixel tiles with n = 11 (two dW groups, the second short), and dW sample blocks of 2 (big planes).
  [3, 3, 9, 11, 5, 3, 5, 1, 1], [2, 3, 6, 7, 5, 3, 3, 1, 2], [2, 3, 5, 5, 2, 1, 1, 1, 1], [4, 1, 12, 12, 9, 3, 3, 1, 1],
  [11, 5, 13, 30, 6, 3, 3, 1, 1], [10, 16, 20, 20, 16, 3, 3, 1, 1],
  // stride > 1: forward and dW on phase planes (dX keeps im2col): 1×1 stride 2 on odd and even sizes, stride 3,
  // a 2×2 window, pad > k − 1, a non-square window and input.
  [3, 4, 9, 9, 6, 1, 1, 2, 0], [2, 5, 14, 14, 9, 1, 1, 2, 0], [2, 3, 10, 11, 4, 3, 3, 3, 1], [3, 2, 8, 8, 5, 2, 2, 2, 0],
  [2, 3, 7, 7, 4, 1, 1, 2, 1], [9, 3, 13, 10, 5, 3, 5, 2, 2],
];

function run(be: Backend, g: number[], x: Float32Array, w: Float32Array, dy: Float32Array) {
  const [n, c, h, wd, oc, kh, kw, s, p] = g;
  const oh = Math.floor((h + 2 * p - kh) / s) + 1, ow = Math.floor((wd + 2 * p - kw) / s) + 1;
  const y = new Float32Array(n * oc * oh * ow).fill(NaN), dx = new Float32Array(x.length).fill(NaN), dw = new Float32Array(w.length).fill(NaN);
  be.conv2dForward(x, n, c, h, wd, w, oc, kh, kw, s, p, oh, ow, y);
  be.conv2dBackward(x, n, c, h, wd, w, oc, kh, kw, s, p, oh, ow, dy, dx, dw);
  return { y, dx, dw, oh, ow };
}

function assertWithin(got: Float32Array, want: Float32Array, abs: Float32Array, terms: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  for (let i = 0; i < got.length; i++) {
    const bound = (terms + 10) * U * abs[i] + 1e-30;
    if (!(Math.abs(got[i] - want[i]) <= bound)) assert.fail(`${what}[${i}] = ${got[i]}, reference ${want[i]}, bound ${bound}`);
  }
}

if (typeof nut === 'string') {
  it('native fused convolution conformance', { skip: nut }, () => {});
} else {
  const { addon, backend: nb, tiers } = nut;
  for (const tier of tiers) {
    describe(`native fused convolution, ISA tier ${tier}`, () => {
      it('conv2dForward / conv2dBackward match the reference within the float32 bound', () => {
        addon.setIsa(tier);
        const r = rng(21);
        for (const g of GEOMS) {
          const [n, c, h, wd, oc, kh, kw, s, p] = g;
          const oh = Math.floor((h + 2 * p - kh) / s) + 1, ow = Math.floor((wd + 2 * p - kw) / s) + 1;
          const x = randn(r, n * c * h * wd), w = randn(r, oc * c * kh * kw), dy = randn(r, n * oc * oh * ow);
          const got = run(nb, g, x, w, dy), want = run(refBackend, g, x, w, dy);
          const abs = run(refBackend, g, x.map(Math.abs), w.map(Math.abs), dy.map(Math.abs));
          const what = `${tier} [${g.join(',')}]`;
          assertWithin(got.y, want.y, abs.y, c * kh * kw, `y ${what}`);
          assertWithin(got.dx, want.dx, abs.dx, oc * kh * kw, `dx ${what}`);
          assertWithin(got.dw, want.dw, abs.dw, n * oh * ow, `dw ${what}`);
        }
      });

      it('gives bit-identical results for 1 and 2 threads', () => {
        addon.setIsa(tier);
        const threads = addon.info().threads;
        const r = rng(22);
        // The direct path (stride 1; the second has dW sample blocks of 2) and the im2col path (stride 2).
        try {
          for (const g of [[19, 6, 9, 9, 10, 3, 3, 1, 1], [19, 16, 20, 20, 16, 3, 3, 1, 1], [19, 6, 9, 9, 10, 3, 3, 2, 1]]) {
            const [n, c, h, wd, oc, kh, kw, s, p] = g;
            const oh = Math.floor((h + 2 * p - kh) / s) + 1, ow = Math.floor((wd + 2 * p - kw) / s) + 1;
            const x = randn(r, n * c * h * wd), w = randn(r, oc * c * kh * kw), dy = randn(r, n * oc * oh * ow);
            addon.setThreads(1);
            const one = run(nb, g, x, w, dy);
            addon.setThreads(Math.max(2, threads));
            const many = run(nb, g, x, w, dy);
            assertBitExact(many.y, one.y, `y [${g.join(',')}]`);
            assertBitExact(many.dx, one.dx, `dx [${g.join(',')}]`);
            assertBitExact(many.dw, one.dw, `dw [${g.join(',')}]`);
          }
        } finally {
          addon.setThreads(threads);
        }
      });
    });
  }
}
