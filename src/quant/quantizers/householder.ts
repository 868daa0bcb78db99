/**
 * BHQ: block Householder quantizer for gradients (METHODS §1.5). dY [rows, cols] is viewed as the sample
 * matrix G [N, rowsPerSample·cols] (sample rows are contiguous); Z = T·G; Z is quantized per sample with
 * asymmetric min/max codes; the operand is T⁻¹·x̂(Z). T is fixed given G, so E[T⁻¹ Q(TG)] = G (unbiased
 * under stochastic rounding).
 */
import type { QuantContext, QuantizedOperand, Quantizer } from '../quantize.js';
import { type BhqSpec, ROUNDINGS } from '../spec.js';
import { backend } from '../../backend/index.js';
import { uninitCodes } from '../../ops/util.js';
import { groupingOf, isPlanes, kernelArgs, type MatrixData, type Planes, type QTensor, qtensorOf, quantizeMatrix, quantParams, type QuantizeOptions, rangeStats, valuesOf } from '../qtensor.js';
import { applyBhq, type BhqTransform, buildBhqTransform } from '../transforms.js';
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
  const grouping = groupingOf('sample', rows, cols, ctx.rowsPerSample);
  const { mins, maxs } = rangeStats(x, rows, cols, grouping);
  const transform = buildBhqTransform(Array.from(mins, (m, i) => maxs[i] - m));
  const opts = { format: 'asymmetric', bits: s.bits, rounding: s.rounding, draw: ctx.draw, grouping } as const;
  if (isPlanes(x) && x.hw === ctx.rowsPerSample && x.data.length > 0) return { q: quantizeTransformedPlanes(x, transform, opts), transform };
  const z = applyBhq(transform, valuesOf(x), ctx.rowsPerSample * cols, false);
  return { q: quantizeMatrix(isPlanes(x) ? { ...x, data: z } : z, rows, cols, opts), transform };
}

/** quantizeMatrix of the planes' Z = T·x per sample, bit for bit, by kernels that compute Z in cache twice rather than store it. */
function quantizeTransformedPlanes(x: Planes, t: BhqTransform, opts: QuantizeOptions): QTensor {
  const be = backend(), mins = new Float32Array(x.n), maxs = new Float32Array(x.n);
  be.bhqRangePlanes(x.data, x.n, x.c, x.hw, t.order, t.groupSizes, t.rowScale, mins, maxs);
  const p = quantParams(mins, maxs, opts), codes = uninitCodes(x.data.length, p.signed);
  be.quantizeBhqPlanes(x.data, x.n, x.c, x.hw, t.order, t.groupSizes, t.rowScale, ...kernelArgs(p, codes));
  return qtensorOf(p, x.n * x.hw, x.c, codes);
}
