/**
 * Reference fused convolution: literally im2col + the NT GEMMs of the layer (ops/matmul.ts linearRows) on the
 * whole batch, with the [rows, oc] ↔ NCHW transposes. Defines conv2dForward / conv2dBackward.
 */
import { sgemm, sgemmT } from './gemm.js';
import { col2im, im2col, transpose } from './layout.js';

export function conv2dForward(x: Float32Array, n: number, c: number, h: number, w: number, weight: Float32Array, oc: number,
  kh: number, kw: number, stride: number, pad: number, oh: number, ow: number, y: Float32Array): void {
  const k = c * kh * kw, rows = n * oh * ow;
  const cols = new Float32Array(rows * k);
  im2col(x, n, c, h, w, kh, kw, stride, pad, oh, ow, cols);
  const out = new Float32Array(rows * oc);
  sgemm(rows, oc, k, cols, weight, out);
  transpose(n, oh * ow, oc, out, y);
}

export function conv2dBackward(x: Float32Array, n: number, c: number, h: number, w: number, weight: Float32Array, oc: number,
  kh: number, kw: number, stride: number, pad: number, oh: number, ow: number, dy: Float32Array,
  dx: Float32Array, dw: Float32Array): void {
  const k = c * kh * kw, rows = n * oh * ow;
  const dyRows = new Float32Array(rows * oc);
  transpose(n, oc, oh * ow, dy, dyRows);
  if (dw.length > 0) {
    const cols = new Float32Array(rows * k);
    im2col(x, n, c, h, w, kh, kw, stride, pad, oh, ow, cols);
    sgemmT(oc, k, rows, dyRows, 1, cols, 1, dw);
  }
  if (dx.length > 0) {
    const dcols = new Float32Array(rows * k);
    sgemmT(rows, k, oc, dyRows, 0, weight, 1, dcols);
    col2im(dcols, n, c, h, w, kh, kw, stride, pad, oh, ow, dx);
  }
}
