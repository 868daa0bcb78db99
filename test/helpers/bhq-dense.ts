/**
 * Dense forms of BHQ's transform (METHODS §1.5), the oracles of the BHQ property tests: src/ applies T in O(N·D)
 * through the blockHouseholder kernel and never forms these matrices.
 */
import type { BhqTransform } from '../../src/quant/transforms.js';

/** Dense H_G (float64): H = I − wwᵀ/(1 − a), w = (a−1, a, …, a), a = 1/√G. */
export function householderMatrix(g: number): Float64Array {
  const h = new Float64Array(g * g);
  if (g === 1) { h[0] = 1; return h; }
  const a = 1 / Math.sqrt(g);
  const w = Array.from({ length: g }, (_, j) => (j === 0 ? a - 1 : a));
  for (let i = 0; i < g; i++) for (let j = 0; j < g; j++) h[i * g + j] = (i === j ? 1 : 0) - (w[i] * w[j]) / (1 - a);
  return h;
}

/** Dense T and T⁻¹ in float64 (N×N). */
export function bhqDense(t: BhqTransform): { T: Float64Array; Tinv: Float64Array } {
  const n = t.n;
  const T = new Float64Array(n * n), Tinv = new Float64Array(n * n);
  let start = 0;
  for (const G of t.groupSizes) {
    const H = householderMatrix(G);
    for (let a = 0; a < G; a++) {
      for (let b = 0; b < G; b++) {
        const ra = t.order[start + a], rb = t.order[start + b];
        T[ra * n + rb] = H[a * G + b] * t.rowScale[rb];
        Tinv[ra * n + rb] = H[a * G + b] / t.rowScale[ra];
      }
    }
    start += G;
  }
  return { T, Tinv };
}

