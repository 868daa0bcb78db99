/**
 * The fp32 passes of the fused binary layers (bconv-backward.ts): conv2dBackward on ±1 values rebuilt from the
 * bits the forward kept (the dequantized sign codes), the clipped-STE mask of X applied after. Used by bin-qat (both
 * passes, fp32Backward) and by a 'fp32' or 'dequant' pass of the 1-bit recipes (fp32Pass). NaN poisoning is the
 * caller's (bconv-backward.ts nanIf).
 */
import { backend } from '../../backend/index.js';
import type { Fit, Kept } from './bconv-plan.js';
import { uninit } from '../../ops/util.js';

export const NONE = new Float32Array(0);
/** A float32 array that the next kernel call overwrites entirely (no zero fill, ops/util.ts uninit). */
export const scratchF32 = (n: number): Float32Array => uninit([n]).data;

/** One backward GEMM in fp32 on dZ = f32(dY·a_c) (or its dequantized codes): dX (masked) or dW before W's mask. */
export function fp32Pass(which: 'dx' | 'dw', geom: Int32Array, kept: Kept, fit: Fit, dz: Float32Array): Float32Array {
  const [n, c, h, wd, oc, kh, kw, stride, pad, oh, ow] = geom;
  const K = c * kh * kw, chw = c * h * wd;
  const { xSigns, xMask, wSigns, wData } = kept;
  const be = backend();
  const out = scratchF32(which === 'dx' ? n * chw : oc * K);
  const xv = which === 'dw' ? unpacked(xSigns, n, chw) : NONE;
  const wv = which === 'dw' ? NONE : fit.giWSign ? unpacked(wSigns, oc, K) : wData;
  be.conv2dBackward(xv, n, c, h, wd, wv, oc, kh, kw, stride, pad, oh, ow, dz, which === 'dx' ? out : NONE, which === 'dw' ? out : NONE);
  if (which === 'dx' && xMask) be.maskBits(n, chw, out, xMask, out);
  return out;
}

/**
 * Both backward GEMMs in fp32 (bin-qat: no dY quantizer, so one draw): one conv2dBackward on dY itself with the
 * grad-input weights scaled per output channel, W' = a_c·W: dX = Σ dY·a_c·W = Σ dZ·W, and D = Σ dY·x±, so dW = a_c·D
 * and da_c = Σ dY·Z = Σ_K w±·D (W the forward's signs). No dZ and no recomputation of Z from the bits.
 */
export function fp32Backward(geom: Int32Array, kept: Kept, fit: Fit, dy: Float32Array, need: { dx: boolean; dw: boolean; da: boolean }):
  { dx: Float32Array | null; dw: Float32Array | null; da: Float32Array | null } {
  const [n, c, h, wd, oc, kh, kw, stride, pad, oh, ow] = geom;
  const K = c * kh * kw, chw = c * h * wd;
  const { xSigns, xMask, wSigns, wData, a } = kept;
  const be = backend();
  const wForward = unpacked(wSigns, oc, K);
  let wDx: Float32Array = NONE;
  if (need.dx) {
    wDx = fit.giWSign ? wForward : wData;
    if (a) wDx = rowScaled(wDx, a.data, oc, K);
  }
  const needD = need.dw || need.da;
  const dx = need.dx ? scratchF32(n * chw) : NONE, D = needD ? scratchF32(oc * K) : NONE;
  be.conv2dBackward(needD ? unpacked(xSigns, n, chw) : NONE, n, c, h, wd, wDx, oc, kh, kw, stride, pad, oh, ow, dy, dx, D);
  if (need.dx && xMask) be.maskBits(n, chw, dx, xMask, dx);
  let da: Float32Array | null = null;
  if (need.da) {
    const prod = scratchF32(oc * K);
    const s = Int32Array.of(1);
    be.binary('mul', D, s, wForward, s, Int32Array.of(oc * K), prod);
    da = new Float32Array(oc);
    if (oc > 0) be.reduce('sum', prod, oc, K, 1, da);
  }
  return { dx: need.dx ? dx : null, dw: need.dw ? (a ? rowScaled(D, a.data, oc, K) : D) : null, da };
}

/** x[rows, k] with row r multiplied by s[r] (float32). */
function rowScaled(x: Float32Array, s: Float32Array, rows: number, k: number): Float32Array {
  const out = scratchF32(rows * k);
  if (out.length > 0) backend().binary('mul', x, Int32Array.of(k, 1), s, Int32Array.of(1, 0), Int32Array.of(rows, k), out);
  return out;
}

function unpacked(bits: Uint32Array, rows: number, k: number): Float32Array {
  const out = scratchF32(rows * k);
  backend().unpackSigns(rows, k, bits, out);
  return out;
}
