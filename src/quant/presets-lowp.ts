/**
 * Presets of today's low-precision training recipes (METHODS §5.2–5.4), as recipe data:
 *   nvfp4          NVIDIA's NVFP4 recipe: E2M1 with E4M3 scales per 1×16 tile plus an fp32 tensor scale; 16×16 tiles
 *                  for weights (one quantization serves W and Wᵀ: the grad-input GEMM reuses the forward codes);
 *                  gradients SR, weights and activations RNE; a 16×16 random Hadamard transform on both inputs of the
 *                  grad-weight GEMM only, whose operands are quantized 16×1 along its K (tokens). High precision: the
 *                  first and last GEMM layers and attention's products (the paper keeps a few linear layers, mostly
 *                  in the last blocks, in BF16 — which ones exactly is [UNVERIFIED]; fqt keeps @first and @last).
 *   mxfp4-quartet  Quartet: MXFP4 (E2M1, power-of-two scale per 32) on all three GEMMs, a 32-block random Hadamard
 *                  transform on every GEMM, RNE forward, SR backward with every backward operand quantized again along
 *                  that GEMM's K (Q(dY)Q(Wᵀ)ᵀ, Q(dYᵀ)Q(Xᵀ)ᵀ). Deviation: the forward scale is the OCP absmax rule, not
 *                  QuEST's RMS-based clip with its trust mask (METHODS §5.4).
 *   int8-jetfire   Jetfire's per-block INT8: 32×32 tiles on every operand (each serves both GEMM orientations), RNE
 *                  forward, SR gradients, forward codes reused by the backward GEMMs; linear layers only (Jetfire's
 *                  INT8 data flow through the non-linear ops is not reproduced).
 * All three train with AdamW (training defaults, overridable by flags) and keep the first and last layers fp32.
 */
import type { QuantSpec } from './spec.js';

const nv = (block: [number, number], rounding: 'nearest' | 'stochastic'): QuantSpec => ({ kind: 'nvfp4', block, rounding });
const mx = (block: [number, number], rounding: 'nearest' | 'stochastic'): QuantSpec => ({ kind: 'mxfp4', block, rounding });
const i8 = (rounding: 'nearest' | 'stochastic'): QuantSpec => ({ kind: 'int8-block', block: [32, 32], rounding });

/** AdamW, as all three papers train (METHODS §9). */
const LOWP_TRAINING = { optimizer: 'adamw', lr: 2e-3, weightDecay: 0.05 };

export const LOWP_PRESET_NAMES = ['nvfp4', 'mxfp4-quartet', 'int8-jetfire'] as const;

/** The raw recipe data of each preset (parsed and validated by presets.ts). */
export const LOWP_PRESETS: Record<(typeof LOWP_PRESET_NAMES)[number], Record<string, unknown>> = {
  nvfp4: {
    description: 'NVFP4: E2M1 + E4M3 scale per 1x16 (W 16x16) + fp32 tensor scale; SR gradients; RHT-16 on the grad-weight GEMM',
    forward: { x: nv([1, 16], 'nearest'), w: nv([16, 16], 'nearest') },
    gradInput: { dy: nv([1, 16], 'stochastic'), w: 'forward' },
    gradWeight: { dy: nv([16, 1], 'stochastic'), x: nv([16, 1], 'nearest') },
    hadamard: { gradWeight: 16 },
    training: LOWP_TRAINING,
  },
  'mxfp4-quartet': {
    description: 'Quartet: MXFP4 (E2M1, E8M0 scale per 32) everywhere, RHT-32 on all three GEMMs, RNE forward, SR backward',
    forward: { x: mx([1, 32], 'nearest'), w: mx([1, 32], 'nearest') },
    gradInput: { dy: mx([1, 32], 'stochastic'), w: mx([32, 1], 'stochastic') },
    gradWeight: { dy: mx([32, 1], 'stochastic'), x: mx([32, 1], 'stochastic') },
    hadamard: { forward: 32, gradInput: 32, gradWeight: 32 },
    training: LOWP_TRAINING,
  },
  'int8-jetfire': {
    description: 'Jetfire: symmetric INT8 per 32x32 tile on every operand, RNE forward, SR gradients',
    forward: { x: i8('nearest'), w: i8('nearest') },
    gradInput: { dy: i8('stochastic'), w: 'forward' },
    gradWeight: { dy: i8('stochastic'), x: 'forward' },
    training: LOWP_TRAINING,
  },
};
