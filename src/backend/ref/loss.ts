/** Reference loss, dropout and optimizer-update kernels. */
import { streamKey, uniformAt } from '../../tensor/random.js';

export function softmaxCrossEntropy(logits: Float32Array, labels: Int32Array, n: number, classes: number, smoothing: number,
  losses: Float32Array, dlogits: Float32Array): void {
  const off = smoothing / classes;
  const on = 1 - smoothing + off;
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    let mx = -Infinity;
    for (let c = 0; c < classes; c++) mx = Math.max(mx, logits[row + c]);
    let z = 0;
    for (let c = 0; c < classes; c++) z += Math.exp(logits[row + c] - mx);
    const logZ = Math.log(z) + mx;
    const label = labels[i];
    let loss = 0;
    for (let c = 0; c < classes; c++) {
      const target = c === label ? on : off;
      const logp = logits[row + c] - logZ;
      if (target !== 0) loss -= target * logp;
      dlogits[row + c] = Math.exp(logp) - target;
    }
    losses[i] = loss;
  }
}

export function dropoutMask(seed: number, stream: number, p: number, out: Float32Array): void {
  const key = streamKey(seed, stream);
  const keep = 1 / (1 - p);
  for (let i = 0; i < out.length; i++) out[i] = uniformAt(key, i) >= p ? keep : 0;
}
