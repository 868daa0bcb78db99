/**
 * What the block formats share (spec.ts BlockFormatSpec): parsing of the tile and rounding, the tile grouping, and
 * the group maxima. NaN semantics as every quantizer (issue 18): a NaN or ±Inf element makes its group's scale NaN,
 * so the dequantized group — and the GEMM output — is NaN, and the trainer's divergence guard reports it.
 */
import type { Quantizer } from '../quantize.js';
import { makeGrouping, type Grouping } from '../qtensor.js';
import { type BlockFormatSpec, type OperandRole, ROUNDINGS } from '../spec.js';
import { checkKeys, expectInt, expectOneOf, fail, show } from '../validate.js';

export type BlockKind = 'mxfp8' | 'mxfp4' | 'nvfp4' | 'int8-block';

/** Largest tile side (kBlockOf in gemm/plan.ts probes groupings on 2·rowsPerSample·MAX_TILE rows). */
export const MAX_TILE = 256;

/** Parse {kind, block: [rows, cols], rounding}; `defaultBlock` by role. */
export function parseBlockSpec<K extends BlockKind>(kind: K, raw: Record<string, unknown>, path: string, role: OperandRole,
  defaultBlock: (role: OperandRole) => [number, number]): BlockFormatSpec<K> {
  checkKeys(raw, ['kind', 'block', 'rounding'], path);
  let block = defaultBlock(role);
  if (raw.block !== undefined) {
    if (!Array.isArray(raw.block) || raw.block.length !== 2) fail(`${path}.block`, `must be a tile [rows, cols], e.g. [1, 32] or [16, 16], got ${show(raw.block)}`);
    block = [expectInt(raw.block[0], `${path}.block[0]`, 1, MAX_TILE), expectInt(raw.block[1], `${path}.block[1]`, 1, MAX_TILE)];
  }
  const rounding = raw.rounding === undefined ? (role === 'dy' ? 'stochastic' : 'nearest') : expectOneOf(raw.rounding, `${path}.rounding`, ROUNDINGS);
  return { kind, block, rounding };
}

/** The tile groups of [rows, cols]: group(r, c) = (⌊r/br⌋)·⌈cols/bc⌉ + ⌊c/bc⌋. */
export function tileGrouping(block: readonly [number, number], rows: number, cols: number): Grouping {
  return makeGrouping(rows, cols, block[0], Math.max(1, Math.ceil(rows / block[0])), block[1]);
}

/** Per-group max |x| from the group minima and maxima (NaN when the group holds NaN or ±Inf). */
export function groupAmax(mins: Float32Array, maxs: Float32Array): Float64Array {
  const out = new Float64Array(mins.length);
  for (let g = 0; g < out.length; g++) {
    const a = Math.max(-mins[g], maxs[g]);
    out[g] = Number.isFinite(a) ? a : NaN;
  }
  return out;
}

/** The fields every block format's Quantizer shares. */
export function blockCommon<K extends BlockKind>(kind: K, label: string): Pick<Quantizer<K>, 'kind' | 'label' | 'code' | 'stochastic' | 'mixesRows' | 'grouping'> {
  type S = BlockFormatSpec<BlockKind>;
  const tile = (s: S) => `${s.block[0]}x${s.block[1]}`;
  const common = {
    kind,
    label: (s: S) => `${label}/${tile(s)}/${s.rounding === 'stochastic' ? 'sr' : 'rn'}`,
    code: (s: S) => `${kind.replace('-block', 'b')}${s.block[0] === 1 ? '' : `${s.block[0]}x`}${s.block[1]}${s.rounding === 'stochastic' ? 's' : ''}`,
    stochastic: (s: S) => s.rounding === 'stochastic',
    mixesRows: () => false,
    grouping: (s: S, rows: number, cols: number) => tileGrouping(s.block, rows, cols),
  };
  return common as unknown as Pick<Quantizer<K>, 'kind' | 'label' | 'code' | 'stochastic' | 'mixesRows' | 'grouping'>;
}
