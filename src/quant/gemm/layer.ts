/**
 * What every quantized layer shares (linear.ts, conv.ts): its configuration, the GEMM plans per geometry, the
 * quantization of one operand, and ONE backward loop for the two backward GEMMs (METHODS §0.4, §1.3, §2.4):
 *   grad-input   dX = Q₁(dY)·Q(W)        grad-weight  dW = Q₂(dY)ᵀ·Q(X)
 * Q₁ and Q₂ are independent draws unless backwardDraws = 'shared'. With SMP (addons.smp) both backward GEMMs run
 * s times, each on fresh draws of Q(dY) (one per sample when shared), and their outputs are averaged (Σ then ·1/s,
 * in float32); s = 1 is the plain path. Each stochastic quantization takes a fresh stream of the layer's Rng, so a
 * run is reproducible from its seed.
 */
import { backend } from '../../backend/index.js';
import { Tensor } from '../../tensor/tensor.js';
import type { Rng } from '../../tensor/random.js';
import type { BackwardSlot, GemmName, RecipeSlots, Slot } from '../recipe.js';
import type { QuantSpec } from '../spec.js';
import type { QuantizedOperand } from '../quantize.js';
import { type Draw, type MatrixData, rowsOf } from '../qtensor.js';
import { quantizeWith, specIsStochastic, specZeroNotExact } from '../quantizers/index.js';
import type { GemmOperand, PadInfo } from './operand.js';
import type { GemmPlan } from './plan.js';
import { planGemm } from './run.js';
import type { HadamardBlocks } from './hadamard-recipe.js';

export type LayerPlans = Record<GemmName, GemmPlan>;

export interface QGemmConfig {
  /** Resolved slots of this layer (overrides applied). */
  slots: RecipeSlots;
  backwardDraws: 'independent' | 'shared';
  /** SMP draws per backward pass (default 1; only used when a dY slot is stochastic). */
  samples?: number;
  /** Source of the stochastic-rounding streams. */
  rng: Rng;
  /** Called with the GEMM plans whenever a new rowsPerSample is seen (the resolved-recipe table listens). */
  onPlan?: (rowsPerSample: number, plans: LayerPlans) => void;
  /** Observes every quantization (tests, diagnostics): which GEMM slot and the quantized operand. */
  trace?: (gemm: GemmName, operand: 'x' | 'w' | 'dy', q: QuantizedOperand) => void;
  /** Learnable per-output-channel scale a_c [out] applied to Y (binary layers, METHODS §3.2). */
  outputScale?: Tensor;
  /** Random Hadamard transform block per GEMM (gemm/hadamard.ts; recipe.hadamard). Such a layer runs on rows. */
  hadamard?: HadamardBlocks;
}

/** The spec a backward slot stands for ('forward' = the forward operand's spec), or null for fp32. */
export function effectiveSpec(slot: BackwardSlot, forwardSlot: Slot): QuantSpec | null {
  const s = slot === 'forward' ? forwardSlot : slot;
  return s === 'fp32' ? null : s;
}

/**
 * GEMM paths of a layer with weight [outF, inF] whose samples own `rowsPerSample` rows; `padded`: the rows are
 * im2col rows of a zero-padded conv.
 */
export function planLayer(slots: RecipeSlots, inF: number, outF: number, rowsPerSample: number, padded = false): LayerPlans {
  const rps = rowsPerSample;
  const xSpec = effectiveSpec(slots.forward.x, 'fp32'), wSpec = effectiveSpec(slots.forward.w, 'fp32');
  return {
    forward: planGemm({ spec: xSpec, cols: inF, transposed: false, rowsPerSample: rps, padded }, { spec: wSpec, cols: inF, transposed: false, rowsPerSample: rps }),
    gradInput: planGemm(
      { spec: effectiveSpec(slots.gradInput.dy, 'fp32'), cols: outF, transposed: false, rowsPerSample: rps },
      { spec: effectiveSpec(slots.gradInput.w, slots.forward.w), cols: inF, transposed: true, rowsPerSample: rps }),
    gradWeight: planGemm(
      { spec: effectiveSpec(slots.gradWeight.dy, 'fp32'), cols: outF, transposed: true, rowsPerSample: rps },
      { spec: effectiveSpec(slots.gradWeight.x, slots.forward.x), cols: inF, transposed: true, rowsPerSample: rps, padded }),
  };
}

/** What the backward pass keeps of X: its codes, the fp32 activation, or nothing. */
export function savedActivation(slots: RecipeSlots): 'codes' | 'fp32' {
  return effectiveSpec(slots.gradWeight.x, slots.forward.x) === null ? 'fp32' : 'codes';
}

const plansByConfig = new WeakMap<QGemmConfig, Map<string, LayerPlans>>();

