/**
 * AGP + SCQ (METHODS §3.3, §3.4): dY is quantized with asymmetric min/max codes and stochastic rounding per
 * group — 'sample' (rows of one sample; the grad-input path, scale shape [N]) or 'column' (one output channel
 * over all N·H·W rows; the grad-weight path, scale shape [C]) — and only the top k = max(1, floor(G / keepDivisor))
 * groups by score max|g| are kept: threshold = k-th largest score, keep ⇔ score ≥ threshold (ties at the
 * threshold keep a few more, as released). Pruned groups get offset = scale = 0, so they dequantize to exact
 * zeros and the bit-plane GEMM skips their rows (quant/gemm/bit.ts). The released code has no rescaling (AGP
 * is biased: it drops the pruned groups); rescale 'mass' multiplies the kept groups by Σ|g| / Σ|g·keep|, the
 * commented-out option of the released code, offered as a labelled extension (METHODS §11.3).
 */
import { backend } from '../../backend/index.js';
import type { Quantizer } from '../quantize.js';
import { type Draw, type Grouping, groupCount, groupingOf, quantizeWithParams, quantParams, rangeStats } from '../qtensor.js';
import type { AgpSpec } from '../spec.js';
import { checkKeys, expectInt, expectOneOf, fail } from '../validate.js';

export const MAX_KEEP_DIVISOR = 1 << 20;

/** Number of kept groups: max(1, floor(G / divisor)) (the released code's int(G/b) crashes when G < b). */
export function agpKeepCount(groups: number, divisor: number): number {
  return Math.min(groups, Math.max(1, Math.floor(groups / divisor)));
}

/**
 * keep[g] = 1 for the groups whose score is ≥ the k-th largest score (METHODS §3.4). A NaN score ranks above every
 * number (as NaN wins a max): its group is kept, so the NaN reaches the gradient instead of being pruned to 0.
 */
export function agpKeepMask(scores: Float32Array | Float64Array, divisor: number): Uint8Array {
  const keep = new Uint8Array(scores.length);
  if (scores.length === 0) return keep;
  const k = agpKeepCount(scores.length, divisor);
  const sorted = Float64Array.from(scores).sort().reverse(); // NaN sorts last, so first after the reverse
  const threshold = sorted[k - 1];
  for (let g = 0; g < scores.length; g++) keep[g] = scores[g] >= threshold || Number.isNaN(scores[g]) ? 1 : 0;
  return keep;
}

export const agpQuantizer: Quantizer<'agp'> = {
  kind: 'agp',

  parse(raw, path, role) {
    if (role !== 'dy') fail(`${path}.kind`, `'agp' prunes and quantizes gradients: it is only valid in a 'dy' slot`);
    checkKeys(raw, ['kind', 'bits', 'granularity', 'keepDivisor', 'rescale'], path);
    const bits = expectInt(raw.bits, `${path}.bits`, 1, 8);
    if (raw.granularity === undefined) fail(`${path}.granularity`, "missing: 'sample' (grad-input path) or 'column' (per output channel, grad-weight path)");
    const granularity = expectOneOf(raw.granularity, `${path}.granularity`, ['sample', 'column'] as const);
    const keepDivisor = raw.keepDivisor === undefined ? bits : expectInt(raw.keepDivisor, `${path}.keepDivisor`, 1, MAX_KEEP_DIVISOR);
    const rescale = raw.rescale === undefined ? 'none' : expectOneOf(raw.rescale, `${path}.rescale`, ['none', 'mass'] as const);
    return { kind: 'agp', bits, granularity, keepDivisor, rescale };
  },

  label: (s: AgpSpec) => `agp${s.bits}/${s.granularity}/keep1:${s.keepDivisor}${s.rescale === 'mass' ? '/mass(ext)' : ''}/sr`,
  code: (s) => `agp${s.bits}${s.granularity === 'sample' ? 'S' : 'C'}${s.keepDivisor === s.bits ? '' : `k${s.keepDivisor}`}${s.rescale === 'mass' ? 'm' : ''}`,
  codeBits: (s) => s.bits,
  stochastic: () => true,
  mixesRows: () => false,
  grouping: (s, rows, cols, rps) => groupingOf(s.granularity, rows, cols, rps),
  bitRole: () => 'unsigned',

  quantize(s, x, rows, cols, ctx) {
    const grouping = groupingOf(s.granularity, rows, cols, ctx.rowsPerSample);
    const G = groupCount(grouping);
    const { mins, maxs } = rangeStats(x, rows, cols, grouping);
    const keep = agpKeepMask(groupScores(mins, maxs), s.keepDivisor);
    // Codes with every group's own parameters, then the pruned groups' parameters are zeroed.
    const q = quantizeWithParams(x, rows, cols, scqParams(s, mins, maxs, grouping, ctx.draw));
    let factor = 1;
    if (s.rescale === 'mass' && G > 0) {
      const mass = groupAbsSums(s.granularity, x, rows, cols, G);
      let all = 0, kept = 0;
      for (let g = 0; g < G; g++) { all += mass[g]; if (keep[g]) kept += mass[g]; }
      if (kept > 0) factor = all / kept;
    }
    prune(q, keep, factor);
    return { q, transform: null };
  },

  // 'mass' rescaling needs Σ|x| per group, which ranges do not give.
  groupParams(s, mins, maxs, grouping, draw) {
    if (s.rescale === 'mass') return null;
    const p = scqParams(s, mins, maxs, grouping, draw);
    prune(p, agpKeepMask(groupScores(mins, maxs), s.keepDivisor), 1);
    return p;
  },
};

/** The SCQ quantizer of AGP's kept groups: asymmetric min/max codes of `bits` with stochastic rounding (§3.3). */
function scqParams(s: AgpSpec, mins: Float32Array, maxs: Float32Array, grouping: Grouping, draw: Draw | null) {
  return quantParams(mins, maxs, { format: 'asymmetric', bits: s.bits, rounding: 'stochastic', draw, grouping });
}

/** score_g = max |x| over the group (§3.4). */
function groupScores(mins: Float32Array, maxs: Float32Array): Float32Array {
  return Float32Array.from(mins, (m, g) => Math.max(-m, maxs[g]));
}

/** Pruned groups get offset = scale = zeroPoint = 0 (exact zeros); kept groups are scaled by `factor` ('mass'). */
function prune(p: { offset: Float32Array; scale: Float32Array; zeroPoint: Int32Array }, keep: Uint8Array, factor: number): void {
  for (let g = 0; g < keep.length; g++) {
    if (!keep[g]) {
      p.offset[g] = 0;
      p.scale[g] = 0;
      p.zeroPoint[g] = 0;
    } else if (factor !== 1) {
      p.offset[g] = Math.fround(p.offset[g] * factor);
      p.scale[g] = Math.fround(p.scale[g] * factor);
    }
  }
}

/** Σ|x| per group: samples are contiguous row blocks, columns are reduced over all rows. */
function groupAbsSums(granularity: AgpSpec['granularity'], x: Float32Array, rows: number, cols: number, groups: number): Float32Array {
  const be = backend();
  const a = new Float32Array(x.length);
  be.unary('abs', x, a, 0, 0);
  const out = new Float32Array(groups);
  if (x.length === 0) return out;
  if (granularity === 'sample') be.reduce('sum', a, groups, x.length / groups, 1, out);
  else be.reduce('sum', a, 1, rows, cols, out);
  return out;
}
