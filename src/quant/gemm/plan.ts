/**
 * Which kernel path a layer GEMM takes (DESIGN.md "Scales", METHODS §0.1 scale placement rule): the vocabulary
 * shared by the path table (run.ts) and its entries (int8.ts, bit.ts). An integer GEMM can apply a scale in its
 * epilogue only if the scale is constant along the reduced axis K, or constant on K-blocks. Paths, in the names
 * reports print:
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
 * The decision depends only on the specs, the layer width and rowsPerSample (never on the batch size).
 */
import type { QuantSpec } from '../spec.js';
import { specGrouping } from '../quantizers/index.js';
import type { ConvGrad, ConvInput, GemmOperand, LayerGeometry } from './operand.js';

export type GemmPath = 'fp32' | 'int8' | 'int8-blocked' | 'fp32-dequant' | 'b1' | 'bitplane' | 'bitplane-blocked';

/** Rows of block tiles the planners probe groupings with (≥ quantizers/block.ts MAX_TILE). */
const PROBE_TILE = 256;

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
  /** Runs as one fused conv-level kernel (fused.ts) rather than on im2col rows. */
  fused?: boolean;
  /** How the path applies here when the kBlock number does not say it (e.g. per-pixel K-blocks of a fused pass). */
  note?: string;
}

/** What a path's planner answers: its plan, a reason it cannot run (reported when nothing fits), or null (silent). */
export type PlanAnswer = GemmPlan | { reject: string } | null;

/**
 * K-block size over which the operand's scale is constant: null = constant along all of K. Evaluated on a
 * representative two-sample matrix (batch size never changes the answer).
 */
export function kBlockOf(op: OperandPlan): number | null {
  if (op.spec === null) return null;
  // Enough rows for two samples and two tiles of the largest block tile (quantizers/block.ts MAX_TILE).
  const rows = 2 * op.rowsPerSample * PROBE_TILE;
  const g = specGrouping(op.spec, rows, op.cols, op.rowsPerSample);
  if (op.transposed) return g.rowGroups === 1 ? null : g.rowDiv;
  return g.colGroups === 1 ? null : g.colDiv;
}

/** The shape of one GEMM call: C[m, n] = op(A)·op(B)ᵀ with K = k. */
export interface GemmDims {
  m: number;
  n: number;
  k: number;
}

/**
 * One entry of the path table (run.ts): `plan` says whether this path can run a GEMM of the two operands (a
 * plan, a reason it cannot, or null), `run` computes C = op(A)·op(B)ᵀ on it (op = transpose when the flag is set).
 * A new path = one entry, reference kernels and conformance tests.
 */
export interface GemmPathImpl {
  plan(a: OperandPlan, b: OperandPlan): PlanAnswer;
  run(a: GemmOperand, aT: boolean, b: GemmOperand, bT: boolean, plan: GemmPlan, dims: GemmDims): Float32Array;
  /** Conv-level fused runners (fused.ts), when the path has them. */
  conv?: ConvRunners;
}

/** The three passes of a layer, in recipe order. */
export type LayerPass = 'forward' | 'gradInput' | 'gradWeight';

/**
 * Conv-level runners of a path (fused.ts): one kernel per pass on whole conv operands, with the im2col panel formed
 * on the fly (implicit GEMM) instead of im2col rows. `plan` says whether a pass of a conv fits this path, given
 * the specs of its two operands (A: x forward, dy backward; B: w forward and grad-input, x grad-weight) and the
 * rows per sample P (the answer never depends on the batch size). Outputs are NCHW (y, dx) or [oc, K] (dw).
 */
export interface ConvRunners {
  plan(pass: LayerPass, a: QuantSpec | null, b: QuantSpec | null, shape: { oc: number; k: number; rowsPerSample: number }): PlanAnswer;
  forward(x: ConvInput, w: GemmOperand, g: LayerGeometry): Float32Array;
  gradInput(dy: ConvGrad, w: GemmOperand, g: LayerGeometry): Float32Array;
  gradWeight(dy: ConvGrad, x: ConvInput, g: LayerGeometry): Float32Array;
}

/** How a spec's scale groups lie on a layer-layout operand [rows, cols] whose samples own `rowsPerSample` rows. */
export type GroupKind = 'tensor' | 'sample' | 'row' | 'column' | 'feature' | 'other';

/**
 * Classify the groups of `spec` on an operand of `rows`·`cols` (evaluated on two samples' rows when rows is null:
 * the answer never depends on the batch size). With one row per sample, 'sample' and 'row' coincide ('sample'),
 * as do 'column' and 'feature' ('column').
 */
export function groupKind(spec: QuantSpec, cols: number, rowsPerSample: number, rows: number | null = null): GroupKind {
  const r = rows ?? 2 * rowsPerSample * PROBE_TILE;
  const g = specGrouping(spec, r, cols, rowsPerSample);
  if (g.rowGroups === 1 && g.colGroups === 1) return 'tensor';
  if (g.colGroups === 1 && g.rowDiv === rowsPerSample && g.rowMod * g.rowDiv >= r) return 'sample';
  if (g.colGroups === 1 && g.rowDiv === 1 && g.rowMod >= r) return 'row';
  if (g.colDiv === 1 && g.rowGroups === 1) return 'column';
  if (g.colDiv === 1 && g.rowDiv === 1 && g.rowMod === rowsPerSample) return 'feature';
  return 'other';
}
