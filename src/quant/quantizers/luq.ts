/**
 * LUQ: logarithmic unbiased quantization of neural gradients (METHODS §2.3; arithmetic in quant/rounding.ts §4).
 * Format: radix-2 FP with a sign and e = bits − 1 exponent bits, no mantissa. Per tensor,
 *   α = max|g| / 2^kmax,  levels {0} ∪ {±α·2^k : k = 0..kmax},  kmax = 2^e − 2   (e = 3: kmax = 6, 8 magnitude codes)
 *   |g| < α:  stochastic underflow to α with probability |g|/α, else 0
 *   |g| ≥ α:  k = ⌊log2(|g|/α)⌋, round to α·2^(k+1) with probability |g|/(α·2^k) − 1, else α·2^k
 * Both steps are unbiased (E = |g|); exact zeros stay zero; the max element maps exactly to α·2^kmax (no
 * clipping). Element variance: |g|(α − |g|) below α, (|g| − lo)(2lo − |g|) above (lo = α·2^k).
 * Deviations from the released code (METHODS §11.2), by design: abs-max instead of the signed max (which lets
 * large negative gradients exceed the top level), and kmax = 2^e − 2 instead of 2^e − 1 (α = max/2^7 needs
 * 9 magnitude codes: not a 4-bit format, and its integer codes ±128 would not fit int8). Degenerate inputs on
 * which the code returns NaN (all-zero or all-negative dY) give exact zeros / finite unbiased codes here.
 * GEMM operand: the code is stored as the integer sign·2^k (int8 for kmax ≤ 6) with one scale α per tensor,
 * so LUQ × INT4 runs exactly on gemmI8 (shift-and-add in hardware, METHODS §2.7).
 */
import { backend } from '../../backend/index.js';
import type { Quantizer } from '../quantize.js';
import type { LuqSpec } from '../spec.js';
import { groupingOf, type QTensor, rangeStats } from '../qtensor.js';
import { check } from '../../tensor/errors.js';
import { checkKeys, expectInt, fail } from '../validate.js';

/** Largest exponent of the format: 2^e − 2 with e = bits − 1 exponent bits (2^e magnitude codes incl. 0). */
export function luqKmax(bits: number): number {
  return 2 ** (bits - 1) - 2;
}

/** α = max|g|/2^kmax as a float32 (exact, a power-of-two scaling); NaN for non-finite data. */
export function luqAlpha(maxAbs: number, kmax: number): number {
  return Number.isFinite(maxAbs) ? Math.fround(maxAbs * 2 ** -kmax) : NaN;
}

export const luqQuantizer: Quantizer<'luq'> = {
  kind: 'luq',

  parse(raw, path, role) {
    if (role !== 'dy') fail(`${path}.kind`, `'luq' quantizes gradients: it is only valid in a 'dy' slot`);
    if (raw.paperCompat !== undefined) {
      fail(`${path}.paperCompat`, 'not offered for LUQ: the original α = max/2^(2^e − 1) needs 2^e + 1 magnitude codes (not a 4-bit format; codes ±128 do not fit int8); fqt uses kmax = 2^e − 2');
    }
    checkKeys(raw, ['kind', 'bits'], path);
    const bits = raw.bits === undefined ? 4 : expectInt(raw.bits, `${path}.bits`, 2, 4);
    return { kind: 'luq', bits };
  },

  label: (s: LuqSpec) => `luq${s.bits}/e${s.bits - 1}/sr`,
  code: (s) => `luq${s.bits}`,
  // The integer value sign·2^k of a code needs kmax + 2 bits (two's complement): 8 for 4-bit LUQ.
  codeBits: (s) => luqKmax(s.bits) + 2,
  stochastic: () => true,
  mixesRows: () => false,
  grouping: (_s, rows, cols, rps) => groupingOf('tensor', rows, cols, rps),

  quantize(s, x, rows, cols, ctx) {
    check(x.length === rows * cols, () => `quantize: ${x.length} values for a [${rows}, ${cols}] matrix`);
    check(ctx.draw !== null, 'internal: LUQ needs a (seed, stream) draw');
    const grouping = groupingOf('tensor', rows, cols, ctx.rowsPerSample);
    const kmax = luqKmax(s.bits);
    const n = rows * cols;
    const { mins, maxs } = rangeStats(x, rows, cols, grouping);
    const alpha = n > 0 ? luqAlpha(Math.max(-mins[0], maxs[0]), kmax) : 0;
    const codes = new Int8Array(n);
    if (n > 0) backend().quantizeLuq(x, n, Float32Array.of(alpha), kmax, ctx.draw.seed, ctx.draw.stream, codes);
    const q: QTensor = {
      rows, cols, bits: s.bits, format: 'symmetric', signed: true, rounding: 'stochastic', grouping, codes,
      offset: new Float32Array(1), scale: Float32Array.of(alpha), zeroPoint: new Int32Array(1), qmin: -(2 ** kmax), qmax: 2 ** kmax,
      draw: ctx.draw,
    };
    return { q, transform: null };
  },
};
