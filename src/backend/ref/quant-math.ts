/** Scalar helpers of the quantization arithmetic specified in quant/rounding.ts (shared by ref kernels and quant/). */

/** Round half to even (PyTorch `round_`, numpy `rint`). */
export function roundHalfEven(s: number): number {
  const r = Math.round(s); // rounds halves up
  return r - s === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Float32 coefficients of the Householder reflection of a size-G group (quant/rounding.ts section 3). */
export function householderCoefficients(g: number): { a: number; wl: number; c: number } {
  const a = Math.fround(1 / Math.sqrt(g));
  return { a, wl: Math.fround(a - 1), c: Math.fround(1 / Math.fround(1 - a)) };
}
