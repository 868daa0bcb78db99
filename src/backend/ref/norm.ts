/** Reference batch-norm kernels over x viewed as [n, c, hw]. Statistics are accumulated in float64. */

export function channelMoments(x: Float32Array, n: number, c: number, hw: number, mean: Float32Array, variance: Float32Array): void {
  const m = n * hw;
  for (let ch = 0; ch < c; ch++) {
    let s = 0;
    for (let s0 = 0; s0 < n; s0++) {
      const base = (s0 * c + ch) * hw;
      for (let p = 0; p < hw; p++) s += x[base + p];
    }
    const mu = m > 0 ? s / m : 0;
    let q = 0;
    for (let s0 = 0; s0 < n; s0++) {
      const base = (s0 * c + ch) * hw;
      for (let p = 0; p < hw; p++) {
        const d = x[base + p] - mu;
        q += d * d;
      }
    }
    mean[ch] = mu;
    variance[ch] = m > 0 ? q / m : 0;
  }
}

export function batchNormForward(x: Float32Array, n: number, c: number, hw: number, mean: Float32Array, invStd: Float32Array,
  gamma: Float32Array, beta: Float32Array, out: Float32Array): void {
  for (let s = 0; s < n; s++) {
    for (let ch = 0; ch < c; ch++) {
      const base = (s * c + ch) * hw;
      const mu = mean[ch], k = invStd[ch] * gamma[ch], b = beta[ch];
      for (let p = 0; p < hw; p++) out[base + p] = (x[base + p] - mu) * k + b;
    }
  }
}

export function batchNormBackward(x: Float32Array, dy: Float32Array, n: number, c: number, hw: number, mean: Float32Array,
  invStd: Float32Array, gamma: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void {
  const m = n * hw;
  for (let ch = 0; ch < c; ch++) {
    const mu = mean[ch], is = invStd[ch];
    let sdy = 0, sdyx = 0;
    for (let s = 0; s < n; s++) {
      const base = (s * c + ch) * hw;
      for (let p = 0; p < hw; p++) {
        const g = dy[base + p];
        sdy += g;
        sdyx += g * (x[base + p] - mu) * is;
      }
    }
    dbeta[ch] = sdy;
    dgamma[ch] = sdyx;
    const k = gamma[ch] * is;
    const a = sdy / m, b = sdyx / m;
    for (let s = 0; s < n; s++) {
      const base = (s * c + ch) * hw;
      for (let p = 0; p < hw; p++) {
        const xh = (x[base + p] - mu) * is;
        dx[base + p] = k * (dy[base + p] - a - xh * b);
      }
    }
  }
}
