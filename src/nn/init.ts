/** Weight initialisation (Kaiming / He normal, fan-in, gain √2 for ReLU networks). */
import type { Rng } from '../tensor/random.js';

export function kaimingNormal(rng: Rng, size: number, fanIn: number, gain = Math.SQRT2): Float32Array {
  const out = new Float32Array(size);
  rng.fillNormal(out, 0, gain / Math.sqrt(Math.max(1, fanIn)));
  return out;
}

/** U(−1/√fanIn, 1/√fanIn): PyTorch's default for biases. */
export function fanInUniform(rng: Rng, size: number, fanIn: number): Float32Array {
  const out = new Float32Array(size);
  rng.fillUniform(out);
  const bound = 1 / Math.sqrt(Math.max(1, fanIn));
  for (let i = 0; i < size; i++) out[i] = (2 * out[i] - 1) * bound;
  return out;
}
