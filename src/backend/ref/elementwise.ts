/** Reference elementwise and reduction kernels. */
import type { BinaryOp, ReduceOp, UnaryOp } from '../float-kernels.js';
import { forEachRow } from './layout.js';

export function unary(op: UnaryOp, x: Float32Array, out: Float32Array, p0: number, p1: number): void {
  const n = x.length;
  switch (op) {
    case 'neg': for (let i = 0; i < n; i++) out[i] = -x[i]; return;
    case 'exp': for (let i = 0; i < n; i++) out[i] = Math.exp(x[i]); return;
    case 'log': for (let i = 0; i < n; i++) out[i] = Math.log(x[i]); return;
    case 'sqrt': for (let i = 0; i < n; i++) out[i] = Math.sqrt(x[i]); return;
    case 'abs': for (let i = 0; i < n; i++) out[i] = Math.abs(x[i]); return;
    case 'square': for (let i = 0; i < n; i++) out[i] = x[i] * x[i]; return;
    case 'relu': for (let i = 0; i < n; i++) out[i] = x[i] > 0 || x[i] !== x[i] ? x[i] : 0; return; // relu(NaN) = NaN
    case 'step': for (let i = 0; i < n; i++) out[i] = x[i] > 0 ? 1 : 0; return;
    case 'scale': for (let i = 0; i < n; i++) out[i] = p0 * x[i]; return;
    case 'addScalar': for (let i = 0; i < n; i++) out[i] = x[i] + p0; return;
    case 'powScalar': for (let i = 0; i < n; i++) out[i] = Math.pow(x[i], p0); return;
    case 'clamp': for (let i = 0; i < n; i++) out[i] = Math.min(Math.max(x[i], p0), p1); return;
    case 'insideMask': for (let i = 0; i < n; i++) out[i] = x[i] > p0 && x[i] < p1 ? 1 : 0; return;
    default: {
      const never: never = op;
      throw new Error(`unknown unary op ${String(never)}`);
    }
  }
}

export function firstNonFinite(x: Float32Array, out: Float64Array): void {
  out[0] = -1;
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      out[0] = i;
      return;
    }
  }
}

/**
 * relu(NaN) = NaN, and its mask is 1: PyTorch's relu backward (threshold_backward on the output, zero where
 * out ≤ 0) passes the gradient at a NaN input, so NaN keeps flowing backward (checked against torch 1.13).
 */
export function reluMasked(x: Float32Array, out: Float32Array, mask: Uint32Array): void {
  mask.fill(0, 0, (x.length + 31) >>> 5);
  for (let i = 0; i < x.length; i++) {
    const pos = x[i] > 0 || x[i] !== x[i];
    out[i] = pos ? x[i] : 0;
    if (pos) mask[i >>> 5] |= 1 << (i & 31);
  }
}

export function preluForward(x: Float32Array, n: number, c: number, hw: number, a: Float32Array, y: Float32Array): void {
  for (let s = 0; s < n; s++) {
    for (let ch = 0; ch < c; ch++) {
      const slope = a[ch], at = (s * c + ch) * hw;
      for (let i = at; i < at + hw; i++) y[i] = x[i] > 0 ? x[i] : slope * x[i];
    }
  }
}

export function preluBackward(g: Float32Array, x: Float32Array, n: number, c: number, hw: number, a: Float32Array, dx: Float32Array,
  da: Float32Array): void {
  for (let ch = 0; ch < c; ch++) {
    const slope = a[ch];
    let sum = 0;
    const p = [0, 0, 0, 0];
    for (let s = 0; s < n; s++) {
      const at = (s * c + ch) * hw;
      p.fill(0);
      for (let i = 0; i < hw; i++) {
        const xi = x[at + i], gi = g[at + i];
        dx[at + i] = xi > 0 ? gi : slope * gi;
        p[i & 3] += xi > 0 ? 0 : gi * xi;
      }
      sum += (p[0] + p[1]) + (p[2] + p[3]);
    }
    da[ch] = sum;
  }
}

function apply(op: BinaryOp): (a: number, b: number) => number {
  switch (op) {
    case 'add': return (a, b) => a + b;
    case 'sub': return (a, b) => a - b;
    case 'mul': return (a, b) => a * b;
    case 'div': return (a, b) => a / b;
    // NaN in either operand gives NaN (torch.maximum / torch.minimum); ties keep a.
    case 'max': return (a, b) => (a >= b || a !== a ? a : b);
    case 'min': return (a, b) => (a <= b || a !== a ? a : b);
    case 'eq': return (a, b) => (a === b ? 1 : 0);
    default: {
      const never: never = op;
      throw new Error(`unknown binary op ${String(never)}`);
    }
  }
}

export function binary(op: BinaryOp, a: Float32Array, aStrides: Int32Array, b: Float32Array, bStrides: Int32Array,
  outShape: Int32Array, out: Float32Array): void {
  const f = apply(op);
  const last = outShape.length - 1, sa = aStrides[last] ?? 0, sb = bStrides[last] ?? 0;
  forEachRow(outShape, aStrides, 0, bStrides, 0, (ia, ib, inner, o) => {
    for (let j = 0; j < inner; j++) out[o + j] = f(a[ia + j * sa], b[ib + j * sb]);
  });
}

export function reduce(op: ReduceOp, x: Float32Array, outer: number, len: number, inner: number, out: Float32Array): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      if (op === 'sum') {
        let s = 0;
        for (let r = 0; r < len; r++) s += x[base + r * inner];
        out[o * inner + i] = s;
      } else {
        let m = -Infinity;
        for (let r = 0; r < len; r++) {
          const v = x[base + r * inner];
          if (v > m || Number.isNaN(v)) m = v;
        }
        out[o * inner + i] = m;
      }
    }
  }
}
