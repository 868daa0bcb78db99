/**
 * conv2d as im2col + the layer GEMM (DESIGN.md): rows = (sample, output pixel), K = C_in·kh·kw.
 * The GEMM is passed in, so quantized layers reuse the same geometry with their qgemm.
 */
import { backend } from '../backend/index.js';
import { record } from '../autograd/graph.js';
import { setRecompute } from '../autograd/saved.js';
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { add } from './elementwise.js';
import { linearRows } from './matmul.js';
import { reshape } from './movement.js';
import { empty, uninit } from './util.js';

export interface ConvOptions {
  stride?: number;
  padding?: number;
}

export function convOutSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/** im2col as a differentiable op: [n,c,h,w] → [n·oh·ow, c·kh·kw]; backward is col2im. */
export function im2col(x: Tensor, kh: number, kw: number, stride: number, pad: number): Tensor {
  const [n, c, h, w] = x.shape;
  const oh = convOutSize(h, kh, stride, pad), ow = convOutSize(w, kw, stride, pad);
  check(oh > 0 && ow > 0, () => `conv2d: a ${kh}×${kw} kernel with stride ${stride} and padding ${pad} does not fit input ${fmtShape(x.shape)}`);
  const cols = empty([n * oh * ow, c * kh * kw]);
  backend().im2col(x.data, n, c, h, w, kh, kw, stride, pad, oh, ow, cols.data);
  const xShape = x.shape; // the closures below capture shapes, not the tensors (which would stay alive)
  return record(cols, 'im2col', [x], (g) => {
    const dx = empty(xShape);
    backend().col2im(g.data, n, c, h, w, kh, kw, stride, pad, oh, ow, dx.data);
    return [dx];
  });
}

/** The batched transpose [n, a, b] → outShape ([n, b, a] in memory), and back in the backward. */
function transposeOp(x: Tensor, outShape: number[], n: number, a: number, b: number, op: string): Tensor {
  const out = empty(outShape);
  backend().transpose(n, a, b, x.data, out.data);
  const xShape = x.shape; // the closure captures the shape, not the tensor
  return record(out, op, [x], (g) => {
    const back = empty(xShape);
    backend().transpose(n, b, a, g.data, back.data);
    return [back];
  });
}

/** [n·hw, c] rows → [n, c, hw] planes (and back in the backward). */
export function rowsToPlanes(rows: Tensor, n: number, hw: number): Tensor {
  const c = rows.shape[1];
  return transposeOp(rows, [n, c, hw], n, hw, c, 'rowsToPlanes');
}

/** [n, c, h, w] planes → [n·h·w, c] rows (the layout the layer GEMM wants). */
export function planesToRows(x: Tensor): Tensor {
  const [n, c] = x.shape;
  const hw = x.size / Math.max(1, n * c);
  return transposeOp(x, [n * hw, c], n, c, hw, 'planesToRows');
}

/** The im2col geometry of one conv call (the binary GEMMs need it to correct for zero padding, METHODS §3.2). */
export interface ConvGeometry {
  c: number; h: number; w: number; kh: number; kw: number; stride: number; pad: number; oh: number; ow: number;
}

/** An fp32 conv recomputes its output for the backward when K = c·kh·kw ≤ this: a stem conv on a 1- or 3-channel image. */
const FP32_RECOMPUTE_MAX_K = 27;

/**
 * fp32 convolution as one op on the backend's fused kernels (no batch-sized column matrix, output written in
 * NCHW): what `conv2d` runs for a layer whose GEMM is plain fp32 `linearRows`.
 */
