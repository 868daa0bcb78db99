/**
 * The reference fused integer conv kernels (backend/ref/qconv.ts) against a float64 oracle: the conv of the
 * dequantized operands (value = offset + (q − zero)·scale per group, exact zero padding), summed in float64. The
 * kernels compute the same sums from exact integers, so they agree to float64 rounding of a handful of terms, far
 * below the final float32 rounding: |kernel − oracle| ≤ 2⁻²²·(Σ|a·b| + |oracle|) per output.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { refBackend } from '../../src/backend/ref/index.js';
import { Rng } from '../../src/tensor/random.js';
import { codeOperand, type CodeOperand, geoArray, KINDS, QCONV_GEOS } from '../helpers/qconv-cases.js';

function value(op: CodeOperand, i: number, g: number): number {
  return op.offset[g] + (op.codes[i] - op.zero[g]) * op.scale[g];
}

function check(got: Float32Array, want: Float64Array, mag: Float64Array, what: string): void {
  for (let i = 0; i < got.length; i++) {
    const tol = 2 ** -22 * (mag[i] + Math.abs(want[i])) + 1e-30;
    if (!(Math.abs(got[i] - want[i]) <= tol)) assert.fail(`${what}: element ${i} is ${got[i]}, float64 oracle ${want[i]} (tol ${tol})`);
  }
}

describe('reference fused integer convs = float64 conv of the dequantized operands', () => {
  it('forward: X per tensor / per sample, W per tensor / per output channel, offsets zero and non-zero', () => {
    const r = new Rng(5);
    for (const geo of QCONV_GEOS) {
      const g = geoArray(geo);
      const [n, c, h, w, oc, kh, kw, s, p, oh, ow] = g;
      const K = c * kh * kw;
      for (const [xKind, wKind] of KINDS.map((k, i) => [k, KINDS[(i + 1) % 4]])) {
        for (const [xg, wg, off] of [[1, 1, false], [n, oc, true], [1, oc, true], [n, 1, false]] as [number, number, boolean][]) {
          const x = codeOperand(r, n * c * h * w, Math.max(1, xg), xKind, off), wt = codeOperand(r, oc * K, wg, wKind, off && wg === 1);
          const y = new Float32Array(n * oc * oh * ow).fill(NaN);
          refBackend.qconvForward(g, x.codes, x.offset, x.scale, x.zero, wt.codes, wt.offset, wt.scale, wt.zero, y);
          const want = new Float64Array(y.length), mag = new Float64Array(y.length);
          for (let b = 0; b < n; b++) for (let o = 0; o < oc; o++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
            let sum = 0, m = 0;
            for (let ci = 0; ci < c; ci++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
              const iy = oy * s - p + ky, ix = ox * s - p + kx;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const t = value(x, ((b * h + iy) * w + ix) * c + ci, xg === 1 ? 0 : b) * value(wt, o * K + (ci * kh + ky) * kw + kx, wg === 1 ? 0 : o);
              sum += t; m += Math.abs(t);
            }
            const i = ((b * oc + o) * oh + oy) * ow + ox;
            want[i] = sum; mag[i] = m;
          }
          check(y, want, mag, `forward ${geo} x ${xKind}/${xg} w ${wKind}/${wg}`);
        }
      }
    }
  });

  it('grad-input: dY per tensor / per sample, strides and padding', () => {
    const r = new Rng(6);
    for (const geo of QCONV_GEOS) {
      const g = geoArray(geo);
      const [n, c, h, w, oc, kh, kw, s, p, oh, ow] = g;
      const K = c * kh * kw, P = oh * ow;
      for (const [dKind, dg, off] of [['u4', n, true], ['s8', 1, false], ['u8', 1, true]] as const) {
        const dy = codeOperand(r, n * P * oc, Math.max(1, dg), dKind, off), wt = codeOperand(r, oc * K, 1, 'u8', false);
        const dx = new Float32Array(n * c * h * w).fill(NaN);
        refBackend.qconvGradInput(g, dy.codes, dy.offset, dy.scale, dy.zero, wt.codes, wt.offset, wt.scale, wt.zero, dx, new Int32Array(0), new Int32Array(0), new Float32Array(0));
        const want = new Float64Array(dx.length), mag = new Float64Array(dx.length);
        for (let b = 0; b < n; b++) for (let o = 0; o < oc; o++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
          const d = value(dy, (b * P + oy * ow + ox) * oc + o, dg === 1 ? 0 : b);
          for (let ci = 0; ci < c; ci++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
            const iy = oy * s - p + ky, ix = ox * s - p + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const t = d * value(wt, o * K + (ci * kh + ky) * kw + kx, 0), i = ((b * c + ci) * h + iy) * w + ix;
            want[i] += t; mag[i] += Math.abs(t);
          }
        }
        check(dx, want, mag, `grad-input ${geo} dy ${dKind}/${dg}`);
      }
    }
  });

  it('grad-weight: dY per tensor / per output channel / per (channel, pixel) feature, X per tensor', () => {
    const r = new Rng(7);
    for (const geo of QCONV_GEOS) {
      const g = geoArray(geo);
      const [n, c, h, w, oc, kh, kw, s, p, oh, ow] = g;
      const K = c * kh * kw, P = oh * ow;
      for (const [dKind, dg, off] of [['u4', oc * P, true], ['s8', 1, false], ['u8', oc, true]] as const) {
        const dy = codeOperand(r, n * P * oc, dg, dKind, off), x = codeOperand(r, n * c * h * w, 1, 'u8', true);
        const dw = new Float32Array(oc * K).fill(NaN);
        refBackend.qconvGradWeight(g, dy.codes, dy.offset, dy.scale, dy.zero, x.codes, x.offset, x.scale, x.zero, dw);
        const want = new Float64Array(dw.length), mag = new Float64Array(dw.length);
        for (let b = 0; b < n; b++) for (let o = 0; o < oc; o++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
          const pix = oy * ow + ox;
          const d = value(dy, (b * P + pix) * oc + o, dg === 1 ? 0 : dg === oc ? o : pix * oc + o);
          for (let ci = 0; ci < c; ci++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
            const iy = oy * s - p + ky, ix = ox * s - p + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const t = d * value(x, ((b * h + iy) * w + ix) * c + ci, 0), i = o * K + (ci * kh + ky) * kw + kx;
            want[i] += t; mag[i] += Math.abs(t);
          }
        }
        check(dw, want, mag, `grad-weight ${geo} dy ${dKind}/${dg}`);
      }
    }
  });
});
