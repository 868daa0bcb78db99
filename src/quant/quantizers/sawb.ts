/**
 * SAWB-clipped INT-b forward quantizer of LUQ (METHODS §2.2, arithmetic in quant/rounding.ts §4): per tensor,
 *   clip = c1·sqrt(mean(x²)) − c2·mean(|x|),  Δ = 2·clip/(Qp − Qn),  code = rn(clamp(x/Δ, Qn, Qp)),  x̂ = code·Δ.
 * Deterministic and deliberately biased (clipping + nearest; METHODS §6.1): it defines the QAT model.
 * Ranges (strict, the fqt default, METHODS §11.2):
 *   unsigned [0, 2^b − 1]       range 'auto' and min(x) ≥ 0 (post-ReLU activations), decided per call
 *   signed   [−Q, Q], Q = 2^(b−1) − 1   otherwise (weights, activations with negatives)
 * paperCompat (the released code, NOT b-bit: 2^b + 1 or 3·2^(b−1) levels): weights [−2^(b−1), 2^(b−1)],
 * activations with negatives [−2^(b−1), 2^b − 1]. In the original the activation switch is sticky (a module
 * attribute, never reset); here it is decided per call — identical once every input has negatives.
 * The 4-bit coefficients c1 = 12.1, c2 = 12.2 are the code's; other widths need explicit c1, c2.
 * Guards the code lacks: clip ≤ 0 (e.g. ±a weights: rms = mean|x|) uses clip = max|x|; an all-zero tensor gets Δ = 1.
 */
import { backend } from '../../backend/index.js';
import { check } from '../../tensor/errors.js';
import type { Quantizer } from '../quantize.js';
import type { SawbSpec } from '../spec.js';
import { type Grouping, groupingOf, isPlanes, type MatrixData, type QTensor, valuesOf } from '../qtensor.js';
import { roundUpF32 } from '../rounding.js';
import { uninitCodes } from '../../ops/util.js';
import { checkKeys, expectInt, expectOneOf, fail, show } from '../validate.js';

export const SAWB_C1_4BIT = 12.1;
export const SAWB_C2_4BIT = 12.2;

/** Code range [Qn, Qp] for a tensor whose minimum is `min`. */
export function sawbRange(s: SawbSpec, min: number): { qn: number; qp: number } {
  const b = s.bits;
  if (s.range === 'auto' && min >= 0) return { qn: 0, qp: 2 ** b - 1 };
  if (!s.paperCompat) return { qn: -(2 ** (b - 1) - 1), qp: 2 ** (b - 1) - 1 };
  return s.range === 'auto' ? { qn: -(2 ** (b - 1)), qp: 2 ** b - 1 } : { qn: -(2 ** (b - 1)), qp: 2 ** (b - 1) };
}

/** The SAWB clip of a tensor (float64 statistics; guarded, see the file comment). */
export function sawbClip(s: SawbSpec, x: Float32Array): { clip: number; min: number; maxAbs: number } {
  const st = new Float64Array(4);
  backend().momentSums(x, x.length, st);
  const n = Math.max(1, x.length);
  let clip = s.c1 * Math.sqrt(st[0] / n) - s.c2 * (st[1] / n);
  if (!(clip > 0) && Number.isFinite(clip)) clip = st[2];
  return { clip, min: st[3], maxAbs: st[2] };
}

function expectCoefficient(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) fail(path, `must be a finite number ≥ 0, got ${show(v)}`);
  return v;
}