function conv2dFused(x: Tensor, w: Tensor, stride: number, pad: number): Tensor {
  const [n, c, h, wd] = x.shape;
  const [oc, , kh, kw] = w.shape;
  const oh = convOutSize(h, kh, stride, pad), ow = convOutSize(wd, kw, stride, pad);
  check(oh > 0 && ow > 0, () => `conv2d: a ${kh}×${kw} kernel with stride ${stride} and padding ${pad} does not fit input ${fmtShape(x.shape)}`);
  // The fused kernels write every element of y, dx and dw.
  const forward = (): Float32Array => {
    const y = uninit([n, oc, oh, ow]).data;
    backend().conv2dForward(x.data, n, c, h, wd, w.data, oc, kh, kw, stride, pad, oh, ow, y);
    return y;
  };
  const y = new Tensor(forward(), [n, oc, oh, ow]);
  // x and w are kept anyway: batch norm recomputes a stem conv's y (deterministic kernel) instead of holding it.
  if (c * kh * kw <= FP32_RECOMPUTE_MAX_K) setRecompute(y, forward);
  return record(y, 'conv2d', [x, w], (g) => {
    const dx = x.requiresGrad ? uninit(x.shape) : null;
    const dw = w.requiresGrad ? uninit(w.shape) : null;
    backend().conv2dBackward(x.data, n, c, h, wd, w.data, oc, kh, kw, stride, pad, oh, ow, g.data,
      dx?.data ?? new Float32Array(0), dw?.data ?? new Float32Array(0));
    return [dx, dw];
  });
}

/**
 * A layer GEMM (nn/layers.ts): Y[rows, out] = X[rows, in]·W[out, in]ᵀ on im2col rows for a conv. A quantized GEMM
 * may also offer `conv`, a whole convolution that quantizes X before im2col (quant/gemm/conv.ts), returning null
 * when its quantizers or the geometry do not allow it.
 */
export interface LayerGemm {
  (x: Tensor, w: Tensor, rowsPerSample?: number, geometry?: ConvGeometry): Tensor;
  conv?: (x: Tensor, w: Tensor, geometry: ConvGeometry) => Tensor | null;
}

/**
 * The GEMM receives the im2col rows and `rowsPerSample` = oh·ow (each sample owns that many consecutive rows),
 * which per-sample quantizers (quant/ qgemm) need, and the conv geometry; linearRows ignores both.
 */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null | undefined, opts: ConvOptions = {},
  gemm: LayerGemm = linearRows): Tensor {
  const stride = opts.stride ?? 1, pad = opts.padding ?? 0;
  check(x.rank === 4, () => `conv2d: input must be [n, c, h, w], got ${fmtShape(x.shape)}`);
  check(w.rank === 4, () => `conv2d: weight must be [out, in, kh, kw], got ${fmtShape(w.shape)}`);
  check(x.shape[1] === w.shape[1], () => `conv2d: input has ${x.shape[1]} channels but weight ${fmtShape(w.shape)} expects ${w.shape[1]}`);
  check(Number.isInteger(stride) && stride >= 1 && Number.isInteger(pad) && pad >= 0, () => `conv2d: stride ${stride} / padding ${pad} must be integers ≥ 1 / ≥ 0`);
  const [n, , h, wd] = x.shape;
  const [oc, ic, kh, kw] = w.shape;
  if (gemm === linearRows) {
    const y = conv2dFused(x, w, stride, pad);
    if (!b) return y;
    check(b.rank === 1 && b.shape[0] === oc, () => `conv2d: bias ${fmtShape(b.shape)} does not match ${oc} output channels`);
    return add(y, reshape(b, [oc, 1, 1]));
  }
  const oh = convOutSize(h, kh, stride, pad), ow = convOutSize(wd, kw, stride, pad);
  check(oh > 0 && ow > 0, () => `conv2d: a ${kh}×${kw} kernel with stride ${stride} and padding ${pad} does not fit input ${fmtShape(x.shape)}`);
  const geometry: ConvGeometry = { c: ic, h, w: wd, kh, kw, stride, pad, oh, ow };
  let y = gemm.conv?.(x, w, geometry) ?? null;
  if (y === null) {
    const rows = gemm(im2col(x, kh, kw, stride, pad), reshape(w, [oc, ic * kh * kw]), oh * ow, geometry);
    y = reshape(rowsToPlanes(rows, n, oh * ow), [n, oc, oh, ow]);
  }
  if (b) {
    check(b.rank === 1 && b.shape[0] === oc, () => `conv2d: bias ${fmtShape(b.shape)} does not match ${oc} output channels`);
    y = add(y, reshape(b, [oc, 1, 1]));
  }
  return y;
}
