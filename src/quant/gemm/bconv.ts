/**
 * Binary conv and linear layers on packed bits (1-bit FQT, METHODS §3.2–§3.7): the fused path of a layer whose
 * forward GEMM is 'b1' (sign X × sign W). A linear layer is the 1×1 geometry.
 *   forward   X → sign bits + clipped-STE mask bits in one pass (packSignsClip); Y = a_c · Σ x±·w± by
 *             binaryConvForward on the bits, NCHW, padding contributing exactly 0. The layer keeps X's two bit
 *             arrays (1/16 of fp32 X) and W's sign bits — never X or Y in fp32.
 *   a_c       an input of the op with an exact backward: da_c = Σ dY·Z, Z recomputed from the bits.
 *   backward  dZ = a_c·dY (bconv-backward.ts). A quantized dY slot on a bit-plane path whose groups the kernels take
 *             (per sample / per tensor for grad-input; per channel, per tensor or per-sample K-blocks for
 *             grad-weight) runs binaryConvGradInput / binaryConvGradWeight on bit planes of its codes (bit-identical
 *             to the rows path's codes), STE mask in the epilogue, pruned groups skipped. Any other dY slot (fp32 in
 *             bin-qat, a quantizer or grouping the kernels do not take) runs the fp32 conv backward on ±1 values
 *             rebuilt from the bits, on dY or its quantized-dequantized values ('fp32-dequant').
 * The path names reports print stay those of the plans ('b1', 'bitplane', ...). A layer whose grad-weight GEMM reads
 * X in fp32 (or whose grad-input GEMM reads W through another quantizer) returns null: the caller takes the rows path
 * (conv.ts / linear.ts), which keeps what that needs.
 */
