/**
 * The backward of the fused binary layers (bconv.ts, METHODS §3.3–§3.7): the two backward GEMMs of one layer call in
 * layer.ts's loop (SMP, shared / independent draws), on what the forward kept (X's sign and STE-mask bits, W's signs).
 *   'bits'     a quantized dY is described by its group parameters (one draw): per-(sample, channel) ranges of dY
 *              through a_c, folded into the spec's groups, then the quantizer's groupParams (AGP pruning included);
 *              binaryConvGradInput / binaryConvGradWeight make the codes (bit-identical to the rows path's) and run the
 *              bit-plane GEMMs against the packed signs.
 *   'dequant'  dY quantized by the spec on its GEMM rows and dequantized, as the rows path's 'fp32-dequant'; then
 *   'fp32'     the fp32 conv backward (conv2dBackward) on ±1 values rebuilt from the bits, the X mask applied after.
 * da_c = Σ dY·Z with Z recomputed from the bits (binaryConvScaleGrad); when both passes are fp32 (bin-qat), one
 * conv2dBackward on dY gives dX, dW and da_c together (fp32Backward).
 */
import { backend } from '../../backend/index.js';
import type { Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { type Grouping, makeGrouping, quantizeWithParams, type QuantParams } from '../qtensor.js';
import { specGroupParams, specGrouping, specSteMask } from '../quantizers/index.js';
import { layerBackward, masked, nextDraw, type QGemmConfig, quantOperand } from './layer.js';
import { materialize } from './operand.js';
import { fp32Backward, fp32Pass, NONE, scratchF32 } from './bconv-fp32.js';
import type { Fit, Kept } from './bconv-plan.js';


/** Per-(sample, channel) (or per-group) minima and maxima of dY. */
interface RangeTable { mins: Float32Array; maxs: Float32Array }

/** dY as one backward GEMM consumes it: fp32 NCHW values (dZ or its dequantized codes), or one draw's parameters. */
type DyDraw = { kind: 'fp32'; dz: Float32Array } | { kind: 'bits'; p: QuantParams };



export function binaryBackward(cfg: QGemmConfig, fit: Fit, geom: Int32Array, kept: Kept, shapes: { x: Shape; w: Shape },
  need: { dx: boolean; dw: boolean }): (g: Tensor) => (Tensor | null)[] {
  const [n, c, h, wd, oc, kh, kw, , , oh, ow] = geom;
  const P = oh * ow, K = c * kh * kw, chw = c * h * wd;
  const { xSigns, xMask, wSigns, wData, a } = kept;
  return (gY) => {
    const be = backend(), dy = gY.data;
    if (fit.gi.kind === 'fp32' && fit.gw.kind === 'fp32') {
      const r = fp32Backward(geom, kept, fit, dy, { ...need, da: a?.requiresGrad ?? false });
      return [r.dx && new Tensor(nanIf(r.dx, fit.giWSign && kept.nanW), shapes.x),
        r.dw && masked(new Tensor(nanIf(r.dw, kept.nanX), shapes.w), specSteMask(fit.fw, wData)),
        ...(a ? [r.da && new Tensor(nanIf(r.da, kept.nanX || kept.nanW), a.shape)] : [])];
    }
    const scale = a ? a.data : NONE;
    let dz: Float32Array | null = null; // f32(dY·a_c), built once when an fp32 pass or a trace needs it
    const dZ = (): Float32Array => (dz ??= scaled(dy, scale, n, oc, P));
    // da_c first: its kernel reads dY anyway and also gives the per-(sample, channel) ranges the bit passes need.
    let da: Tensor | null = null, table: RangeTable | null = null;
    if (a?.requiresGrad) {
      da = new Tensor(new Float32Array(oc), a.shape);
      const needRanges = fit.gi.kind === 'bits' || fit.gw.kind === 'bits';
      table = needRanges ? { mins: new Float32Array(n * oc), maxs: new Float32Array(n * oc) } : null;
      be.binaryConvScaleGrad(geom, xSigns, wSigns, dy, da.data, table?.mins ?? NONE, table?.maxs ?? NONE);
    }
    const ranges = lazyRanges(dy, scale, n, oc, P, table);
    const quantizeDy = (gemm: 'gradInput' | 'gradWeight'): DyDraw => {
      const pass = gemm === 'gradInput' ? fit.gi : fit.gw;
      if (pass.kind === 'fp32') return { kind: 'fp32', dz: dZ() };
      if (pass.kind === 'dequant') {
        const rows = materialize(quantOperand(cfg, [gemm, 'dy'], pass.spec, rowsOf(dZ(), n, oc, P), n * P, oc, P), false);
        const dzq = scratchF32(rows.length);
        if (rows.length > 0) be.transpose(n, P, oc, rows, dzq);
        return { kind: 'fp32', dz: dzq };
      }
      const grouping = specGrouping(pass.spec, n * P, oc, P);
      const { mins, maxs } = ranges(grouping);
      const p = specGroupParams(pass.spec, mins, maxs, grouping, nextDraw(cfg, pass.spec))!;
      if (cfg.trace) cfg.trace(gemm, 'dy', { q: quantizeWithParams(rowsOf(dZ(), n, oc, P), n * P, oc, p), transform: null });
      return { kind: 'bits', p };
    };
    const fp32 = (which: 'dx' | 'dw', dzv: Float32Array): Float32Array =>
      nanIf(fp32Pass(which, geom, kept, fit, dzv), which === 'dx' ? fit.giWSign && kept.nanW : kept.nanX);
    const { dx, dw } = layerBackward<DyDraw>(cfg, {
      quantizeDy,
      gradInput: need.dx ? (d) => {
        if (d.kind === 'fp32') return fp32('dx', d.dz);
        const out = scratchF32(n * chw);
        const { p } = d;
        be.binaryConvGradInput(geom, dy, scale, kernelInts(p, false), p.offset, p.scale, p.inv, p.zeroPoint, wSigns, xMask ?? new Uint32Array(0), out);
        return nanIf(out, hasNaN(p) || kept.nanW);
      } : null,
      gradWeight: need.dw ? (d) => {
        if (d.kind === 'fp32') return fp32('dw', d.dz);
        const out = scratchF32(oc * K);
        const { p } = d;
        be.binaryConvGradWeight(geom, dy, scale, kernelInts(p, fit.gw.kind === 'bits' && fit.gw.blocked), p.offset, p.scale, p.inv, p.zeroPoint, xSigns, out);
        return nanIf(out, hasNaN(p) || kept.nanX);
      } : null,
    });
    if (da) nanIf(da.data, kept.nanX || kept.nanW);
    return [
      dx && new Tensor(dx, shapes.x),
      dw && masked(new Tensor(dw, shapes.w), specSteMask(fit.fw, wData)),
      ...(a ? [da] : []),
    ];
  };
}

/**
 * `out` filled with NaN when poisoned: an operand held a NaN its sign bits cannot (Kept), or dY's group parameters
 * are NaN (a NaN in dY); the rows path's bit GEMMs do the same (bit.ts, issue 18).
 */
function nanIf(out: Float32Array, poisoned: boolean): Float32Array {
  return poisoned ? out.fill(NaN) : out;
}
const hasNaN = (p: QuantParams): boolean => p.scale.some(Number.isNaN) || p.offset.some(Number.isNaN);

/** q = [rowDiv, rowMod, colDiv, bits, stochastic, seed, stream, blocked] of the kernels (bconv-kernels.ts). */
function kernelInts(p: QuantParams, blocked: boolean): Int32Array {
  const g = p.grouping;
  return Int32Array.of(g.rowDiv, g.rowMod, g.colDiv, p.bits, p.rounding === 'stochastic' ? 1 : 0, (p.draw?.seed ?? 0) | 0,
    (p.draw?.stream ?? 0) | 0, blocked ? 1 : 0);
}

/** f32(dy·scale[channel]) of dy[n, oc, P] (dy itself without a scale). */
function scaled(dy: Float32Array, scale: Float32Array, n: number, oc: number, P: number): Float32Array {
  if (scale.length === 0) return dy;
  const out = scratchF32(dy.length);
  backend().binary('mul', dy, Int32Array.of(oc * P, P, 1), scale, Int32Array.of(0, 1, 0), Int32Array.of(n, oc, P), out);
  return out;
}

/** dY's GEMM rows [n·P, oc] (the layout the rows path quantizes; only traces need it). */
function rowsOf(dz: Float32Array, n: number, oc: number, P: number): Float32Array {
  const rows = new Float32Array(dz.length);
  if (rows.length > 0) backend().transpose(n, oc, P, dz, rows);
  return rows;
}

/**
 * Group ranges of f32(dY·a_c) for a grouping of dY's GEMM rows [n·P, oc] whose groups depend on (sample, channel)
 * only: the per-(sample, channel) ranges of dY (from binaryConvScaleGrad, else sampleChannelRange), once per
 * backward, mapped through a_c (rounding is
 * monotone: the range of f32(a·x) is f32(a·min) … f32(a·max), swapped for a < 0), folded by quantRange over the
 * [n, oc] table.
 */
function lazyRanges(dy: Float32Array, scale: Float32Array, n: number, oc: number, P: number, raw: RangeTable | null): (g: Grouping) => RangeTable {
  let table: RangeTable | null = null;
  return (g) => {
    if (table === null) {
      const be = backend();
      table = raw ?? { mins: new Float32Array(n * oc), maxs: new Float32Array(n * oc) };
      if (raw === null) be.sampleChannelRange(n, oc, P, dy, table.mins, table.maxs);
      if (scale.length > 0 && table.mins.length > 0) {
        const shape = Int32Array.of(n, oc), rows = Int32Array.of(oc, 1), cols = Int32Array.of(0, 1);
        const lo = new Float32Array(n * oc), hi = new Float32Array(n * oc);
        be.binary('mul', table.mins, rows, scale, cols, shape, lo);
        be.binary('mul', table.maxs, rows, scale, cols, shape, hi);
        be.binary('min', lo, rows, hi, rows, shape, table.mins);
        be.binary('max', lo, rows, hi, rows, shape, table.maxs);
      }
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
