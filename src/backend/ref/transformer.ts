/** Reference transformer kernels (backend/transformer-kernels.ts): float64 statistics, one rounding on store. */
import type { ActivationOp } from '../transformer-kernels.js';
import { sgemmT } from './gemm.js';

export function layerNormForward(x: Float32Array, rows: number, cols: number, gamma: Float32Array, beta: Float32Array,
  eps: number, rms: number, out: Float32Array, mean: Float32Array, rstd: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mu = 0;
    if (!rms) {
      for (let c = 0; c < cols; c++) mu += x[o + c];
      mu /= cols;
    }
    let q = 0;
    for (let c = 0; c < cols; c++) { const d = x[o + c] - mu; q += d * d; }
    const rs = 1 / Math.sqrt(q / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let c = 0; c < cols; c++) out[o + c] = (x[o + c] - mu) * rs * gamma[c] + (rms ? 0 : beta[c]);
  }
}

export function layerNormBackward(x: Float32Array, dy: Float32Array, rows: number, cols: number, gamma: Float32Array,
  mean: Float32Array, rstd: Float32Array, rms: number, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void {
  const dg = new Float64Array(cols), db = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols, mu = mean[r], rs = rstd[r];
    let sg = 0, sgx = 0;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c] - mu) * rs, g = dy[o + c] * gamma[c];
      sg += g;
      sgx += g * xh;
      dg[c] += dy[o + c] * xh;
      db[c] += dy[o + c];
    }
    const a = rms ? 0 : sg / cols, b = sgx / cols;
    for (let c = 0; c < cols; c++) {
      const xh = (x[o + c] - mu) * rs;
      dx[o + c] = rs * (dy[o + c] * gamma[c] - a - xh * b);
    }
  }
  for (let c = 0; c < cols; c++) {
    dgamma[c] = dg[c];
    if (!rms) dbeta[c] = db[c];
  }
}

export function softmaxForward(x: Float32Array, rows: number, cols: number, causal: number, out: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols, last = causal ? r % cols : cols - 1;
    let mx = -Infinity;
    for (let c = 0; c <= last; c++) mx = Math.max(mx, x[o + c]);
    const e = new Float64Array(last + 1);
    let z = 0;
    for (let c = 0; c <= last; c++) z += e[c] = Math.exp(x[o + c] - mx);
    for (let c = 0; c < cols; c++) out[o + c] = c <= last ? e[c] / z : 0;
  }
}

export function softmaxBackward(y: Float32Array, dy: Float32Array, rows: number, cols: number, dx: Float32Array): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    for (let c = 0; c < cols; c++) s += dy[o + c] * y[o + c];
    for (let c = 0; c < cols; c++) dx[o + c] = y[o + c] * (dy[o + c] - s);
  }
}

const GELU_K = Math.sqrt(2 / Math.PI);

/** act(v) and act'(v) in float64; tanh(u) is written 1 − 2/(exp(2u) + 1) (one exp, as the native kernel). */
export function activation(op: ActivationOp, v: number): [number, number] {
  if (op === 'gelu') {
    const u = GELU_K * (v + 0.044715 * v * v * v), t = 1 - 2 / (Math.exp(2 * u) + 1);
    return [0.5 * v * (1 + t), 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * GELU_K * (1 + 3 * 0.044715 * v * v)];
  }
  const s = 1 / (1 + Math.exp(-v));
  return [v * s, s * (1 + v * (1 - s))];
}

export function activationForward(op: ActivationOp, x: Float32Array, out: Float32Array): void {
  for (let i = 0; i < x.length; i++) out[i] = activation(op, x[i])[0];
}

export function activationBackward(op: ActivationOp, x: Float32Array, dy: Float32Array, dx: Float32Array): void {
  for (let i = 0; i < x.length; i++) dx[i] = dy[i] * activation(op, x[i])[1];
}

export function embeddingForward(ids: Int32Array, table: Float32Array, dim: number, out: Float32Array): void {
  for (let i = 0; i < ids.length; i++) out.set(table.subarray(ids[i] * dim, (ids[i] + 1) * dim), i * dim);
}

export function embeddingBackward(ids: Int32Array, dy: Float32Array, dim: number, dtable: Float32Array): void {
  dtable.fill(0);
  for (let i = 0; i < ids.length; i++) {
    const o = ids[i] * dim;
    for (let d = 0; d < dim; d++) dtable[o + d] += dy[i * dim + d];
  }
}

export function sgemmBatched(batch: number, m: number, n: number, k: number, a: Float32Array, transA: number, b: Float32Array,
  transB: number, c: Float32Array): void {
  for (let i = 0; i < batch; i++) {
    sgemmT(m, n, k, a.subarray(i * m * k, (i + 1) * m * k), transA, b.subarray(i * n * k, (i + 1) * n * k), transB,
      c.subarray(i * m * n, (i + 1) * m * n));
  }
}
