/**
 * Reference fused binary convolution kernels (backend/bconv-kernels.ts): plain loops over the conv definition,
 * reading single bits. They define the native kernels bit for bit; they are written for clarity, not speed.
 */
import type { BinaryConvKernels } from '../bconv-kernels.js';
import { streamKey } from '../../tensor/random.js';
import { affineCode, quantRange } from './quant.js';
import { convGeo, type ConvGeo } from './qconv.js';

const fr = Math.fround;

const words = (k: number): number => (k + 31) >>> 5;

/** Bit `col` of row `row` of a packSigns-layout array with `k` bits per row. */
function bit(bits: Uint32Array, k: number, row: number, col: number): number {
  return (bits[row * words(k) + (col >>> 5)] >>> (col & 31)) & 1;
}

export function packSignsClip(rows: number, k: number, x: Float32Array, clip: number, signs: Uint32Array, mask: Uint32Array,
  nan: Int32Array): void {
  const lo = Math.fround(-clip), hi = Math.fround(clip);
  nan[0] = 0;
  const wd = words(k);
  signs.fill(0, 0, rows * wd);
  mask.fill(0, 0, rows * wd);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < k; c++) {
      const v = x[r * k + c], b = 1 << (c & 31), at = r * wd + (c >>> 5);
      if (v >= 0) signs[at] |= b;
      if (v > lo && v < hi) mask[at] |= b;
      if (v !== v) nan[0] = 1;
    }
  }
}

export function unpackSigns(rows: number, k: number, signs: Uint32Array, out: Float32Array): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < k; c++) out[r * k + c] = bit(signs, k, r, c) ? 1 : -1;
}

export function maskBits(rows: number, k: number, g: Float32Array, mask: Uint32Array, out: Float32Array): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < k; c++) out[r * k + c] = bit(mask, k, r, c) ? g[r * k + c] : 0;
}

/** z[n, o, oy, ox] of the binary conv: Σ over in-bounds taps of x±·w± (padding contributes 0). */
function convZ(G: ConvGeo, xSigns: Uint32Array, wSigns: Uint32Array, s: number, o: number, oy: number, ox: number): number {
  const { c, h, w, kh, kw, stride, pad } = G;
  const chw = c * h * w, K = c * kh * kw;
  let z = 0;
  for (let ch = 0; ch < c; ch++) {
    for (let i = 0; i < kh; i++) {
      const y = oy * stride - pad + i;
      if (y < 0 || y >= h) continue;
      for (let j = 0; j < kw; j++) {
        const x = ox * stride - pad + j;
        if (x < 0 || x >= w) continue;
        const xb = bit(xSigns, chw, s, (ch * h + y) * w + x), wb = bit(wSigns, K, o, (ch * kh + i) * kw + j);
        z += xb === wb ? 1 : -1;
      }
    }
  }
  return z;
}

export function binaryConvForward(g: Int32Array, xSigns: Uint32Array, wSigns: Uint32Array, scale: Float32Array, y: Float32Array): void {
  const G = convGeo(g);
  for (let s = 0; s < G.n; s++) for (let o = 0; o < G.oc; o++) for (let oy = 0; oy < G.oh; oy++) for (let ox = 0; ox < G.ow; ox++) {
    const z = convZ(G, xSigns, wSigns, s, o, oy, ox);
    y[((s * G.oc + o) * G.oh + oy) * G.ow + ox] = scale.length > 0 ? fr(scale[o] * z) : z;
  }
}

export function binaryConvScaleGrad(g: Int32Array, xSigns: Uint32Array, wSigns: Uint32Array, dy: Float32Array, da: Float32Array,
  mins: Float32Array, maxs: Float32Array): void {
  const G = convGeo(g), P = G.oh * G.ow;
  if (mins.length > 0) sampleChannelRange(G.n, G.oc, P, dy, mins, maxs);
  for (let o = 0; o < G.oc; o++) {
    let total = 0;
    for (let s = 0; s < G.n; s++) {
      const lane = [0, 0, 0, 0];
      for (let p = 0; p < P; p++) lane[p % 4] += dy[(s * G.oc + o) * P + p] * convZ(G, xSigns, wSigns, s, o, Math.floor(p / G.ow), p % G.ow);
      total += (lane[0] + lane[1]) + (lane[2] + lane[3]);
    }
    da[o] = total;
  }
}

/** Per-plane min and max of x [n, c, hw] (NaN wins): quantRange with one group per (sample, channel) plane. */
export function sampleChannelRange(n: number, c: number, hw: number, x: Float32Array, mins: Float32Array, maxs: Float32Array): void {
  quantRange(x, n * c, hw, 1, Math.max(1, n * c), Math.max(1, hw), mins.subarray(0, n * c), maxs.subarray(0, n * c));
}

/** The gradient codes of dY (the file comment of bconv-kernels.ts): code(s, o, p) and the group parameters. */
class DyCodes {
  readonly rowDiv: number; readonly rowMod: number; readonly colDiv: number; readonly colGroups: number;
  readonly qmax: number; readonly stochastic: number; readonly key: number; readonly blocked: boolean;

  constructor(readonly G: ConvGeo, readonly dy: Float32Array, readonly scale: Float32Array, q: Int32Array, readonly offset: Float32Array,
    readonly qscale: Float32Array, readonly inv: Float32Array, readonly zeroPoint: Int32Array) {
    [this.rowDiv, this.rowMod, this.colDiv] = q;
    this.colGroups = Math.ceil(G.oc / this.colDiv);
    this.qmax = 2 ** q[3] - 1;
    this.stochastic = q[4];
    this.key = streamKey(q[5] >>> 0, q[6] >>> 0);
    this.blocked = q[7] !== 0;
  }

