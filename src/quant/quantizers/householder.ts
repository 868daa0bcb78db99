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
import { check } from '../../tensor/errors.js';
import { groupingOf, isPlanes, type MatrixData, type Planes, paramsWith, qtensorOf, rangeStats } from '../qtensor.js';
import { codeRange } from '../params.js';
import { buildBhqTransform } from '../transforms.js';
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

  quantize: quantizeBhq,
  quantizePlanes: (s, x, ctx) => quantizeBhq(s, x, x.n * x.hw, x.c, ctx),
};

/**
 * T mixes whole sample vectors, so planes (each sample's values permuted) and rows (a sample's rows·cols values as the
 * channels of a 1×1 plane: the same order, groups and RNG indices) run the same kernels, which never store Z = T·x.
 */
function quantizeBhq(s: BhqSpec, x: MatrixData, rows: number, cols: number, ctx: QuantContext): QuantizedOperand {
  const grouping = groupingOf('sample', rows, cols, ctx.rowsPerSample);
  const { mins, maxs } = rangeStats(x, rows, cols, grouping);
  const t = buildBhqTransform(Array.from(mins, (m, i) => maxs[i] - m));
  const v: Planes = isPlanes(x) ? x : { data: x, n: t.n, c: ctx.rowsPerSample * cols, hw: 1 };
  check(v.data.length === rows * cols && v.n * v.c * v.hw === rows * cols,
    () => `BHQ: ${v.data.length} values for a [${rows}, ${cols}] matrix of whole ${ctx.rowsPerSample}-row samples`);
  const n = t.n, f = { offset: new Float32Array(n), scale: new Float32Array(n), inv: new Float32Array(n), zeroPoint: new Int32Array(n) };
  const p = paramsWith({ ...f, ...codeRange('asymmetric', s.bits) }, { format: 'asymmetric', bits: s.bits, rounding: s.rounding, draw: ctx.draw, grouping });
  const codes = uninitCodes(rows * cols, false) as Uint8Array;
  backend().quantizeBhqPlanes(v.data, v.n, v.c, v.hw, t.order, t.groupSizes, t.rowScale, s.bits, p.draw ? 1 : 0, p.draw?.seed ?? 0,
    p.draw?.stream ?? 0, f.offset, f.scale, f.inv, f.zeroPoint, codes);
  return { q: qtensorOf(p, rows, cols, codes), transform: t };
}