import { backend } from '../../backend/index.js';
import { record } from '../../autograd/graph.js';
import { setRecompute } from '../../autograd/saved.js';
import { isGradEnabled } from '../../autograd/mode.js';
import type { ConvGeometry } from '../../ops/conv.js';
import type { Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { makeGrouping } from '../qtensor.js';
import { specBitRole, specGroupParams, specGrouping, specSteClip } from '../quantizers/index.js';
import type { QuantSpec } from '../spec.js';
import { binaryBackward } from './bconv-backward.js';
import type { Fit, Pass } from './bconv-plan.js';
import { NONE, scratchF32 } from './bconv-fp32.js';
import { effectiveSpec, type LayerPlans, plansFor, type QGemmConfig } from './layer.js';

const words = (k: number): number => (k + 31) >>> 5;

/**
 * The bit-plane kernels' pass of a quantized dY slot, when its plan is a bit-plane path and its spec and grouping fit
 * the kernels; otherwise dY is quantized and dequantized as the rows path does and the GEMM runs in fp32 on the ±1
 * values ('fp32-dequant', or a bit-plane plan whose groups the kernels do not take: the same numbers either way).
 */
function passOf(spec: QuantSpec, plan: LayerPlans['gradInput'], P: number, gemm: 'gradInput' | 'gradWeight'): Pass {
  const dequant: Pass = { kind: 'dequant', spec };
  // groupParams answers null from the spec alone: probe it on one group.
  if (specGroupParams(spec, Float32Array.of(0), Float32Array.of(1), makeGrouping(1, 1, 1, 1, 1), { seed: 0, stream: 0 }) === null) return dequant;
  const g = specGrouping(spec, 2 * P, 1 << 10, P); // dY rows of two samples; a wide row shows per-column groups
  if (gemm === 'gradInput') {
    // One group per sample (or per tensor): constant along the reduced axis (the channels) and across a sample's pixels.
    return plan.path === 'bitplane' && g.colGroups === 1 && (g.rowMod === 1 || g.rowDiv % P === 0) ? { kind: 'bits', spec, blocked: false } : dequant;
  }
  if (plan.path === 'bitplane' && g.rowMod === 1) return { kind: 'bits', spec, blocked: false };
  if (plan.path === 'bitplane-blocked' && plan.kBlock === P && g.colGroups === 1 && g.rowDiv === P) return { kind: 'bits', spec, blocked: true };
  return dequant;
}

/** How the layer runs fused; null = the rows path. */
function binaryFit(cfg: QGemmConfig, plans: LayerPlans, P: number): Fit | null {
  const { slots } = cfg;
  const fx = effectiveSpec(slots.forward.x, 'fp32'), fw = effectiveSpec(slots.forward.w, 'fp32');
  if (plans.forward.path !== 'b1' || fx === null || fw === null) return null;
  const gwX = effectiveSpec(slots.gradWeight.x, slots.forward.x), giW = effectiveSpec(slots.gradInput.w, slots.forward.w);
  // The grad-weight GEMM reads X's kept sign bits; the grad-input GEMM W's signs or the fp32 parameter itself.
  if (gwX === null || specBitRole(gwX) !== 'sign' || (giW !== null && specBitRole(giW) !== 'sign')) return null;
  const pass = (gemm: 'gradInput' | 'gradWeight'): Pass => {
    const spec = effectiveSpec(slots[gemm].dy, 'fp32');
    return spec === null ? { kind: 'fp32' } : passOf(spec, plans[gemm], P, gemm);
  };
  let gi = pass('gradInput'), gw = pass('gradWeight');
  // Shared draws hand the grad-input draw to the grad-weight GEMM: the bit kernels take it only when both passes
  // quantize the same way; otherwise both run on its dequantized values.
  if (cfg.backwardDraws === 'shared' && gi.kind !== 'fp32' && gw.kind !== 'fp32'
    && !(gi.kind === 'bits' && gw.kind === 'bits' && JSON.stringify(gi.spec) === JSON.stringify(gw.spec))) {
    gi = { kind: 'dequant', spec: gi.spec };
    gw = { kind: 'dequant', spec: gw.spec };
  }
  return { gi, gw, fx, fw, giWSign: giW !== null };
}

/** y[n, oc, oh, ow] of a binary conv on packed bits, or null when the layer's recipe does not fit (file comment). */
export function binaryConv2d(x: Tensor, w: Tensor, cfg: QGemmConfig, g: ConvGeometry): Tensor | null {
  const n = x.shape[0], oc = w.shape[0];
  return binaryLayer(x, w, cfg, Int32Array.of(n, g.c, g.h, g.w, oc, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow), [n, oc, g.oh, g.ow]);
}

/** Y[rows, out] of a binary linear layer (the 1×1 geometry), or null when the recipe does not fit. */
export function binaryLinear(x: Tensor, w: Tensor, cfg: QGemmConfig): Tensor | null {
  const [rows, inF] = x.shape, outF = w.shape[0];
  return binaryLayer(x, w, cfg, Int32Array.of(rows, inF, 1, 1, outF, 1, 1, 1, 0, 1, 1), [rows, outF]);
}

function binaryLayer(x: Tensor, w: Tensor, cfg: QGemmConfig, geom: Int32Array, yShape: Shape): Tensor | null {
  const [n, c, h, wd, oc, kh, kw, , pad, oh, ow] = geom;
  const P = oh * ow, K = c * kh * kw, chw = c * h * wd;
  const fit = binaryFit(cfg, plansFor(cfg, K, oc, P, pad > 0), P);
  if (fit === null) return null;
  const be = backend();
  const recording = isGradEnabled();
  const clip = specSteClip(fit.fx);
  // Sign and clipped-STE bits of X in one pass (the mask only when dX is needed); a NaN has no sign bit: the layer's
  // output (and what the NaN operand reaches in the backward) is NaN, as on the rows path (bit.ts, issue 18).
  const xSigns = new Uint32Array(n * words(chw)), nanX = new Int32Array(1), nanW = new Int32Array(1);
  const xMask = recording && x.requiresGrad && clip !== null ? new Uint32Array(n * words(chw)) : null;
  be.packSignsClip(n, chw, x.data, clip ?? 1, xSigns, xMask ?? new Uint32Array(xSigns.length), nanX);
  const wSigns = new Uint32Array(oc * words(K));
  be.packSignsClip(oc, K, w.data, 1, wSigns, new Uint32Array(wSigns.length), nanW);
  const a = cfg.outputScale ?? null;
  const forward = (): Float32Array => {
    const y = scratchF32(n * oc * P);
    be.binaryConvForward(geom, xSigns, wSigns, a ? a.data : NONE, y);
    return nanX[0] || nanW[0] ? y.fill(NaN) : y;
  };
  const out = new Tensor(forward(), yShape);
  if (!recording) return out;
  // The backward keeps the bits, W's parameter (its STE mask, fp32 grad-input values) and shapes: never x.
  const backward = binaryBackward(cfg, fit, geom, { xSigns, xMask, wSigns, wData: w.data, a, nanX: nanX[0] !== 0, nanW: nanW[0] !== 0 },
    { x: x.shape, w: w.shape }, { dx: x.requiresGrad, dw: w.requiresGrad });
  const y = record(out, 'binaryConv', a ? [x, w, a] : [x, w], backward);
  // Y is a function of the bits kept anyway: a consumer that needs Y in its backward (batch norm) recomputes it.
  setRecompute(y, forward);
  return y;
}