/**
 * The plans of a layer call, computed once per geometry (`fused`: the plans of the conv-level fused passes, when
 * the caller runs them); onPlan hears about each new one.
 */
export function plansFor(cfg: QGemmConfig, inF: number, outF: number, rps: number, padded: boolean, fused?: LayerPlans): LayerPlans {
  let plans = plansByConfig.get(cfg);
  if (!plans) plansByConfig.set(cfg, (plans = new Map()));
  const key = `${rps}:${inF}:${outF}:${padded}:${fused ? 'fused' : 'rows'}`;
  let p = plans.get(key);
  if (!p) {
    p = fused ?? planLayer(cfg.slots, inF, outF, rps, padded);
    plans.set(key, p);
    cfg.onPlan?.(rps, p);
  }
  return p;
}

export type Where = [GemmName, 'x' | 'w' | 'dy'];

/** The draw of one quantization with `spec`: a fresh stream of the layer's Rng when stochastic, else null. */
export function nextDraw(cfg: QGemmConfig, spec: QuantSpec): Draw | null {
  return specIsStochastic(spec) ? { seed: cfg.rng.seed, stream: cfg.rng.next() } : null;
}

/**
 * One operand of a layer GEMM, quantized with `spec` (a fresh RNG stream when stochastic), or fp32 when null. `data`
 * is the row-major [rows, cols] array, or NCHW planes of it (a conv layer's dY, quantized without a transposed copy).
 */
export function quantOperand(cfg: QGemmConfig, where: Where, spec: QuantSpec | null, data: MatrixData, rows: number, cols: number, rps: number,
  pad: PadInfo | null = null): GemmOperand {
  if (spec === null) return { kind: 'fp32', data: rowsOf(data), rows, cols };
  const draw = nextDraw(cfg, spec);
  const value = quantizeWith(spec, data, rows, cols, { rowsPerSample: rps, draw });
  cfg.trace?.(where[0], where[1], value);
  return pad && specZeroNotExact(spec) ? { kind: 'quant', value, pad } : { kind: 'quant', value };
}

/** a ⊙= mask (same length), or a unchanged when there is no mask. */
export function masked(t: Tensor | null, mask: Float32Array | null): Tensor | null {
  if (t === null || mask === null) return t;
  const out = new Float32Array(t.size);
  const s = Int32Array.of(1);
  backend().binary('mul', t.data, s, mask, s, Int32Array.of(t.size), out);
  return new Tensor(out, t.shape);
}

/** acc + c (float32), or c itself for the first sample. */
export function accumulate(acc: Float32Array | null, c: Float32Array): Float32Array {
  if (acc === null) return c;
  const strides = Int32Array.of(1);
  backend().binary('add', acc, strides, c, strides, Int32Array.of(acc.length), acc);
  return acc;
}

/** Σ/s in place (s = 1: unchanged, so the plain path is bit-identical to no SMP). */
export function average(sum: Float32Array, s: number): Float32Array {
  if (s > 1) backend().unary('scale', sum, sum, 1 / s, 0);
  return sum;
}

/** The two backward GEMMs of one layer call, given a quantized dY of type D; null when that gradient is not needed. */
export interface BackwardGemms<D = GemmOperand> {
  /** Quantize dY for one backward GEMM slot (a fresh draw each call). */
  quantizeDy(gemm: 'gradInput' | 'gradWeight'): D;
  gradInput: ((dy: D) => Float32Array) | null;
  gradWeight: ((dy: D) => Float32Array) | null;
}

/** Number of SMP draws of a layer: cfg.samples when a dY slot is stochastic, else 1. */
export function smpDraws(cfg: QGemmConfig): number {
  const gi = effectiveSpec(cfg.slots.gradInput.dy, 'fp32'), gw = effectiveSpec(cfg.slots.gradWeight.dy, 'fp32');
  return [gi, gw].some((s) => s !== null && specIsStochastic(s)) ? cfg.samples ?? 1 : 1;
}

/** dX and dW (before STE masks) of one layer call: the SMP loop with shared or independent dY draws. */
export function layerBackward<D>(cfg: QGemmConfig, gemms: BackwardGemms<D>): { dx: Float32Array | null; dw: Float32Array | null } {
  const samples = smpDraws(cfg);
  let dx: Float32Array | null = null, dw: Float32Array | null = null;
  for (let j = 0; j < samples; j++) {
    let dyIn: D | null = null;
    if (gemms.gradInput) {
      dyIn = gemms.quantizeDy('gradInput');
      dx = accumulate(dx, gemms.gradInput(dyIn));
    }
    if (gemms.gradWeight) {
      const dyW = cfg.backwardDraws === 'shared' && dyIn !== null ? dyIn : gemms.quantizeDy('gradWeight');
      dw = accumulate(dw, gemms.gradWeight(dyW));
    }
  }
  return { dx: dx && average(dx, samples), dw: dw && average(dw, samples) };
}
