/** Reference optimizer updates (PyTorch semantics; see FloatKernels for the formulas). */

export function sgdUpdate(w: Float32Array, g: Float32Array, buf: Float32Array, lr: number, momentum: number, weightDecay: number,
  nesterov: number, first: number): void {
  for (let i = 0; i < w.length; i++) {
    const gi = g[i] + weightDecay * w[i];
    let step = gi;
    if (momentum !== 0) {
      const b = first ? gi : momentum * buf[i] + gi;
      buf[i] = b;
      step = nesterov ? gi + momentum * b : b;
    }
    w[i] -= lr * step;
  }
}

export function adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, beta1: number,
  beta2: number, eps: number, weightDecay: number, decoupled: number, step: number): void {
  const bc1 = 1 - Math.pow(beta1, step);
  const bc2 = 1 - Math.pow(beta2, step);
  for (let i = 0; i < w.length; i++) {
    let gi = g[i];
    if (decoupled) w[i] -= lr * weightDecay * w[i];
    else gi += weightDecay * w[i];
    m[i] = beta1 * m[i] + (1 - beta1) * gi;
    v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
    w[i] -= (lr * (m[i] / bc1)) / (Math.sqrt(v[i] / bc2) + eps);
  }
}