  group(r: number, o: number): number {
    return (Math.floor(r / this.rowDiv) % this.rowMod) * this.colGroups + Math.floor(o / this.colDiv);
  }

  pruned(grp: number): boolean { return this.offset[grp] === 0 && this.qscale[grp] === 0; }

  /** lo = f32(offset − f32(zeroPoint·scale)) and Δ = scale of a group. */
  affine(grp: number): [number, number] {
    return [fr(this.offset[grp] - fr(this.zeroPoint[grp] * this.qscale[grp])), this.qscale[grp]];
  }

  code(s: number, o: number, p: number): number {
    const { G } = this;
    const P = G.oh * G.ow, r = s * P + p;
    const raw = this.dy[(s * G.oc + o) * P + p];
    const v = this.scale.length > 0 ? fr(raw * this.scale[o]) : raw;
    const grp = this.group(r, o);
    const c = affineCode(v, this.offset[grp], this.inv[grp], this.zeroPoint[grp], 0, this.qmax, this.stochastic, this.key, r * G.oc + o);
    return c === c ? c : 0; // a NaN code stores as 0, as in quantizeAffine's typed array
  }
}

export function binaryConvGradInput(g: Int32Array, dy: Float32Array, scale: Float32Array, q: Int32Array, offset: Float32Array,
  qscale: Float32Array, inv: Float32Array, zeroPoint: Int32Array, wSigns: Uint32Array, xMask: Uint32Array, dx: Float32Array): void {
  const G = convGeo(g), codes = new DyCodes(G, dy, scale, q, offset, qscale, inv, zeroPoint);
  const { c, h, w, oc, kh, kw, stride, pad, oh, ow } = G;
  const chw = c * h * w, K = c * kh * kw, P = oh * ow;
  for (let s = 0; s < G.n; s++) {
    const grp = codes.group(s * P, 0);
    const pruned = codes.pruned(grp), [lo, delta] = codes.affine(grp);
    for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const at = (ch * h + y) * w + x;
      if (pruned || (xMask.length > 0 && !bit(xMask, chw, s, at))) {
        dx[s * chw + at] = 0;
        continue;
      }
      let dot = 0, V = 0;
      for (let o = 0; o < oc; o++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
        const ty = y + pad - i, tx = x + pad - j;
        if (ty % stride !== 0 || tx % stride !== 0) continue;
        const oy = ty / stride, ox = tx / stride;
        if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
        const wv = bit(wSigns, K, o, (ch * kh + i) * kw + j) ? 1 : -1;
        dot += codes.code(s, o, oy * ow + ox) * wv;
        V += wv;
      }
      dx[s * chw + at] = fr(fr(delta * dot) + fr(lo * V));
    }
  }
}

export function binaryConvGradWeight(g: Int32Array, dy: Float32Array, scale: Float32Array, q: Int32Array, offset: Float32Array,
  qscale: Float32Array, inv: Float32Array, zeroPoint: Int32Array, xSigns: Uint32Array, dw: Float32Array): void {
  const G = convGeo(g), codes = new DyCodes(G, dy, scale, q, offset, qscale, inv, zeroPoint);
  const { c, h, w, oc, kh, kw, stride, pad, oh, ow } = G;
  const chw = c * h * w, K = c * kh * kw, P = oh * ow;
  // dot_s and X_s of one (o, tap) and sample s.
  const sums = (s: number, o: number, ch: number, i: number, j: number): [number, number] => {
    let dot = 0, X = 0;
    for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
      const y = oy * stride - pad + i, x = ox * stride - pad + j;
      if (y < 0 || y >= h || x < 0 || x >= w) continue;
      const xv = bit(xSigns, chw, s, (ch * h + y) * w + x) ? 1 : -1;
      dot += codes.code(s, o, oy * ow + ox) * xv;
      X += xv;
    }
    return [dot, X];
  };
  for (let o = 0; o < oc; o++) for (let ch = 0; ch < c; ch++) for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) {
    const t = (ch * kh + i) * kw + j;
    if (codes.blocked) {
      let acc = 0;
      for (let s = 0; s < G.n; s++) {
        const grp = codes.group(s * P, o);
        if (codes.pruned(grp)) continue;
        const [lo, delta] = codes.affine(grp), [dot, X] = sums(s, o, ch, i, j);
        acc = fr(acc + fr(fr(delta * dot) + fr(lo * X)));
      }
      dw[o * K + t] = acc;
      continue;
    }
    const grp = codes.group(0, o);
    if (codes.pruned(grp)) {
      dw[o * K + t] = 0;
      continue;
    }
    let dot = 0, X = 0;
    for (let s = 0; s < G.n; s++) {
      const [d, x] = sums(s, o, ch, i, j);
      dot += d;
      X += x;
    }
    const [lo, delta] = codes.affine(grp);
    dw[o * K + t] = fr(fr(delta * dot) + fr(lo * X));
  }
}

export const refBinaryConvKernels: BinaryConvKernels = {
  packSignsClip, unpackSigns, maskBits, sampleChannelRange, binaryConvForward, binaryConvScaleGrad, binaryConvGradInput,
  binaryConvGradWeight,
};
