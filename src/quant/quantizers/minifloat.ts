/**
 * Minifloat block formats (METHODS §5.3–5.4; arithmetic in quant/rounding.ts §6; kernel quantizeMinifloat):
 *   mxfp4 / mxfp8 (OCP MX): E2M1 / E4M3 elements, one power-of-two scale X (E8M0) per tile. Nearest follows the
 *     OCP rule X = 2^(⌊log2 amax⌋ − emax) (emax 2 for E2M1, 8 for E4M3) and saturates the few values above MAX;
 *     stochastic uses X = 2^⌈log2(amax/MAX)⌉, so amax/X ∈ (MAX/2, MAX]: nothing clips and SR stays unbiased (the
 *     power-of-two analogue of Quartet's backward scale, METHODS §8.6.4).
 *   nvfp4: E2M1 elements, an E4M3 scale s_b per tile times an fp32 scale per tensor s_T = amax(x)/(6·448):
 *     s_b = E4M3(amax_b/(6·s_T)), rounded to nearest (the published recipe) or, for stochastic rounding, up to the
 *     next E4M3 value (so amax_b/(s_b·s_T) ≤ 6: no clipping). A tile whose s_b underflows E4M3 (amax_b < 2^−10·6·s_T
 *     under nearest) quantizes to zeros.
 * A zero tile (amax 0) gets scale 1 and codes 0. A NaN / ±Inf element makes its tile's scale NaN (nvfp4: the tensor
 * scale, so every tile), so the dequantized values and the GEMM output are NaN (issue 18's NaN semantics).
 * GEMM operands: E2M1 codes are stored as 2·value (integers −12..12, scale/2 per group), so FP4 × FP4 GEMMs run on
 * the int8 kernels with the tile scales in the epilogue (int8-blocked, K-block = the tile side along K, ≥ 16);
 * E4M3 values are not small integers (19 bits as multiples of 2^−9), so MXFP8 GEMMs run fp32-dequant.
 */
import { backend } from '../../backend/index.js';
import { floorLog2, MINIFLOAT_GRIDS } from '../../backend/ref/lowp.js';
import type { MinifloatCode } from '../../backend/backend.js';
import type { QuantContext, Quantizer } from '../quantize.js';
import { type QTensor, rangeStats } from '../qtensor.js';
import type { BlockFormatSpec, OperandRole } from '../spec.js';
import { blockCommon, groupAmax, parseBlockSpec, tileGrouping } from './block.js';

/** E8M0 exponent range. */
const E8M0_MIN = -127, E8M0_MAX = 127;

/** The MX scale of a tile (file comment). */
export function mxScale(amax: number, format: MinifloatCode, stochastic: boolean): number {
  if (Number.isNaN(amax)) return NaN;
  if (!(amax > 0)) return 1;
  const [M, , MAX] = MINIFLOAT_GRIDS[format];
  const emax = floorLog2(MAX); // 2 for E2M1 (6 = 1.5·2²), 8 for E4M3 (448 = 1.75·2⁸)
  void M;
  let e = stochastic ? Math.ceil(Math.log2(amax / MAX)) : floorLog2(amax) - emax;
  if (stochastic && 2 ** e * MAX < amax) e++; // guard Math.log2 rounding: amax/X ≤ MAX
  if (stochastic && e > E8M0_MIN && 2 ** (e - 1) * MAX >= amax) e--;
  return 2 ** Math.min(E8M0_MAX, Math.max(E8M0_MIN, e));
}

/** v rounded up onto the E4M3 grid (the smallest E4M3 value ≥ v, saturating at 448). */
export function e4m3Up(v: number): number {
  if (!(v > 0)) return 0;
  if (v >= 448) return 448;
  const ulp = 2 ** (Math.max(floorLog2(v), -6) - 3);
  return Math.min(Math.ceil(v / ulp) * ulp, 448);
}

/** v rounded to nearest even onto the E4M3 grid (saturating). */
export function e4m3Nearest(v: number): number {
  if (!(v > 0)) return 0;
  if (v >= 448) return 448;
  const ulp = 2 ** (Math.max(floorLog2(v), -6) - 3);
  const s = v / ulp, r = Math.round(s);
  return Math.min((r - s === 0.5 && r % 2 !== 0 ? r - 1 : r) * ulp, 448);
}

/** The NVFP4 per-tensor scale s_T = f32(amax/(6·448)) (1 for an all-zero tensor). */
export function nvfp4TensorScale(amax: number): number {
  if (Number.isNaN(amax)) return NaN;
  return amax > 0 ? Math.fround(amax / (6 * 448)) : 1;
}

