/**
 * Binary conv and linear layers on packed bits (1-bit FQT, METHODS §3.2–§3.7): the fused path of a layer whose
 * forward GEMM is 'b1' (sign X × sign W). A linear layer is the 1×1 geometry.
 *   forward   X → sign bits + clipped-STE mask bits in one pass (packSignsClip); Y = a_c · Σ x±·w± by
 *             binaryConvForward on the bits, NCHW, padding contributing exactly 0. The layer keeps X's two bit
 *             arrays (1/16 of fp32 X) and W's sign bits — never X or Y in fp32.
 *   a_c       an input of the op with an exact backward: da_c = Σ dY·Z, Z recomputed from the bits.
 *   backward  dZ = a_c·dY. A quantized dY slot ('bitplane' / 'bitplane-blocked' path) is described by its group
 *             parameters only (ranges per (sample, channel) → the quantizer's groupParams, AGP pruning included);
 *             binaryConvGradInput / binaryConvGradWeight quantize the kept groups' codes, bit-for-bit the codes the
 *             rows path quantizes, into bit planes and run the bit-plane GEMMs against the packed signs, STE mask in
 *             the epilogue. An fp32 dY slot (bin-qat) runs the fp32 conv backward on ±1 values rebuilt from the
 *             bits ('fp32-dequant'). SMP and shared / independent draws are layer.ts's loop.
 * The path names reports print stay those of the plans ('b1', 'bitplane', ...). Layers whose recipe does not fit
 * (other dY groupings, a fp32 X for the grad-weight GEMM, AGP's 'mass' extension) return null: the caller takes
 * the rows path (conv.ts / linear.ts).
 */
