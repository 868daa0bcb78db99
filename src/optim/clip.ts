/** Gradient clipping by global norm (PyTorch's clip_grad_norm_): if ‖g‖₂ over all gradients exceeds maxNorm, scale every gradient by maxNorm/(‖g‖₂ + 1e-6). */
import type { GradStore } from '../autograd/graph.js';
import { backend } from '../backend/index.js';
import { check } from '../tensor/errors.js';

/** Clip in place; returns the global norm before clipping (float64 sum of squares). */
export function clipGradNorm(grads: GradStore, maxNorm: number): number {
  check(Number.isFinite(maxNorm) && maxNorm > 0, () => `clipGradNorm: maxNorm must be a positive number, got ${maxNorm}`);
  const sums = new Float64Array(4);
  let sq = 0;
  for (const [, g] of grads.entries()) {
    backend().momentSums(g.data, g.size, sums); // sums[0] = Σ x² (float64)
    sq += sums[0];
  }
  const norm = Math.sqrt(sq);
  if (norm > maxNorm) {
    const s = maxNorm / (norm + 1e-6);
    for (const [, g] of grads.entries()) backend().unary('scale', g.data, g.data, s, 0);
  }
  return norm;
}
