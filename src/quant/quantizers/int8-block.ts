/**
 * int8-block: symmetric INT8 with one scale per tile (Jetfire, METHODS §5.2): Δ = ↑((max|tile| + ε)/127), codes
 * −127..127, nearest or stochastic (quant/rounding.ts §1–2, the uniform quantizer's 'symmetric' format on tile
 * groups). Default tiles: 1×128 along K for X and dY (DeepSeek-V3 style), 128×128 for weights; Jetfire uses 32×32
 * everywhere, which serves both orientations of every operand. The GEMMs run int8-blocked on gemmI8 with the tile
 * scales in the epilogue whenever the tile side along K is ≥ 16. NaN / ±Inf input is an error.
 */
import type { Quantizer } from '../quantize.js';
import { quantizeMatrix } from '../qtensor.js';
import { blockCommon, parseBlockSpec, tileGrouping } from './block.js';

export const int8BlockQuantizer: Quantizer<'int8-block'> = {
  ...blockCommon('int8-block', 'int8-block'),
  parse: (raw, path, role) => parseBlockSpec('int8-block', raw, path, role, (r) => (r === 'w' ? [128, 128] : [1, 128])),
  codeBits: () => 8,
  quantize(s, x, rows, cols, ctx) {
    const q = quantizeMatrix(x, rows, cols, { format: 'symmetric', bits: 8, rounding: s.rounding, draw: ctx.draw, grouping: tileGrouping(s.block, rows, cols) });
    return { q, transform: null };
  },
};
