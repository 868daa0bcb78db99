/**
 * qgemm: the layer GEMM triple (ops/matmul.ts linearRows) with the recipe's quantizers and plain STE
 * (METHODS §0.4, §1.3, §1.6):
 *   forward      Y  = Q(X)·Q(W)ᵀ
 *   grad-input   dX = Q₁(dY)·Q(W)        (BHQ: T⁻¹ applied to dX, where it commutes, §1.5)
 *   grad-weight  dW = Q₂(dY)ᵀ·Q(X)       Q₁, Q₂ independent draws (unless backwardDraws = 'shared')
 * SMP (addons.smp, METHODS §2.4): with s samples both backward GEMMs run s times, each on fresh draws of Q(dY)
 * (one per sample when shared), and their outputs are averaged (Σ then ·1/s, in float32); s = 1 is the plain path.
 * dX passes the forward quantizer's STE unchanged. Each stochastic quantization takes a fresh stream of the
 * layer's Rng, so a run is reproducible from its seed. When the grad-weight GEMM uses a quantized X, only the
 * codes are kept for the backward pass, never the fp32 activation.
 * With every slot fp32 this computes exactly what linearRows computes (same kernels, same order).
 * Binary layers (METHODS §3.2, §3.7): a forward quantizer with an STE mask (sign: clipped 1{|x| < 1}) multiplies
 * dX by its mask of X and dW by its mask of W; a learnable per-output-channel scale a_c (cfg.outputScale)
 * multiplies Y (an fp32 op, so a_c gets its gradient); conv padding under sign(0) = +1 is corrected in the
 * GEMM (bit-gemm.ts), given the conv geometry.
 */
import { record } from '../autograd/graph.js';
import { isGradEnabled } from '../autograd/mode.js';
import { checkLayerGemm } from '../ops/matmul.js';
import { Tensor } from '../tensor/tensor.js';
import type { Rng } from '../tensor/random.js';
import { check } from '../tensor/errors.js';
import { backend } from '../backend/index.js';
import type { BackwardSlot, GemmName, RecipeSlots, Slot } from './recipe.js';
import type { QuantSpec } from './spec.js';
import { quantizeWith, specIsStochastic, specSteMask, specZeroNotExact } from './quantizers/index.js';
import { mul } from '../ops/elementwise.js';
import type { ConvGeometry, LayerGemm } from '../ops/conv.js';
import { qconv2d } from './qconv.js';
import { type PadInfo, padInfoOf } from './bit-gemm.js';
import type { QuantizedOperand } from './quantize.js';
import { type GemmPlan, planGemm } from './gemm-plan.js';
import { type GemmOperand, runGemm } from './gemm-exec.js';

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

interface LayerState {
  plans: Map<string, LayerPlans>;
}

const states = new WeakMap<QGemmConfig, LayerState>();

export function plansFor(cfg: QGemmConfig, inF: number, outF: number, rps: number, padded: boolean): LayerPlans {
  let st = states.get(cfg);
  if (!st) states.set(cfg, (st = { plans: new Map() }));
  const key = `${rps}:${inF}:${outF}:${padded}`;
  let p = st.plans.get(key);
  if (!p) {
    p = planLayer(cfg.slots, inF, outF, rps, padded);
    st.plans.set(key, p);
    cfg.onPlan?.(rps, p);
  }
  return p;
}

export type Where = [GemmName, 'x' | 'w' | 'dy'];

