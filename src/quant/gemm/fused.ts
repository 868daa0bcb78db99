/**
 * Fused quantized layers (issue 13): a conv — or a linear layer, as a 1×1 conv on a 1×1 image — whose three
 * passes each run as ONE conv-level kernel (run.ts planConvPass: the int8 kernels of int8-conv.ts, or the fp32
 * fused conv on dequantized operands of dequant-conv.ts), instead of im2col rows + a layer GEMM.
 * Semantics: X is quantized as the layer's input tensor (per tensor or per sample, deterministic), W as [oc, K],
 * dY in layer layout (rows [n·oh·ow, oc], the same groups and random draws as the rows path), and the conv pads
 * with exact zeros — the conv of the dequantized operands, computed from exact integer sums.
 * Kept for the backward: X's codes (1 byte per element, two per byte at ≤ 4 bits; never the fp32 activation when the
 * grad-weight X slot is quantized) and W's codes. The backward loop (draws, SMP) is layer.ts's; forward STE masks (sign's clipped STE)
 * multiply dX and dW, and a learnable output scale a_c multiplies Y, as on the rows path (linear.ts).
 */
import { record } from '../../autograd/graph.js';
import { setRecompute } from '../../autograd/saved.js';
import { isGradEnabled } from '../../autograd/mode.js';
import { mul } from '../../ops/elementwise.js';
import { reshape } from '../../ops/movement.js';
import { check } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import type { RecipeSlots } from '../recipe.js';
import type { QuantSpec } from '../spec.js';
import { fitsNibbles, type NibbleCodes, packNibbleCodes, unpackNibbleCodes } from '../nibbles.js';
import { quantizeConvInputWith, specSteMask } from '../quantizers/index.js';
import { effectiveSpec, type LayerPlans, layerBackward, masked, plansFor, type QGemmConfig, quantOperand, type Where } from './layer.js';
import type { ConvGrad, ConvInput, GemmOperand, LayerGeometry } from './operand.js';
import type { ConvRunners, GemmPlan } from './plan.js';
import { GEMM_PATHS, planConvPass } from './run.js';

/**
 * Recomputing one value of Y costs K = c·kh·kw multiply-adds and saves its 4 bytes. Layers with K at or above this
 * keep Y instead. In ResNet-20 at batch 128 every stage's 3×3 convs cost the same multiply-adds per layer, but a
 * stage-2 Y (K = 288) is half a stage-1 Y (K = 144): stages 2 and 3 keep Y (27.6 MiB); stage 1, the 1×1 shortcuts and the fp32
 * stem (K = 9) recompute theirs: 9 conv forward passes run twice per step instead of all 21. With
 * ReLU's 1-bit masks the 8-bit-forward recipes keep 0.34× fp32's memory for the backward (46.5 of 137.0 MiB).
 */
export const RECOMPUTE_MAX_K = 256;

/** The plans of a fused layer, or null when some pass has no conv-level runner (the layer then runs on rows). */
export function planFusedLayer(slots: RecipeSlots, shape: { oc: number; k: number; rowsPerSample: number }): LayerPlans | null {
  const forward = planConvPass('forward', effectiveSpec(slots.forward.x, 'fp32'), effectiveSpec(slots.forward.w, 'fp32'), shape);
  const gradInput = planConvPass('gradInput', effectiveSpec(slots.gradInput.dy, 'fp32'), effectiveSpec(slots.gradInput.w, slots.forward.w), shape);
  const gradWeight = planConvPass('gradWeight', effectiveSpec(slots.gradWeight.dy, 'fp32'), effectiveSpec(slots.gradWeight.x, slots.forward.x), shape);
  return forward && gradInput && gradWeight ? { forward, gradInput, gradWeight } : null;
}

function runners(plan: GemmPlan): ConvRunners {
  const r = GEMM_PATHS[plan.path].conv;
  check(r !== undefined, () => `internal: path ${plan.path} has no conv runners`);
  return r;
}

/** X as the fused passes take it: its codes as a conv input in NHWC order (quantizeConvInput), or fp32 (NCHW). */
function convInput(cfg: QGemmConfig, where: Where, spec: QuantSpec | null, x: Float32Array, g: LayerGeometry): ConvInput {
  if (spec === null) return { kind: 'fp32', data: x };
  const q = quantizeConvInputWith(spec, { data: x, n: g.n, c: g.c, hw: g.h * g.w });
  check(q !== null, 'internal: the fused plan admitted an X quantizer that cannot quantize a conv input');
  cfg.trace?.(where[0], where[1], { q, transform: null });
  return { kind: 'codes', q };
}

/**
 * X as the backward pass keeps it: codes of at most 4 bits two per byte (unpacked, bit for bit, whenever a pass
 * reads them), anything else as it is. The closures hold only the returned function, never the unpacked codes
 * (each closure is made in its own function: V8 shares one context between the closures of a function).
 */
