/**
 * Which kernel path a layer GEMM takes (DESIGN.md "Scales", METHODS §0.1 scale placement rule).
 * An integer GEMM can apply a scale in its epilogue only if the scale is constant along the reduced axis K,
 * or constant on K-blocks (gemmI8's blocks). Paths, in the names reports print:
 *   'fp32'          both operands fp32 (sgemm)
 *   'int8'          both operands integer codes, scales constant along K
 *   'int8-blocked'  integer codes, scales constant on K-blocks of ≥ MIN_INT_KBLOCK (e.g. per-sample scales on
 *                   the grad-weight GEMM: blocks of H·W rows)
 *   'fp32-dequant'  something is quantized but no integer GEMM fits: dequantize and run sgemm — never call
 *                   this path integer.
 *   'b1'            both operands ±1 (sign): XOR-popcount gemmB1, exact int32 (METHODS §3.6)
 *   'bitplane'      unsigned multi-bit codes (one scale / zero point per GEMM row) × ±1: gemmBitplane, exact
 *                   int32, zero-point term from the ±1 operand's row sums; all-zero (pruned) rows are skipped
 *   'bitplane-blocked'  the same per K-block of ≥ MIN_INT_KBLOCK when the multi-bit operand's scales change along K
 *                   (per-sample dY scales on the grad-weight GEMM: blocks of H·W rows)
 * Conv padding: a sign operand turns im2col's padding zeros into +1; the bit paths subtract a correction term,
 * the int8 paths cannot, so such a GEMM runs fp32-dequant (with the padding zeroed) and says so.
 * The decision depends only on the specs, the layer width and rowsPerSample (never on the batch size).
 */
import type { QuantSpec } from './spec.js';
import { specBitRole, specCodeBits, specGrouping, specMixesRows, specZeroNotExact } from './quantizers/index.js';

export type GemmPath = 'fp32' | 'int8' | 'int8-blocked' | 'fp32-dequant' | 'b1' | 'bitplane' | 'bitplane-blocked';

export const GEMM_PATHS: readonly GemmPath[] = ['fp32', 'int8', 'int8-blocked', 'fp32-dequant', 'b1', 'bitplane', 'bitplane-blocked'];

/** Widest codes the bit-plane path takes (its code transposition goes through int8). */
export const MAX_BITPLANE_BITS = 7;

/** Smallest K-block worth an int32 partial sum and a float epilogue per block. */
export const MIN_INT_KBLOCK = 16;

/** One GEMM operand: a layer-layout matrix [rows, cols], consumed as-is (K = cols) or transposed (K = rows). */
export interface OperandPlan {
  spec: QuantSpec | null;
  cols: number;
  transposed: boolean;
  rowsPerSample: number;
  /** Rows are im2col rows of a zero-padded conv (only the X operand of a padded conv). */
  padded?: boolean;
}

export interface GemmPlan {
  path: GemmPath;
  /** K-block of the int8 GEMM (null: one block spanning K). */
  kBlock: number | null;
  /** Why the GEMM is not integer (fp32-dequant only). */
  reason?: string;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * K-block size over which the operand's scale is constant: null = constant along all of K. Evaluated on a
 * representative two-sample matrix (batch size never changes the answer).
 */
export function kBlockOf(op: OperandPlan): number | null {
  if (op.spec === null) return null;
  const rows = 2 * op.rowsPerSample;
  const g = specGrouping(op.spec, rows, op.cols, op.rowsPerSample);
  if (op.transposed) return g.rowGroups === 1 ? null : g.rowDiv;
  return g.colGroups === 1 ? null : g.colDiv;
}

export function planGemm(a: OperandPlan, b: OperandPlan): GemmPlan {
  if (a.spec === null && b.spec === null) return { path: 'fp32', kBlock: null };
  const dequant = (reason: string): GemmPlan => ({ path: 'fp32-dequant', kBlock: null, reason });
  if (a.spec === null || b.spec === null) return dequant(`the ${a.spec === null ? 'first' : 'second'} operand is fp32`);
  const bit = planBitGemm(a, b);
  if (bit) return bit;
  if ([a, b].some((op) => op.padded && specZeroNotExact(op.spec!))) return dequant('sign(0) = +1 on conv padding needs the bit-GEMM correction (no integer path fits)');
  for (const op of [a, b]) {
    if (specCodeBits(op.spec!) > 8) return dequant('codes wider than 8 bits');
  }
  if (b.spec && specMixesRows(b.spec)) return dequant('a row transform on the second operand');
  if (a.transposed && specMixesRows(a.spec)) return dequant('the BHQ transform mixes rows along the reduced axis K');
  const blocks = [kBlockOf(a), kBlockOf(b)].filter((x): x is number => x !== null);
  if (blocks.length === 0) return { path: 'int8', kBlock: null };
  const kBlock = blocks.reduce(gcd);
  // A non-transposed operand's K is its (known) width: a block covering it is one block.
  const kKnown = !a.transposed ? a.cols : !b.transposed ? b.cols : null;
  if (kKnown !== null && kBlock >= kKnown) return { path: 'int8', kBlock: null };
  if (kBlock < MIN_INT_KBLOCK) return dequant(`scales change every ${kBlock} element${kBlock === 1 ? '' : 's'} along K (min K-block ${MIN_INT_KBLOCK})`);
  return { path: 'int8-blocked', kBlock };
}

/** The bit-GEMM path of two quantized operands, or null (METHODS §3.6). */
function planBitGemm(a: OperandPlan, b: OperandPlan): GemmPlan | null {
  const ra = specBitRole(a.spec!), rb = specBitRole(b.spec!);
  if (rb !== 'sign') return null;
  // A padded sign operand is corrected on A rows (forward X) or along K of B (grad-weight X), nowhere else.
  if ((a.padded && (a.transposed || ra !== 'sign')) || (b.padded && !b.transposed)) return null;
  if (ra === 'sign') return { path: 'b1', kBlock: null };
  if (ra !== 'unsigned' || specMixesRows(a.spec!) || specCodeBits(a.spec!) > MAX_BITPLANE_BITS) return null;
  const kb = kBlockOf(a);
  if (kb === null) return { path: 'bitplane', kBlock: null };
  // Blocks along K: padding is corrected per block only when a block is one sample (kb = rows per sample).
  if (kb >= MIN_INT_KBLOCK && (!b.padded || kb === b.rowsPerSample)) return { path: 'bitplane-blocked', kBlock: kb };
  return null;
}