export function quantOperand(cfg: QGemmConfig, where: Where, spec: QuantSpec | null, data: Float32Array, rows: number, cols: number, rps: number,
  pad: PadInfo | null = null): GemmOperand {
  if (spec === null) return { kind: 'fp32', data, rows, cols };
  const draw = specIsStochastic(spec) ? { seed: cfg.rng.seed, stream: cfg.rng.next() } : null;
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

/** Y[rows, out] = X[rows, in]·W[out, in]ᵀ with the layer's quantizers (see the file comment). */
export function qgemm(x: Tensor, w: Tensor, cfg: QGemmConfig, rowsPerSample = 1, geometry?: ConvGeometry): Tensor {
  checkLayerGemm('qgemm', x, w);
  const [rows, inF] = x.shape, outF = w.shape[0];
  const rps = rowsPerSample;
  check(Number.isInteger(rps) && rps >= 1 && rows % rps === 0, () => `qgemm: ${rows} rows are not a whole number of samples of ${rps} rows`);
  const { slots } = cfg;
  const pad = geometry ? padInfoOf(geometry) : null;
  check(pad === null || pad.pixels === rps, () => `qgemm: conv geometry has ${pad!.pixels} output pixels but rowsPerSample is ${rps}`);
  const plans = plansFor(cfg, inF, outF, rps, pad !== null);
  const fxSpec = effectiveSpec(slots.forward.x, 'fp32'), fwSpec = effectiveSpec(slots.forward.w, 'fp32');
  const xOp = quantOperand(cfg, ['forward', 'x'], fxSpec, x.data, rows, inF, rps, pad);
  const wOp = quantOperand(cfg, ['forward', 'w'], effectiveSpec(slots.forward.w, 'fp32'), w.data, outF, inF, rps);
  const y = new Tensor(runGemm(xOp, false, wOp, false, plans.forward), [rows, outF]);
  // STE masks of the forward quantizers (clipped STE of sign), applied to dX and dW.
  const xMask = x.requiresGrad && isGradEnabled() && fxSpec ? specSteMask(fxSpec, x.data) : null;

  // What the backward pass keeps (closures below capture only these).
  const xSlot = slots.gradWeight.x;
  const recording = isGradEnabled();
  const xForGrad: GemmOperand | null = !recording || !w.requiresGrad ? null
    : xSlot === 'forward' ? xOp
      : quantOperand(cfg, ['gradWeight', 'x'], effectiveSpec(xSlot, 'fp32'), x.data, rows, inF, rps, pad);
  const wSlot = slots.gradInput.w;
  const wForward = wSlot === 'forward' ? wOp : null;
  const wData = w.data;
  const needDx = x.requiresGrad;
  const giSpec = effectiveSpec(slots.gradInput.dy, 'fp32'), gwSpec = effectiveSpec(slots.gradWeight.dy, 'fp32');
  const samples = [giSpec, gwSpec].some((s) => s !== null && specIsStochastic(s)) ? cfg.samples ?? 1 : 1;

  const out = record(y, 'qgemm', [x, w], (g) => {
    let dx: Float32Array | null = null, dw: Float32Array | null = null;
    let wOp2: GemmOperand | null = null;
    for (let j = 0; j < samples; j++) {
      let dyIn: GemmOperand | null = null;
      if (needDx) {
        dyIn = quantOperand(cfg, ['gradInput', 'dy'], giSpec, g.data, rows, outF, rps);
        wOp2 ??= wForward ?? quantOperand(cfg, ['gradInput', 'w'], effectiveSpec(wSlot, 'fp32'), wData, outF, inF, rps);
        dx = accumulate(dx, runGemm(dyIn, false, wOp2, true, plans.gradInput));
      }
      if (xForGrad) {
        const dyW = cfg.backwardDraws === 'shared' && dyIn !== null ? dyIn : quantOperand(cfg, ['gradWeight', 'dy'], gwSpec, g.data, rows, outF, rps);
        dw = accumulate(dw, runGemm(dyW, true, xForGrad, true, plans.gradWeight));
      }
    }
    return [
      masked(dx && new Tensor(average(dx, samples), [rows, inF]), xMask),
      masked(dw && new Tensor(average(dw, samples), [outF, inF]), fwSpec ? specSteMask(fwSpec, wData) : null),
    ];
  });
  return cfg.outputScale ? mul(out, cfg.outputScale) : out;
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

/**
 * A LayerGemm (nn/layers.ts) running qgemm with `cfg`; its `conv` entry lets ops/conv.ts quantize a conv input
 * before im2col when the layer's quantizers allow it (qconv.ts).
 */
export function makeQGemm(cfg: QGemmConfig): LayerGemm {
  const gemm: LayerGemm = (x, w, rowsPerSample, geometry) => qgemm(x, w, cfg, rowsPerSample ?? 1, geometry);
  gemm.conv = (x, w, geometry) => qconv2d(x, w, cfg, geometry);
  return gemm;
}
