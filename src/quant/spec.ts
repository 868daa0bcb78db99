/**
 * Quantizer specifications: plain JSON-able data, one variant per quantizer kind. Adding a quantizer =
 * one variant here, one entry in the table of quantizers/index.ts, reference kernels and tests.
 *
 * Operands are described in their *layer* layout (METHODS §0.1): X [rows, in], W [out, in], dY [rows, out],
 * where rows = (sample, output pixel) and one sample owns `rowsPerSample` consecutive rows (H·W for a
 * conv, 1 for a linear layer). Granularity is relative to that layout, so the same spec gives the same
 * codes whichever GEMM (and transposition) consumes the operand:
 *   'tensor'   one range for the whole operand                            (PTQ)
 *   'sample'   one range per sample (rowsPerSample rows)                  (PSQ; X and dY only)
 *   'row'      one range per row (a (sample, pixel) row; an output channel of W)
 *   'column'   one range per column (input feature of X / W, output channel of dY)
 *   'feature'  one range per (column, pixel) across samples: StatQuant's per-column (`x.min(0)` on
 *              dY viewed [N, C·H·W], METHODS §1.3); equals 'column' for linear layers (X and dY only)
 *   {block: n} one range per (row, block of n columns) — a 1×n block along the forward GEMM's K axis
 */

/**
 * Quantizer families: uniform and bhq (§1), sawb and luq (LUQ, §2), sign and agp (1-bit FQT, §3), and the block
 * formats of today's low-precision training (§5.2–5.4): mxfp8, mxfp4, nvfp4, int8-block.
 */
export type QuantKind = 'uniform' | 'bhq' | 'sawb' | 'luq' | 'sign' | 'agp' | 'mxfp8' | 'mxfp4' | 'nvfp4' | 'int8-block';

export type Rounding = 'nearest' | 'stochastic';

export type IntFormat = 'asymmetric' | 'zeroAligned' | 'symmetric';

export type Granularity = 'tensor' | 'sample' | 'row' | 'column' | 'feature' | { block: number };

/** Uniform integer quantizer U_b / S_b (METHODS §0.3): 1–8 bits. */
export interface UniformSpec {
  kind: 'uniform';
  bits: number;
  format: IntFormat;
  granularity: Granularity;
  rounding: Rounding;
}

/**
 * Block Householder quantizer (METHODS §1.5): rows of dY viewed as samples [N, rowsPerSample·cols] are
 * mixed by T, quantized per sample with asymmetric min/max codes, and T⁻¹ is applied afterwards (on the
 * grad-input GEMM output, where it commutes). Gradient slots only.
 */
export interface BhqSpec {
  kind: 'bhq';
  bits: number;
  rounding: Rounding;
}

/**
 * SAWB-clipped integer quantizer, LUQ's forward (METHODS §2.2, quantizers/sawb.ts): per tensor,
 * clip = c1·rms(x) − c2·mean|x|, Δ = 2·clip/(Qp − Qn), nearest rounding. `range` 'auto' uses unsigned codes
 * [0, 2^b − 1] when the tensor has no negative value (post-ReLU activations), 'signed' always uses signed codes.
 * Strict ranges: signed [−(2^(b−1) − 1), 2^(b−1) − 1]. `paperCompat` restores the original code's ranges
 * (weights [−2^(b−1), 2^(b−1)], signed activations [−2^(b−1), 2^b − 1]: NOT b-bit formats). x and w slots only.
 */
export interface SawbSpec {
  kind: 'sawb';
  bits: number;
  c1: number;
  c2: number;
  range: 'auto' | 'signed';
  paperCompat: boolean;
}

/**
 * LUQ: logarithmic unbiased quantizer for neural gradients (METHODS §2.3, quantizers/luq.ts): radix-2 FP
 * [sign, e = bits − 1 exponent bits, no mantissa], levels {0} ∪ {±α·2^k, k = 0..kmax}, kmax = 2^e − 2,
 * α = max|g|/2^kmax, stochastic underflow + logarithmic SR with linear-space probabilities. dY slots only.
 */
