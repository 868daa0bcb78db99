/** Random and hand-made tensors for tests (deterministic: every generator is seeded). */
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { type Shape, shapeSize } from '../../src/tensor/shape.js';

/** Normal values N(mean, std²) from seed `seed`. */
export function randn(shape: Shape, seed: number, std = 1, mean = 0): Tensor {
  const data = new Float32Array(shapeSize(shape));
  new Rng(seed).fillNormal(data, mean, std);
  return new Tensor(data, shape);
}

/** Uniform values in [lo, hi) from seed `seed`. */
export function randu(shape: Shape, seed: number, lo = 0, hi = 1): Tensor {
  const data = new Float32Array(shapeSize(shape));
  new Rng(seed).fillUniform(data);
  for (let i = 0; i < data.length; i++) data[i] = lo + (hi - lo) * data[i];
  return new Tensor(data, shape);
}

/**
 * Values at least `margin` away from every point in `kinks` (for relu / abs / clamp ...): each value
 * too close to a kink is pushed to kink ± margin (keeping its side). Finite differences with a step
 * below `margin` then never straddle a non-differentiable point.
 */
export function awayFrom(t: Tensor, kinks: readonly number[], margin: number): Tensor {
  const data = new Float32Array(t.data);
  for (let i = 0; i < data.length; i++) {
    for (const k of kinks) {
      const d = data[i] - k;
      if (Math.abs(d) < margin) data[i] = k + (d >= 0 ? margin : -margin);
    }
  }
  return new Tensor(data, t.shape);
}

/**
 * Distinct values with gaps of at least `gap` between any two (a shuffled ramp plus small noise), so a
 * max / max-pool never has a tie or a near-tie that a finite difference could flip.
 */
export function distinct(shape: Shape, seed: number, gap = 0.1): Tensor {
  const n = shapeSize(shape);
  const perm = new Rng(seed).permutation(n);
  const noise = new Float32Array(n);
  new Rng(seed + 1).fillUniform(noise);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (perm[i] - n / 2) * 2 * gap + noise[i] * 0.5 * gap;
  return new Tensor(data, shape);
}

/** A leaf that requires a gradient, with a copy of `t`'s values. */
export function leaf(t: Tensor): Tensor {
  return new Tensor(new Float32Array(t.data), t.shape, true);
}

/** A tensor from a nested-free list and a shape. */
export function T(values: readonly number[], shape: Shape): Tensor {
  return new Tensor(Float32Array.from(values), shape);
}