export const sawbQuantizer: Quantizer<'sawb'> = {
  kind: 'sawb',

  parse(raw, path, role) {
    if (role === 'dy') fail(`${path}.kind`, `'sawb' is a forward quantizer (clipping, nearest rounding: biased); use it in x or w slots, not for dY`);
    checkKeys(raw, ['kind', 'bits', 'c1', 'c2', 'range', 'paperCompat'], path);
    const bits = raw.bits === undefined ? 4 : expectInt(raw.bits, `${path}.bits`, 2, 8);
    let c1: number, c2: number;
    if (raw.c1 === undefined && raw.c2 === undefined) {
      if (bits !== 4) fail(`${path}.c1`, `SAWB coefficients are known here for 4 bits only (12.1, 12.2); give c1 and c2 for ${bits} bits`);
      c1 = SAWB_C1_4BIT; c2 = SAWB_C2_4BIT;
    } else {
      if (raw.c1 === undefined || raw.c2 === undefined) fail(`${path}.${raw.c1 === undefined ? 'c1' : 'c2'}`, 'c1 and c2 must be given together');
      c1 = expectCoefficient(raw.c1, `${path}.c1`);
      c2 = expectCoefficient(raw.c2, `${path}.c2`);
    }
    const range = raw.range === undefined ? (role === 'x' ? 'auto' : 'signed') : expectOneOf(raw.range, `${path}.range`, ['auto', 'signed'] as const);
    if (raw.paperCompat !== undefined && typeof raw.paperCompat !== 'boolean') fail(`${path}.paperCompat`, `must be true or false, got ${show(raw.paperCompat)}`);
    const paperCompat = raw.paperCompat === true;
    if (paperCompat && bits === 8) fail(`${path}.paperCompat`, 'the original ranges need 9-bit codes at 8 bits; use bits ≤ 7');
    return { kind: 'sawb', bits, c1, c2, range, paperCompat };
  },

  label: (s: SawbSpec) => `sawb${s.bits}/${s.range}/rn${s.paperCompat ? '/paper' : ''}`,
  code: (s) => `sawb${s.bits}${s.paperCompat ? 'p' : ''}`,
  // paperCompat signed activations span [−2^(b−1), 2^b − 1]: b + 1 bits.
  codeBits: (s) => (s.paperCompat && s.range === 'auto' ? s.bits + 1 : s.bits),
  stochastic: () => false,
  mixesRows: () => false,
  grouping: (_s, rows, cols, rps) => groupingOf('tensor', rows, cols, rps),

  quantize(s, x, rows, cols, ctx) {
    check(x.length === rows * cols, () => `quantize: ${x.length} values for a [${rows}, ${cols}] matrix`);
    return { q: sawbQuantize(s, x, rows, cols, groupingOf('tensor', rows, cols, ctx.rowsPerSample)), transform: null };
  },
  // The clip statistics come from the conv input X itself, in NCHW order, as in the paper's code (SAWB_INT4(X),
  // METHODS §2.6), not from its im2col rows (which repeat interior pixels kh·kw times and add padding zeros). 0 is code 0.
  quantizeConvInput: (s, x) => sawbQuantize(s, x, x.n * x.hw, x.c, groupingOf('tensor', x.n * x.hw, x.c, x.hw)),
};

/** x's codes per tensor (the file comment); clip statistics over x's values as they lie, codes in rows layout. */
function sawbQuantize(s: SawbSpec, x: MatrixData, rows: number, cols: number, grouping: Grouping): QTensor {
  const { clip, min, maxAbs } = rows * cols > 0 ? sawbClip(s, valuesOf(x)) : { clip: 0, min: 0, maxAbs: 0 };
  const { qn, qp } = sawbRange(s, min);
  let scale = maxAbs === 0 && Number.isFinite(clip) ? 1 : roundUpF32((2 * clip) / (qp - qn));
  if (!Number.isFinite(scale)) scale = NaN; // non-finite data propagates NaN
  const signed = qn < 0;
  const codes = uninitCodes(rows * cols, signed); // both kernels write every code
  const offset = new Float32Array(1), inv = Float32Array.of(1 / scale), zp = new Int32Array(1);
  const args = [offset, inv, zp, qn, qp, 0, 0, 0, codes] as const;
  if (rows * cols > 0 && isPlanes(x)) backend().quantizeAffinePlanes(x.data, x.n, x.c, x.hw, 1, 1, cols, ...args);
  else if (rows * cols > 0) backend().quantizeAffine(x as Float32Array, rows, cols, 1, 1, cols, ...args);
  return {
    rows, cols, bits: s.bits, format: signed ? 'symmetric' : 'zeroAligned', signed, rounding: 'nearest', grouping, codes,
    offset, scale: Float32Array.of(scale), zeroPoint: zp, qmin: qn, qmax: qp, draw: null,
  };
}