export interface LuqSpec {
  kind: 'luq';
  bits: number;
  /**
   * The released code's quantizer (METHODS §2.3, §11.2): α = max(g)/2^(2^e − 1) from the SIGNED maximum, no top
   * level. NOT a 4-bit format (9+ magnitude codes; codes ±128 do not fit int8): its GEMMs run fp32-dequant.
   */
  paperCompat?: boolean;
}


/**
 * Binary forward operand (METHODS §3.2): sign(x) ∈ {−1, +1} with sign(0) = +1; backward through a clipped
 * STE 1{|x| < 1} (or the plain STE). On the weight slot, `scale: 'channel'` gives the layer a learnable
 * per-output-channel scale a_c (init 1) applied to the GEMM output: Y[:, c] = a_c·(xb·wbᵀ)[:, c].
 */
export interface SignSpec {
  kind: 'sign';
  ste: 'clipped' | 'identity';
  scale: 'channel' | 'none';
}

/**
 * Activation Gradient Pruning (METHODS §3.4) on top of SCQ (§3.3): asymmetric min/max SR codes per group
 * ('sample' on the grad-input path, 'column' = per output channel on the grad-weight path); only the top
 * k = max(1, floor(G / keepDivisor)) groups by max|g| are kept (ties at the threshold keep more), the others are
 * exactly 0. rescale 'mass' (an extension, not the released code) multiplies the kept groups by Σ|g| / Σ|g·keep|.
 */
export interface AgpSpec {
  kind: 'agp';
  bits: number;
  granularity: 'sample' | 'column';
  keepDivisor: number;
  rescale: 'none' | 'mass';
}

/**
 * A block-scaled format (quantizers/minifloat.ts, int8-block.ts): the elements of each `block` tile [rows, cols] of
 * the layer-layout operand share one scale. A tile of 1×n lies along the forward GEMM's K (X, W, and dY of the
 * grad-input GEMM); n×1 along rows, the K of the grad-weight GEMM (dY and X there) and of the grad-input GEMM for W;
 * n×n serves both orientations (NVFP4's 16×16 weights, Jetfire's 32×32). Rounding: nearest (RNE) or stochastic.
 *   mxfp8 / mxfp4   E4M3 / E2M1 values, one power-of-two (E8M0) scale per tile (OCP MX; default tile 1×32)
 *   nvfp4           E2M1 values, an E4M3 scale per tile (default 1×16) times one fp32 scale per tensor
 *   int8-block      symmetric int8 (−127..127), scale max|tile|/127 (Jetfire; default 1×128, weights 128×128)
 */
export interface BlockFormatSpec<K extends 'mxfp8' | 'mxfp4' | 'nvfp4' | 'int8-block'> {
  kind: K;
  block: [number, number];
  rounding: Rounding;
}

export type QuantSpec = UniformSpec | BhqSpec | SawbSpec | LuqSpec | SignSpec | AgpSpec
  | BlockFormatSpec<'mxfp8'> | BlockFormatSpec<'mxfp4'> | BlockFormatSpec<'nvfp4'> | BlockFormatSpec<'int8-block'>;

/** The spec variant of kind K. */
export type SpecOf<K extends QuantKind> = Extract<QuantSpec, { kind: K }>;

export const QUANT_KINDS: readonly QuantKind[] = ['uniform', 'bhq', 'sawb', 'luq', 'sign', 'agp', 'mxfp8', 'mxfp4', 'nvfp4', 'int8-block'];

export const INT_FORMATS: readonly IntFormat[] = ['asymmetric', 'zeroAligned', 'symmetric'];

export const ROUNDINGS: readonly Rounding[] = ['nearest', 'stochastic'];

export const GRANULARITY_NAMES = ['tensor', 'sample', 'row', 'column', 'feature'] as const;

/** Which tensor of the layer a slot quantizes (decides which granularities make sense). */
export type OperandRole = 'x' | 'w' | 'dy';

/** Short text of a granularity: T, S, R, C, F, B64. */
export function granularityLabel(g: Granularity): string {
  if (typeof g === 'object') return `B${g.block}`;
  return { tensor: 'T', sample: 'S', row: 'R', column: 'C', feature: 'F' }[g];
}
