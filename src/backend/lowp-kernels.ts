/**
 * Kernels of today's low-precision training formats (METHODS §5.3–5.4): the random Hadamard transform and rounding
 * onto a small floating-point grid (E2M1, E4M3) with block scales. The arithmetic is specified in the comment block
 * of quant/rounding.ts (§5, §6); native kernels match the reference bit for bit.
 */

/** Element grids: 0 = E2M1 (FP4), 1 = E4M3 (FP8, OCP E4M3FN: no infinities, max 448). */
export type MinifloatCode = 0 | 1;

export interface LowpKernels {
  /**
   * Randomised blocked Walsh–Hadamard transform of every row of x[rows, cols] (quant/rounding.ts §5): the first
   * ⌊cols/block⌋·block columns form blocks of `block` (a power of two), the tail stays as it is.
   *   forward (inverse = 0): y = x ⊙ signs, then each block ← H·y/√block
   *   inverse (inverse = 1): each block ← H·x/√block, then y ⊙ signs
   * signs[cols] holds ±1. H is the Sylvester Hadamard matrix, applied by butterflies in a fixed order.
   */
  hadamardTransform(x: Float32Array, rows: number, cols: number, block: number, signs: Float32Array, inverse: number,
    out: Float32Array): void;

  /**
   * Round x[rows, cols] onto a minifloat grid with one scale per group (quant/rounding.ts §6): t = f32(x·inv[g]);
   * nearest (RNE) or stochastic rounding between the neighbouring grid points of |t| (saturating at the largest
   * value). Codes: E2M1 → Int8Array of 2·value (integers −12..12); E4M3 → Uint8Array of the E4M3 bit pattern.
   * A non-finite t (NaN input, or the zero inv of a NaN scale) gives code 0: the NaN is carried by the group's scale.
   */
  quantizeMinifloat(x: Float32Array, rows: number, cols: number, rowDiv: number, rowMod: number, colDiv: number,
    inv: Float32Array, format: MinifloatCode, stochastic: number, seed: number, stream: number,
    codes: Int8Array | Uint8Array): void;
}
