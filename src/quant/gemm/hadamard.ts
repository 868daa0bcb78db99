/**
 * The random Hadamard transform as a per-GEMM transform slot (METHODS §5.1, §5.3–5.4; arithmetic in
 * quant/rounding.ts §5): recipe.hadamard = {forward?, gradInput?, gradWeight?: block}. A GEMM with a block b applies
 * R = D·H_b/√b (D: random ±1 signs drawn from the layer's counter RNG on every call, H_b block-diagonal Hadamard, a
 * tail of K mod b columns kept as an identity block) to BOTH operands along its reduced axis K before they are
 * quantized, so C = (A·R)(B·R)ᵀ = A·Bᵀ in exact arithmetic while outliers are spread over each block:
 *   forward      K = in:   X·R and W·R (rows of both)
 *   grad-input   K = out:  dY·R and Wᵀ·R (W rotated along its rows)
 *   grad-weight  K = rows: dYᵀ·R and Xᵀ·R (dY and X rotated along their rows)
 * A backward GEMM that reuses the forward codes (slot 'forward') of a rotated forward gets the exact STE through the
 * rotation: its output is multiplied by Rᵀ along `in` (dX = Q(dY)·Q(W·R)·Rᵀ, dW = Q(dY)ᵀ·Q(X·R)·Rᵀ, QuEST). A
 * backward GEMM with its own rotation cannot reuse forward codes (they are rotated along another axis): the recipe
 * parser requires a quantizer or 'fp32' in its W / X slot.
 */
import { backend } from '../../backend/index.js';
import { streamKey, uniformAt } from '../../tensor/random.js';
import type { GemmName } from '../recipe.js';
export type { HadamardBlocks } from './hadamard-recipe.js';
import type { QGemmConfig } from './layer.js';
import { transposedF32 } from './operand.js';

/** One draw of a GEMM's transform: its block and the signs along K. */
export interface Rotation {
  block: number;
  signs: Float32Array;
}

/** Fresh random signs for a GEMM of reduced length k (one RNG stream per call), or null when the GEMM has no transform. */
export function drawRotation(cfg: QGemmConfig, gemm: GemmName, k: number): Rotation | null {
  const block = cfg.hadamard?.[gemm];
  if (!block) return null;
  const key = streamKey(cfg.rng.seed, cfg.rng.next());
  return { block, signs: Float32Array.from({ length: k }, (_, i) => (uniformAt(key, i) < 0.5 ? -1 : 1)) };
}

/** Each row of x[rows, cols] times R ('cols', R of size cols), or each column ('rows', R of size rows); `inverse`: Rᵀ. */
export function rotate(x: Float32Array, rows: number, cols: number, axis: 'cols' | 'rows', r: Rotation, inverse = false): Float32Array {
  if (x.length === 0) return x;
  if (axis === 'rows') return transposedF32(rotate(transposedF32(x, rows, cols), cols, rows, 'cols', r, inverse), cols, rows);
  const out = new Float32Array(x.length);
  backend().hadamardTransform(x, rows, cols, r.block, r.signs, inverse ? 1 : 0, out);
  return out;
}
