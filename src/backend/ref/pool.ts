/**
 * Reference pooling kernels over planes of size h×w (one plane per (sample, channel)). Max pooling propagates NaN
 * as PyTorch does: a NaN wins its window (the last NaN in scan order, as torch's `val > max || isnan(val)`).
 */

/** Calls f(index) for every input element of window (oy, ox) of the plane at `base`, in scan order (rows, then columns). */
function forWindow(base: number, h: number, w: number, k: number, stride: number, pad: number, oy: number, ox: number,
  f: (index: number) => void): void {
  for (let i = 0; i < k; i++) {
    const y = oy * stride - pad + i;
    if (y < 0 || y >= h) continue;
    for (let j = 0; j < k; j++) {
      const xx = ox * stride - pad + j;
      if (xx >= 0 && xx < w) f(base + y * w + xx);
    }
  }
}

export function maxPoolForward(x: Float32Array, planes: number, h: number, w: number, k: number, stride: number, pad: number,
  oh: number, ow: number, out: Float32Array, argmax: Int32Array): void {
  for (let p = 0; p < planes; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity, at = -1;
        forWindow(p * h * w, h, w, k, stride, pad, oy, ox, (i) => {
          const v = x[i];
          if (v > best || v !== v || at < 0) { best = v; at = i; }
        });
        const o = (p * oh + oy) * ow + ox;
        out[o] = best;
        argmax[o] = at;
      }
    }
  }
}

export function maxPoolBackward(dy: Float32Array, argmax: Int32Array, planes: number, h: number, w: number, oh: number, ow: number,
  dx: Float32Array): void {
  dx.fill(0);
  const n = planes * oh * ow;
  for (let o = 0; o < n; o++) dx[argmax[o]] += dy[o];
}

export function avgPoolForward(x: Float32Array, planes: number, h: number, w: number, k: number, stride: number, pad: number,
  oh: number, ow: number, out: Float32Array): void {
  const inv = 1 / (k * k);
  for (let p = 0; p < planes; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        let s = 0;
        forWindow(p * h * w, h, w, k, stride, pad, oy, ox, (i) => { s += x[i]; });
        out[(p * oh + oy) * ow + ox] = s * inv;
      }
    }
  }
}

export function avgPoolBackward(dy: Float32Array, planes: number, h: number, w: number, k: number, stride: number, pad: number,
  oh: number, ow: number, dx: Float32Array): void {
  dx.fill(0);
  const inv = 1 / (k * k);
  for (let p = 0; p < planes; p++) {
    for (let oy = 0; oy < oh; oy++) {
      for (let ox = 0; ox < ow; ox++) {
        const g = dy[(p * oh + oy) * ow + ox] * inv;
        forWindow(p * h * w, h, w, k, stride, pad, oy, ox, (i) => { dx[i] += g; });
      }
    }
  }
}
