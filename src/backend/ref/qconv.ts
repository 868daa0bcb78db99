/**
 * Reference fused integer convolutions (backend/qconv-kernels.ts): the specification the native kernels match
 * bit-exactly. Plain loops; integer sums are exact in float64 (|U| < 2^53 for any layer that fits in memory).
 */
import type { QconvKernels } from '../qconv-kernels.js';
import { blockHouseholder } from './quant-transform.js';

/** The epilogue of qconv-kernels.ts, in float64 (JavaScript numbers), before the float32 rounding. */
export function qconvEpilogue(u: number, ua: number, ub: number, kv: number, oa: number, sa: number, ob: number, sb: number): number {
  if (kv === 0) return 0;
  let r = sa * sb * u;
  if (oa !== 0) r += oa * sb * ub;
  if (ob !== 0) r += oa !== 0 ? ob * sa * ua + kv * oa * ob : ob * sa * ua;
  return r;
}

/** The 11 integers of a fused conv kernel's `geo` (qconv-kernels.ts), by name; the binary conv kernels share it. */
export interface ConvGeo { n: number; c: number; h: number; w: number; oc: number; kh: number; kw: number; stride: number; pad: number; oh: number; ow: number }

export function convGeo(geo: Int32Array): ConvGeo {
  const [n, c, h, w, oc, kh, kw, stride, pad, oh, ow] = geo;
  return { n, c, h, w, oc, kh, kw, stride, pad, oh, ow };
}

export const refQconvKernels: QconvKernels = {
  qconvForward(geo, x, xo, xs, xz, wc, wo, ws, wz, y) {
    const { n, c, h, w, oc, kh, kw, stride: s, pad: p, oh, ow } = convGeo(geo);
    const K = c * kh * kw;
    for (let b = 0; b < n; b++) {
      const gx = xs.length === 1 ? 0 : b;
      for (let o = 0; o < oc; o++) {
        const gw = ws.length === 1 ? 0 : o;
        for (let oy = 0; oy < oh; oy++) {
          for (let ox = 0; ox < ow; ox++) {
            let u = 0, ua = 0, ub = 0, kv = 0;
            for (let ci = 0; ci < c; ci++) {
              for (let ky = 0; ky < kh; ky++) {
                const iy = oy * s - p + ky;
                if (iy < 0 || iy >= h) continue;
                for (let kx = 0; kx < kw; kx++) {
                  const ix = ox * s - p + kx;
                  if (ix < 0 || ix >= w) continue;
                  const qa = x[((b * h + iy) * w + ix) * c + ci] - xz[gx];
                  const qb = wc[o * K + (ci * kh + ky) * kw + kx] - wz[gw];
                  u += qa * qb; ua += qa; ub += qb; kv++;
                }
              }
            }
            y[((b * oc + o) * oh + oy) * ow + ox] = Math.fround(qconvEpilogue(u, ua, ub, kv, xo[gx], xs[gx], wo[gw], ws[gw]));
          }
        }
      }
    }
  },

  qconvGradInput(geo, dy, dyo, dys, dyz, wc, wo, ws, wz, dx, order, groupSizes, rowScale) {
    const { n, c, h, w, oc, kh, kw, stride: s, pad: p, oh, ow } = convGeo(geo);
    const K = c * kh * kw, P = oh * ow;
    for (let b = 0; b < n; b++) {
      const ga = dys.length === 1 ? 0 : b;
      for (let ci = 0; ci < c; ci++) {
        for (let iy = 0; iy < h; iy++) {
          for (let ix = 0; ix < w; ix++) {
            let u = 0, ua = 0, ub = 0, kv = 0;
            for (let o = 0; o < oc; o++) {
              for (let ky = 0; ky < kh; ky++) {
                const ty = iy + p - ky;
                if (ty < 0 || ty % s !== 0 || ty / s >= oh) continue;
                for (let kx = 0; kx < kw; kx++) {
                  const tx = ix + p - kx;
                  if (tx < 0 || tx % s !== 0 || tx / s >= ow) continue;
                  const qa = dy[(b * P + (ty / s) * ow + tx / s) * oc + o] - dyz[ga];
                  const qb = wc[o * K + (ci * kh + ky) * kw + kx] - wz[0];
                  u += qa * qb; ua += qa; ub += qb; kv++;
                }
              }
            }
            dx[((b * c + ci) * h + iy) * w + ix] = Math.fround(qconvEpilogue(u, ua, ub, kv, dyo[ga], dys[ga], wo[0], ws[0]));
          }
        }
      }
    }
    if (order.length > 0 && dx.length > 0) blockHouseholder(dx, n, c * h * w, order, groupSizes, rowScale, 1, dx);
  },

  qconvGradWeight(geo, dy, dyo, dys, dyz, x, xo, xs, xz, dw) {
    const { n, c, h, w, oc, kh, kw, stride: s, pad: p, oh, ow } = convGeo(geo);
    const P = oh * ow;
    const feature = dys.length === oc * P && P > 1;
    for (let o = 0; o < oc; o++) {
      for (let ci = 0; ci < c; ci++) {
        for (let ky = 0; ky < kh; ky++) {
          for (let kx = 0; kx < kw; kx++) {
            let total = 0, u = 0, ua = 0, ub = 0, kv = 0;
            for (let oy = 0; oy < oh; oy++) {
              const iy = oy * s - p + ky;
              if (iy < 0 || iy >= h) continue;
              for (let ox = 0; ox < ow; ox++) {
                const ix = ox * s - p + kx;
                if (ix < 0 || ix >= w) continue;
                const pix = oy * ow + ox;
                const ga = feature ? pix * oc + o : dys.length === 1 ? 0 : o;
                for (let b = 0; b < n; b++) {
                  const qa = dy[(b * P + pix) * oc + o] - dyz[ga];
                  const qb = x[((b * h + iy) * w + ix) * c + ci] - xz[0];
                  u += qa * qb; ua += qa; ub += qb; kv++;
                }
                if (feature) {
                  total += qconvEpilogue(u, ua, ub, kv, dyo[ga], dys[ga], xo[0], xs[0]);
                  u = 0; ua = 0; ub = 0; kv = 0;
                }
              }
            }
            const g = dys.length === 1 ? 0 : o;
            dw[o * c * kh * kw + (ci * kh + ky) * kw + kx] = Math.fround(feature ? total : qconvEpilogue(u, ua, ub, kv, dyo[g], dys[g], xo[0], xs[0]));
          }
        }
      }
    }
  },
};
