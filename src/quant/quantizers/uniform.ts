/** Uniform integer quantizers U_b / S_b (METHODS §0.3): PTQ, PSQ, per-column, per-row, K-block. */
import type { QuantContext, QuantizedOperand, Quantizer } from '../quantize.js';
import { GRANULARITY_NAMES, type Granularity, granularityLabel, INT_FORMATS, type OperandRole, ROUNDINGS, type UniformSpec } from '../spec.js';
import { groupingOf, type MatrixData, quantizeMatrix, quantParams } from '../qtensor.js';
import { checkKeys, expectInt, expectObject, expectOneOf, fail, show } from '../validate.js';

export const MAX_BLOCK = 1 << 20;

function parseGranularity(v: unknown, path: string, role: OperandRole): Granularity {
  let g: Granularity;
  if (typeof v === 'object' && v !== null) {
    const o = expectObject(v, path);
    checkKeys(o, ['block'], path);
    g = { block: expectInt(o.block, `${path}.block`, 1, MAX_BLOCK) };
  } else if (typeof v === 'string' && (GRANULARITY_NAMES as readonly string[]).includes(v)) {
    g = v as Granularity;
  } else {
    fail(path, `must be one of ${GRANULARITY_NAMES.map((s) => `'${s}'`).join(', ')} or {"block": n}, got ${show(v)}`);
  }
  if (role === 'w' && (g === 'sample' || g === 'feature')) {
    fail(path, `'${g}' needs sample rows, but a weight has none (use 'tensor', 'row', 'column' or a block)`);
  }
  return g;
}

function granularityName(g: Granularity): string {
  return typeof g === 'object' ? `block${g.block}` : g;
}

const quantizeUniform = (s: UniformSpec, x: MatrixData, rows: number, cols: number, ctx: QuantContext): QuantizedOperand => ({ transform: null,
  q: quantizeMatrix(x, rows, cols, { format: s.format, bits: s.bits, rounding: s.rounding, draw: ctx.draw, grouping: groupingOf(s.granularity, rows, cols, ctx.rowsPerSample) }) });

export const uniformQuantizer: Quantizer<'uniform'> = {
  kind: 'uniform',

  parse(raw, path, role) {
    checkKeys(raw, ['kind', 'bits', 'format', 'granularity', 'rounding'], path);
    const bits = expectInt(raw.bits, `${path}.bits`, 1, 8);
    const format = raw.format === undefined ? 'asymmetric' : expectOneOf(raw.format, `${path}.format`, INT_FORMATS);
    if (format === 'symmetric' && bits < 2) fail(`${path}.bits`, 'a symmetric format needs at least 2 bits (codes −Q..Q with Q = 2^(b−1) − 1)');
    const granularity = raw.granularity === undefined ? 'tensor' : parseGranularity(raw.granularity, `${path}.granularity`, role);
    const rounding = raw.rounding === undefined ? (role === 'dy' ? 'stochastic' : 'nearest') : expectOneOf(raw.rounding, `${path}.rounding`, ROUNDINGS);
    return { kind: 'uniform', bits, format, granularity, rounding };
  },

  label(s: UniformSpec) {
    const f = { asymmetric: 'a', zeroAligned: 'z', symmetric: 's' }[s.format];
    return `${f}${s.bits}/${granularityName(s.granularity)}/${s.rounding === 'stochastic' ? 'sr' : 'rn'}`;
  },

  code: (s) => `${{ asymmetric: 'a', zeroAligned: 'z', symmetric: 's' }[s.format]}${s.bits}${granularityLabel(s.granularity)}`,
  codeBits: (s) => s.bits,
  stochastic: (s) => s.rounding === 'stochastic',
  mixesRows: () => false,
  grouping: (s, rows, cols, rps) => groupingOf(s.granularity, rows, cols, rps),
  bitRole: (s) => (s.format === 'symmetric' ? null : 'unsigned'),

  quantize: (s, x, rows, cols, ctx) => quantizeUniform(s, x, rows, cols, ctx),
  quantizePlanes: (s, x, ctx) => quantizeUniform(s, x, x.n * x.hw, x.c, ctx),
  groupParams: (s, mins, maxs, grouping, draw) => quantParams(mins, maxs, { format: s.format, bits: s.bits, rounding: s.rounding, grouping, draw }),
  quantizeConvInput(s, x) {
    if (s.rounding !== 'nearest' || (s.granularity !== 'tensor' && s.granularity !== 'sample')) return null;
    const rows = x.n * x.hw, grouping = groupingOf(s.granularity, rows, x.c, x.hw);
    return quantizeMatrix(x, rows, x.c, { format: s.format, bits: s.bits, rounding: 'nearest', grouping });
  },
};