import { backend } from '../../backend/index.js';
import { record } from '../../autograd/graph.js';
import { isGradEnabled } from '../../autograd/mode.js';
import type { ConvGeometry } from '../../ops/conv.js';
import type { Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { makeGrouping, quantizeWithParams, type QuantParams, type Grouping } from '../qtensor.js';
import { specBitRole, specGroupParams, specGrouping, specSteClip, specSteMask } from '../quantizers/index.js';
import type { QuantSpec } from '../spec.js';
import { effectiveSpec, layerBackward, type LayerPlans, masked, nextDraw, plansFor, type QGemmConfig } from './layer.js';

const words = (k: number): number => (k + 31) >>> 5;
const NONE = new Float32Array(0);

/** How one backward GEMM runs: on ±1 values in fp32, or on bit planes of dY's codes (`blocked`: per-sample K-blocks). */
type Pass = { kind: 'fp32' } | { kind: 'bits'; spec: QuantSpec; blocked: boolean };

interface Fit { gi: Pass; gw: Pass; fx: QuantSpec; fw: QuantSpec; giWSign: boolean }

/** A quantized dY as the fused kernels consume it: its group parameters (one draw), or fp32. */
type DyDraw = { kind: 'fp32' } | { kind: 'bits'; p: QuantParams };

/** A bit pass of a dY slot on this layer, or null when its spec or grouping does not fit the kernels. */
function bitPass(spec: QuantSpec, plan: LayerPlans['gradInput'], P: number, gemm: 'gradInput' | 'gradWeight'): Pass | null {
  // groupParams answers null from the spec alone: probe it on one group.
  if (specGroupParams(spec, Float32Array.of(0), Float32Array.of(1), makeGrouping(1, 1, 1, 1, 1), { seed: 0, stream: 0 }) === null) return null;
  const g = specGrouping(spec, 2 * P, 1 << 10, P); // dY rows of two samples; a wide row shows per-column groups
  if (gemm === 'gradInput') {
    // One group per sample (or per tensor): constant along the reduced axis (the channels) and across a sample's pixels.
    return plan.path === 'bitplane' && g.colGroups === 1 && (g.rowMod === 1 || g.rowDiv % P === 0) ? { kind: 'bits', spec, blocked: false } : null;
  }
  if (plan.path === 'bitplane' && g.rowMod === 1) return { kind: 'bits', spec, blocked: false };
  if (plan.path === 'bitplane-blocked' && plan.kBlock === P && g.colGroups === 1 && g.rowDiv === P) return { kind: 'bits', spec, blocked: true };
  return null;
}

/** Whether (and how) the layer runs fused; null = the rows path. */
function binaryFit(cfg: QGemmConfig, plans: LayerPlans, P: number): Fit | null {
  const { slots } = cfg;
  const fx = effectiveSpec(slots.forward.x, 'fp32'), fw = effectiveSpec(slots.forward.w, 'fp32');
  if (plans.forward.path !== 'b1' || fx === null || fw === null) return null;
  const gwX = effectiveSpec(slots.gradWeight.x, slots.forward.x), giW = effectiveSpec(slots.gradInput.w, slots.forward.w);
  // The grad-weight GEMM reads X's kept sign bits; the grad-input GEMM W's signs or the fp32 parameter itself.
  if (gwX === null || specBitRole(gwX) !== 'sign' || (giW !== null && specBitRole(giW) !== 'sign')) return null;
  const pass = (gemm: 'gradInput' | 'gradWeight'): Pass | null => {
    const spec = effectiveSpec(slots[gemm].dy, 'fp32');
    return spec === null ? { kind: 'fp32' } : bitPass(spec, plans[gemm], P, gemm);
  };
  const gi = pass('gradInput'), gw = pass('gradWeight');
  return gi && gw ? { gi, gw, fx, fw, giWSign: giW !== null } : null;
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
  const xSigns = new Uint32Array(n * words(chw));
  const xMask = recording && x.requiresGrad && clip !== null ? new Uint32Array(n * words(chw)) : null;
  if (xMask) be.packSignsClip(n, chw, x.data, clip!, xSigns, xMask);
  else be.packSigns(n, chw, x.data, xSigns);
  const wSigns = new Uint32Array(oc * words(K));
  be.packSigns(oc, K, w.data, wSigns);
  const a = cfg.outputScale ?? null;
  const y = new Float32Array(n * oc * P);
  be.binaryConvForward(geom, xSigns, wSigns, a ? a.data : NONE, y);
  const out = new Tensor(y, yShape);
  if (!recording) return out;
  // The backward keeps the bits, W's parameter (its STE mask, fp32 grad-input values) and shapes: never x.
  const backward = binaryBackward(cfg, fit, geom, { xSigns, xMask, wSigns, wData: w.data, a }, { x: x.shape, w: w.shape },
    { dx: x.requiresGrad, dw: w.requiresGrad });
  return record(out, 'binaryConv', a ? [x, w, a] : [x, w], backward);
}

interface Kept { xSigns: Uint32Array; xMask: Uint32Array | null; wSigns: Uint32Array; wData: Float32Array; a: Tensor | null }

function binaryBackward(cfg: QGemmConfig, fit: Fit, geom: Int32Array, kept: Kept, shapes: { x: Shape; w: Shape },
  need: { dx: boolean; dw: boolean }): (g: Tensor) => (Tensor | null)[] {
  const [n, c, h, wd, oc, kh, kw, stride, pad, oh, ow] = geom;
  const P = oh * ow, K = c * kh * kw, chw = c * h * wd;
  const { xSigns, xMask, wSigns, wData, a } = kept;
  return (gY) => {
    const be = backend(), dy = gY.data;
    const scale = a ? a.data : NONE;
    let dz: Float32Array | null = null; // f32(dY·a_c), built once when an fp32 pass or a trace needs it
    const dZ = (): Float32Array => (dz ??= scaled(dy, scale, n, oc, P));
    const ranges = lazyRanges(dy, scale, n, oc, P);
    const quantizeDy = (gemm: 'gradInput' | 'gradWeight'): DyDraw => {
      const pass = gemm === 'gradInput' ? fit.gi : fit.gw;
      if (pass.kind === 'fp32') return { kind: 'fp32' };
      const grouping = specGrouping(pass.spec, n * P, oc, P);
      const { mins, maxs } = ranges(grouping);
      const p = specGroupParams(pass.spec, mins, maxs, grouping, nextDraw(cfg, pass.spec))!;
      if (cfg.trace) cfg.trace(gemm, 'dy', { q: quantizeWithParams(rowsOf(dZ(), n, oc, P), n * P, oc, p), transform: null });
      return { kind: 'bits', p };
    };
    const fp32 = (which: 'dx' | 'dw'): Float32Array => {
      const out = new Float32Array(which === 'dx' ? n * chw : oc * K);
      const xv = which === 'dw' ? unpacked(xSigns, n, chw) : NONE;
      const wv = which === 'dw' ? NONE : fit.giWSign ? unpacked(wSigns, oc, K) : wData;
      be.conv2dBackward(xv, n, c, h, wd, wv, oc, kh, kw, stride, pad, oh, ow, dZ(), which === 'dx' ? out : NONE, which === 'dw' ? out : NONE);
      if (which === 'dx' && xMask) be.maskBits(n, chw, out, xMask, out);
      return out;
    };
    const { dx, dw } = layerBackward<DyDraw>(cfg, {
      quantizeDy,
      gradInput: need.dx ? (d) => {
        if (d.kind === 'fp32') return fp32('dx');
        const out = new Float32Array(n * chw);
        const { p } = d;
        be.binaryConvGradInput(geom, dy, scale, kernelInts(p, false), p.offset, p.scale, p.inv, p.zeroPoint, wSigns, xMask ?? new Uint32Array(0), out);
        return out;
      } : null,
      gradWeight: need.dw ? (d) => {
        if (d.kind === 'fp32') return fp32('dw');
        const out = new Float32Array(oc * K);
        const { p } = d;
        be.binaryConvGradWeight(geom, dy, scale, kernelInts(p, fit.gw.kind === 'bits' && fit.gw.blocked), p.offset, p.scale, p.inv, p.zeroPoint, xSigns, out);
        return out;
      } : null,
    });
    let da: Tensor | null = null;
    if (a?.requiresGrad) {
      da = new Tensor(new Float32Array(oc), a.shape);
      be.binaryConvScaleGrad(geom, xSigns, wSigns, dy, da.data);
    }
    return [
      dx && new Tensor(dx, shapes.x),
      dw && masked(new Tensor(dw, shapes.w), specSteMask(fit.fw, wData)),
      ...(a ? [da] : []),
    ];
  };
}

/** q = [rowDiv, rowMod, colDiv, bits, stochastic, seed, stream, blocked] of the kernels (bconv-kernels.ts). */
function kernelInts(p: QuantParams, blocked: boolean): Int32Array {
  const g = p.grouping;
  return Int32Array.of(g.rowDiv, g.rowMod, g.colDiv, p.bits, p.rounding === 'stochastic' ? 1 : 0, (p.draw?.seed ?? 0) | 0,
    (p.draw?.stream ?? 0) | 0, blocked ? 1 : 0);
}

/** f32(dy·scale[channel]) of dy[n, oc, P] (dy itself without a scale). */
function scaled(dy: Float32Array, scale: Float32Array, n: number, oc: number, P: number): Float32Array {
  if (scale.length === 0) return dy;
  const out = new Float32Array(dy.length);
  backend().binary('mul', dy, Int32Array.of(oc * P, P, 1), scale, Int32Array.of(0, 1, 0), Int32Array.of(n, oc, P), out);
  return out;
}

/** dY's GEMM rows [n·P, oc] (the layout the rows path quantizes; only traces need it). */
function rowsOf(dz: Float32Array, n: number, oc: number, P: number): Float32Array {
  const rows = new Float32Array(dz.length);
  if (rows.length > 0) backend().transpose(n, oc, P, dz, rows);
  return rows;
}

function unpacked(bits: Uint32Array, rows: number, k: number): Float32Array {
  const out = new Float32Array(rows * k);
  backend().unpackSigns(rows, k, bits, out);
  return out;
}

/**
 * Group ranges of f32(dY·a_c) for a grouping of dY's GEMM rows [n·P, oc] whose groups depend on (sample, channel)
 * only: the per-(sample, channel) ranges, computed once per backward, folded by quantRange over the [n, oc] table.
 */
function lazyRanges(dy: Float32Array, scale: Float32Array, n: number, oc: number, P: number): (g: Grouping) => { mins: Float32Array; maxs: Float32Array } {
  let table: { mins: Float32Array; maxs: Float32Array } | null = null;
  return (g) => {
    if (table === null) {
      table = { mins: new Float32Array(n * oc), maxs: new Float32Array(n * oc) };
      backend().sampleChannelRange(n, oc, P, dy, scale, table.mins, table.maxs);
    }
    const t = g.rowMod === 1 ? makeGrouping(n, oc, 1, 1, g.colDiv) : makeGrouping(n, oc, g.rowDiv / P, g.rowMod, g.colDiv);
    const G = t.rowGroups * t.colGroups;
    const mins = new Float32Array(G), maxs = new Float32Array(G), scratch = new Float32Array(G);
    if (n > 0 && oc > 0) {
      backend().quantRange(table.mins, n, oc, t.rowDiv, t.rowMod, t.colDiv, mins, scratch);
      backend().quantRange(table.maxs, n, oc, t.rowDiv, t.rowMod, t.colDiv, scratch, maxs);
    }
    return { mins, maxs };
  };
}