/** Quantize x with one scale per group (`scales[g]`: the value of the grid point 1). */
function quantizeGrid(s: BlockFormatSpec<'mxfp8' | 'mxfp4' | 'nvfp4'>, format: MinifloatCode, x: Float32Array, rows: number, cols: number,
  scales: Float64Array, draw: { seed: number; stream: number } | null): QTensor {
  const grouping = tileGrouping(s.block, rows, cols);
  const n = scales.length, fp4 = format === 0;
  // E2M1 codes are 2·value: the affine scale of a code step is scale/2 (exact).
  const scale = new Float32Array(n), inv = new Float32Array(n), step = new Float32Array(n);
  for (let g = 0; g < n; g++) {
    scale[g] = scales[g];
    inv[g] = scale[g] > 0 ? 1 / scale[g] : 0; // a NaN scale: inv 0, codes 0, and the NaN stays in the scale
    step[g] = fp4 ? scale[g] / 2 : scale[g];
  }
  const codes = fp4 ? new Int8Array(rows * cols) : new Uint8Array(rows * cols);
  const stochastic = s.rounding === 'stochastic';
  if (rows * cols > 0) {
    backend().quantizeMinifloat(x, rows, cols, grouping.rowDiv, grouping.rowMod, grouping.colDiv, inv, format,
      stochastic ? 1 : 0, draw?.seed ?? 0, draw?.stream ?? 0, codes);
  }
  return {
    rows, cols, bits: fp4 ? 4 : 8, format: 'symmetric', signed: fp4, rounding: s.rounding, grouping, codes,
    offset: new Float32Array(n), scale: step, zeroPoint: new Int32Array(n),
    qmin: fp4 ? -12 : 0, qmax: fp4 ? 12 : 255, draw: stochastic ? draw : null, ...(fp4 ? {} : { levels: 'e4m3' as const }),
  };
}

/** Per-group max |x| of a tile grouping. */
function tileAmax(x: Float32Array, rows: number, cols: number, block: readonly [number, number]): Float64Array {
  const { mins, maxs } = rangeStats(x, rows, cols, tileGrouping(block, rows, cols));
  return groupAmax(mins, maxs);
}

function mxQuantizer<K extends 'mxfp8' | 'mxfp4'>(kind: K): Quantizer<K> {
  const format: MinifloatCode = kind === 'mxfp4' ? 0 : 1;
  type S = BlockFormatSpec<'mxfp8' | 'mxfp4'>;
  const q = {
    ...blockCommon(kind, kind),
    parse: (raw: Record<string, unknown>, path: string, role: OperandRole) => parseBlockSpec(kind, raw, path, role, () => [1, 32]),
    // FP4 codes 2·value fit int8; E4M3 values are multiples of 2^−9 up to 448: 19-bit integers (fp32-dequant).
    codeBits: () => (format === 0 ? 5 : 19),
    quantize(s: S, x: Float32Array, rows: number, cols: number, ctx: QuantContext) {
      const scales = tileAmax(x, rows, cols, s.block);
      for (let g = 0; g < scales.length; g++) scales[g] = mxScale(scales[g], format, s.rounding === 'stochastic');
      return { q: quantizeGrid(s, format, x, rows, cols, scales, ctx.draw), transform: null };
    },
  };
  return q as unknown as Quantizer<K>;
}

export const mxfp8Quantizer = mxQuantizer('mxfp8');
export const mxfp4Quantizer = mxQuantizer('mxfp4');

export const nvfp4Quantizer: Quantizer<'nvfp4'> = {
  ...blockCommon('nvfp4', 'nvfp4'),
  parse: (raw, path, role) => parseBlockSpec('nvfp4', raw, path, role, () => [1, 16]),
  codeBits: () => 5,
  quantize(s, x, rows, cols, ctx) {
    const scales = tileAmax(x, rows, cols, s.block);
    let amaxT = 0;
    for (let g = 0; g < scales.length; g++) amaxT = Math.max(amaxT, scales[g]); // NaN when any tile is
    const sT = nvfp4TensorScale(amaxT);
    const round = s.rounding === 'stochastic' ? e4m3Up : e4m3Nearest;
    for (let g = 0; g < scales.length; g++) scales[g] = Number.isNaN(sT) ? NaN : scales[g] > 0 ? round(scales[g] / (6 * sT)) * sT : 1;
    return { q: quantizeGrid(s, 0, x, rows, cols, scales, ctx.draw), transform: null };
  },
};
