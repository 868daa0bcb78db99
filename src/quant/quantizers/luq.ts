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
 * `paperCompat: true` restores the released code for reproduction (quant/rounding.ts §4): α = max(g)/2^(2^e − 1)
 * from the SIGNED max, no top level. It is NOT a 4-bit format: its magnitudes 2^0..2^7 (and beyond, for negatives
 * larger than the max) need log codes (QTensor levels 'log2'), computed here in TypeScript, and every GEMM that
 * takes them runs fp32-dequant (the plan says so: codes wider than 8 bits). Where max(g) ≤ 0 the code divides by
 * a non-positive α (NaN); paperCompat then uses max|g|, the one documented difference.
 * GEMM operand: the code is stored as the integer sign·2^k (int8 for kmax ≤ 6) with one scale α per tensor,
 * so LUQ × INT4 runs exactly on gemmI8 (shift-and-add in hardware, METHODS §2.7).
 */
import { backend } from '../../backend/index.js';
import { streamKey, uniformAt } from '../../tensor/random.js';
import type { QuantContext, QuantizedOperand, Quantizer } from '../quantize.js';
import type { LuqSpec } from '../spec.js';
import { groupingOf, isPlanes, type MatrixData, type QTensor, rangeStats, rowsOf, valuesOf } from '../qtensor.js';
import { check } from '../../tensor/errors.js';
import { checkKeys, expectInt, fail, show } from '../validate.js';
import { uninitCodes } from '../../ops/util.js';

/** Largest exponent of the format: 2^e − 2 with e = bits − 1 exponent bits (2^e magnitude codes incl. 0). */
export function luqKmax(bits: number): number {
  return 2 ** (bits - 1) - 2;
}

/** Largest exponent of the released code: 2^e − 1 (α = max/2^7 for 4 bits). */
export function luqPaperKmax(bits: number): number {
  return 2 ** (bits - 1) - 1;
}

/** Largest |log code| of paperCompat (Int8Array): magnitudes α·2^0 … α·2^126. */
const MAX_LOG_CODE = 127;

/** paperCompat: the released code's LUQ (file comment), as log codes sign·(k + 1). */
function quantizePaper(s: LuqSpec, x: Float32Array, rows: number, cols: number, draw: { seed: number; stream: number }): QTensor {
  const grouping = groupingOf('tensor', rows, cols, 1);
  const n = rows * cols;
  const { mins, maxs } = rangeStats(x, rows, cols, grouping);
  const signedMax = n > 0 ? maxs[0] : 0;
  const alpha = luqAlpha(signedMax > 0 ? signedMax : Math.max(-mins[0], signedMax), luqPaperKmax(s.bits));
  const codes = new Int8Array(n);
  const key = streamKey(draw.seed, draw.stream);
  for (let i = 0; i < n && alpha > 0; i++) {
    const v = x[i];
    const r = Math.fround(Math.abs(v) / alpha);
    if (v === 0 || !(r >= 0)) continue; // zeros stay zero; NaN → 0
    const k = Math.max(0, Math.floor(Math.log2(r)));
    const steps = Math.floor(r / 2 ** k + uniformAt(key, i)); // 0, 1 or 2 (exact in float64)
    const c = steps === 0 ? 0 : Math.min(MAX_LOG_CODE, k + steps);
    codes[i] = v < 0 ? -c : c;
  }
  return {
    rows, cols, bits: s.bits, format: 'symmetric', signed: true, rounding: 'stochastic', grouping, codes, levels: 'log2',
    offset: new Float32Array(1), scale: Float32Array.of(alpha), zeroPoint: new Int32Array(1), qmin: -MAX_LOG_CODE, qmax: MAX_LOG_CODE, draw,
  };
}

/** α = max|g|/2^kmax as a float32 (exact, a power-of-two scaling); NaN for non-finite data. */
export function luqAlpha(maxAbs: number, kmax: number): number {
  return Number.isFinite(maxAbs) ? Math.fround(maxAbs * 2 ** -kmax) : NaN;
}

export const luqQuantizer: Quantizer<'luq'> = {
  kind: 'luq',

  parse(raw, path, role) {
    if (role !== 'dy') fail(`${path}.kind`, `'luq' quantizes gradients: it is only valid in a 'dy' slot`);
    checkKeys(raw, ['kind', 'bits', 'paperCompat'], path);
    const bits = raw.bits === undefined ? 4 : expectInt(raw.bits, `${path}.bits`, 2, 4);
    if (raw.paperCompat !== undefined && typeof raw.paperCompat !== 'boolean') fail(`${path}.paperCompat`, `must be true or false, got ${show(raw.paperCompat)}`);
    return raw.paperCompat === true ? { kind: 'luq', bits, paperCompat: true } : { kind: 'luq', bits };
  },

  label: (s: LuqSpec) => `luq${s.bits}/e${s.bits - 1}/sr${s.paperCompat ? '/paper-compat (not a 4-bit format)' : ''}`,
  code: (s) => `luq${s.bits}${s.paperCompat ? 'pc' : ''}`,
  // The integer value sign·2^k of a code needs kmax + 2 bits (two's complement): 8 for 4-bit LUQ, 9 for paperCompat
  // (which therefore never takes the int8 path).
  codeBits: (s) => (s.paperCompat ? luqPaperKmax(s.bits) : luqKmax(s.bits)) + 2,
  stochastic: () => true,
  mixesRows: () => false,
  grouping: (_s, rows, cols, rps) => groupingOf('tensor', rows, cols, rps),

  quantize: (s, x, rows, cols, ctx) => quantizeLuqMatrix(s, x, rows, cols, ctx),
  quantizePlanes: (s, x, ctx) => quantizeLuqMatrix(s, x, x.n * x.hw, x.c, ctx),
};

function quantizeLuqMatrix(s: LuqSpec, x: MatrixData, rows: number, cols: number, ctx: QuantContext): QuantizedOperand {
  const n = rows * cols;
  check(valuesOf(x).length === n, () => `quantize: ${valuesOf(x).length} values for a [${rows}, ${cols}] matrix`);
  check(ctx.draw !== null, 'internal: LUQ needs a (seed, stream) draw');
  if (s.paperCompat) return { q: quantizePaper(s, rowsOf(x), rows, cols, ctx.draw), transform: null };
  const grouping = groupingOf('tensor', rows, cols, ctx.rowsPerSample);
  const kmax = luqKmax(s.bits);
  const { mins, maxs } = rangeStats(x, rows, cols, grouping);
  const alpha = Float32Array.of(n > 0 ? luqAlpha(Math.max(-mins[0], maxs[0]), kmax) : 0);
  const codes = uninitCodes(n, true) as Int8Array, { seed, stream } = ctx.draw;
  if (n > 0 && isPlanes(x)) backend().quantizeLuqPlanes(x.data, x.n, x.c, x.hw, alpha, kmax, seed, stream, codes);
  else if (n > 0) backend().quantizeLuq(valuesOf(x), n, alpha, kmax, seed, stream, codes);
  const q: QTensor = {
    rows, cols, bits: s.bits, format: 'symmetric', signed: true, rounding: 'stochastic', grouping, codes,
    offset: new Float32Array(1), scale: alpha, zeroPoint: new Int32Array(1), qmin: -(2 ** kmax), qmax: 2 ** kmax, draw: ctx.draw,
  };
  return { q, transform: null };
}