function keepConvInput(x: ConvInput): () => ConvInput {
  return x.kind === 'codes' && fitsNibbles(x.q) ? unpackOnRead(packNibbleCodes(x.q)) : () => x;
}

function unpackOnRead(kept: NibbleCodes): () => ConvInput {
  return () => ({ kind: 'codes', q: unpackNibbleCodes(kept) });
}

/** dY of the backward pass for one GEMM slot: fp32 as given (NCHW), or quantized rows (a fresh draw) read from the planes. */
function convGrad(cfg: QGemmConfig, gemm: 'gradInput' | 'gradWeight', spec: QuantSpec | null, nchw: Float32Array, g: LayerGeometry): ConvGrad {
  if (spec === null) return { kind: 'fp32', nchw };
  const P = g.oh * g.ow;
  const planes = { data: nchw, n: g.n, c: g.oc, hw: P };
  return { kind: 'quant', rows: quantOperand(cfg, [gemm, 'dy'], spec, planes, g.n * P, g.oc, P) as Extract<GemmOperand, { kind: 'quant' }> };
}

/**
 * y = layer(x, w) on the fused passes of `cfg` (see the file comment). `yShape` is [n, oc, oh, ow] for a conv and
 * [n, oc] for a linear layer (the same memory layout).
 */
export function fusedLayer(x: Tensor, w: Tensor, cfg: QGemmConfig, g: LayerGeometry, plans: LayerPlans, yShape: number[]): Tensor {
  const { slots } = cfg;
  const P = g.oh * g.ow, K = g.c * g.kh * g.kw;
  const fx = effectiveSpec(slots.forward.x, 'fp32'), fw = effectiveSpec(slots.forward.w, 'fp32');
  const xIn = convInput(cfg, ['forward', 'x'], fx, x.data, g);
  const wOp = quantOperand(cfg, ['forward', 'w'], fw, w.data, g.oc, K, P);
  const y = runners(plans.forward).forward(xIn, wOp, g);

  // What the backward pass keeps: the closures below capture only these, never x itself.
  const recording = isGradEnabled();
  const xMask = recording && x.requiresGrad && fx ? specSteMask(fx, x.data) : null;
  const xSlot = slots.gradWeight.x;
  const keptX = !recording || !w.requiresGrad ? null
    : keepConvInput(xSlot === 'forward' ? xIn : convInput(cfg, ['gradWeight', 'x'], effectiveSpec(xSlot, 'fp32'), x.data, g));
  const recomputable = keptX !== null && xSlot === 'forward' && xIn.kind === 'codes';
  const wSlot = slots.gradInput.w, wData = w.data, xShape = x.shape, wShape = w.shape;
  let wForDx: GemmOperand | null = wSlot === 'forward' ? wOp : null;
  const needDx = x.requiresGrad;
  const giSpec = effectiveSpec(slots.gradInput.dy, 'fp32'), gwSpec = effectiveSpec(slots.gradWeight.dy, 'fp32');

  const out = record(new Tensor(y, yShape), 'qlayer', [x, w], (grad) => {
    const { dx, dw } = layerBackward<ConvGrad>(cfg, {
      quantizeDy: (gemm) => convGrad(cfg, gemm, gemm === 'gradInput' ? giSpec : gwSpec, grad.data, g),
      gradInput: needDx ? (dy) => {
        wForDx ??= quantOperand(cfg, ['gradInput', 'w'], effectiveSpec(wSlot, 'fp32'), wData, g.oc, K, P);
        return runners(plans.gradInput).gradInput(dy, wForDx, g);
      } : null,
      gradWeight: keptX ? (dy) => runners(plans.gradWeight).gradWeight(dy, keptX(), g) : null,
    });
    return [
      masked(dx && new Tensor(dx, xShape), xMask),
      masked(dw && new Tensor(dw, wShape), fw ? specSteMask(fw, wData) : null),
    ];
  });
  if (!cfg.outputScale) {
    // Y is a deterministic function of the codes this layer keeps anyway (when the grad-weight pass keeps the forward
    // X codes): a consumer that needs Y in its backward (batch norm) recomputes it instead of holding its float32 values,
    // unless recomputing costs too many multiply-adds per byte it saves (RECOMPUTE_MAX_K).
    if (recomputable && K < RECOMPUTE_MAX_K) setRecompute(out, () => runners(plans.forward).forward(keptX(), wOp, g));
    return out;
  }
  return mul(out, yShape.length === 4 ? reshape(cfg.outputScale, [g.oc, 1, 1]) : cfg.outputScale);
}

/** The plans of a fused layer call (cached per geometry like plansFor; null: not fusable). */
export function fusedPlansFor(cfg: QGemmConfig, k: number, oc: number, rowsPerSample: number): LayerPlans | null {
  const plans = planFusedLayer(cfg.slots, { oc, k, rowsPerSample });
  return plans === null ? null : plansFor(cfg, k, oc, rowsPerSample, false, plans);
}
