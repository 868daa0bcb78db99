/**
 * BHQ: block Householder quantizer for gradients (METHODS §1.5). dY [rows, cols] is viewed as the sample
 * matrix G [N, rowsPerSample·cols] (sample rows are contiguous); Z = T·G; Z is quantized per sample with
 * asymmetric min/max codes; the operand is T⁻¹·x̂(Z). T is fixed given G, so E[T⁻¹ Q(TG)] = G (unbiased
 * under stochastic rounding).
 */
import type { QuantContext, QuantizedOperand, Quantizer } from '../quantize.js';
import { type BhqSpec, ROUNDINGS } from '../spec.js';
import { groupingOf, isPlanes, type MatrixData, quantizeMatrix, rangeStats, valuesOf } from '../qtensor.js';
import { applyBhq, buildBhqTransform } from '../transforms.js';
import { checkKeys, expectInt, expectOneOf, fail } from '../validate.js';

export const bhqQuantizer: Quantizer<'bhq'> = {
  kind: 'bhq',

  parse(raw, path, role) {
    if (role !== 'dy') fail(`${path}.kind`, `'bhq' quantizes gradients: it is only valid in a 'dy' slot`);
    checkKeys(raw, ['kind', 'bits', 'rounding'], path);
    const bits = expectInt(raw.bits, `${path}.bits`, 1, 8);
    const rounding = raw.rounding === undefined ? 'stochastic' : expectOneOf(raw.rounding, `${path}.rounding`, ROUNDINGS);
    return { kind: 'bhq', bits, rounding };
  },

  label: (s: BhqSpec) => `bhq${s.bits}/${s.rounding === 'stochastic' ? 'sr' : 'rn'}`,
  code: (s) => `bhq${s.bits}`,
  codeBits: (s) => s.bits,
  stochastic: (s) => s.rounding === 'stochastic',
  mixesRows: () => true,
  grouping: (_s, rows, cols, rps) => groupingOf('sample', rows, cols, rps),

  quantize: (s, x, rows, cols, ctx) => quantizeBhq(s, x, rows, cols, ctx),
  // T mixes whole sample vectors, so on NCHW planes (each sample's values permuted) it gives Z as planes, value for value.
  quantizePlanes: (s, x, ctx) => quantizeBhq(s, x, x.n * x.hw, x.c, ctx),
};

function quantizeBhq(s: BhqSpec, x: MatrixData, rows: number, cols: number, ctx: QuantContext): QuantizedOperand {
  const sampleGroups = groupingOf('sample', rows, cols, ctx.rowsPerSample);
  const { mins, maxs } = rangeStats(x, rows, cols, sampleGroups);
  const transform = buildBhqTransform(Array.from(mins, (m, i) => maxs[i] - m));
  const z = applyBhq(transform, valuesOf(x), ctx.rowsPerSample * cols, false);
  const zm: MatrixData = isPlanes(x) ? { ...x, data: z } : z;
  const q = quantizeMatrix(zm, rows, cols, { format: 'asymmetric', bits: s.bits, rounding: s.rounding, draw: ctx.draw, grouping: sampleGroups });
  return { q, transform };
}
