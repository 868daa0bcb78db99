/**
 * Quantized convolution that quantizes the conv INPUT X[n, c, h, w] rather than its im2col rows (the layer GEMM's
 * X operand, METHODS §0.1). For a deterministic quantizer whose scale group is the tensor or the sample,
 * quantization commutes with im2col: the codes of the im2col rows are the im2col of X's codes, a padded entry
 * taking the code of 0. That holds exactly when X's range is widened to contain 0 whenever the conv pads and every
 * input pixel is read by some output pixel (otherwise im2col's range is not X's, and the conv takes the rows path
 * of ops/conv.ts: im2col + qgemm). Quantizers opt in through `quantizeConvInput` (quantize.ts).
 *
 * Why (issue 4): the backward pass keeps 1 byte per activation (X's codes) instead of the kh·kw bytes of im2col
 * codes or the 4 bytes of an fp32 activation, and no batch-sized column matrix is ever built: the three GEMMs run
 * on chunks of samples whose im2col rows are made on the fly and dropped.
 *   forward      Y_chunk  = cols(Q(X))_chunk · Q(W)ᵀ              rows split by sample: every output element is
 *   grad-input   dX_chunk = col2im(Q₁(dY)_chunk · Q(W))           computed exactly as by one GEMM
 *   grad-weight  dW = Σ_chunks Q₂(dY)_chunkᵀ · cols(Q(X))_chunk   K = (sample, pixel) split; float32 sum of chunks
 * dY is quantized whole (per-tensor ranges and the draws need all of it). BHQ's T⁻¹ mixes whole samples with one
 * coefficient per sample pair, so it commutes with col2im and is applied to dX (METHODS §1.5); on the grad-weight
 * GEMM (where it would mix along K) dY is dequantized with T⁻¹ first, as the rows path does.
 */
import { backend } from '../../backend/index.js';
import { record } from '../../autograd/graph.js';
import { isGradEnabled } from '../../autograd/mode.js';
import type { ConvGeometry } from '../../ops/conv.js';
import { mul } from '../../ops/elementwise.js';
import { reshape } from '../../ops/movement.js';
import { Tensor } from '../../tensor/tensor.js';
import { type QTensor, groupingOf, sliceRows } from '../qtensor.js';
import { quantizeConvInputWith, specSteMask } from '../quantizers/index.js';
import type { QuantSpec } from '../spec.js';
import { applyBhq } from '../transforms.js';
import { binaryConv2d } from './bconv.js';
import { accumulate, effectiveSpec, layerBackward, masked, plansFor, type QGemmConfig, quantOperand } from './layer.js';
import { type GemmOperand, GemmScratch, materialize } from './operand.js';
import { runGemm } from './run.js';

/**
 * Bytes of float32 im2col rows one chunk of samples may span: bounds a quantized conv's transient memory (tests
 * lower it to exercise several chunks).
 */
export const convChunking = { bytes: 4 << 20 };

/**
 * Chunk buffers shared by every quantized conv of the process (forward and backward). JavaScript runs one conv
 * at a time and each conv consumes a buffer before asking for it again, so sharing is safe; it turns hundreds of
 * MiB of short-lived chunk buffers per training step into a few buffers of the largest chunk's size.
 */
const scratch = new GemmScratch();

/** What the conv keeps of X for the grad-weight GEMM: X's codes (with their pad codes) or the fp32 activation. */
type ConvCodes = { kind: 'codes'; q: QTensor; padCodes: Uint8Array | Int8Array };
type ConvInput = ConvCodes | { kind: 'fp32'; data: Float32Array };

/** Per axis: does the window read every input index, and does it read padding? */
function axisCoverage(size: number, k: number, stride: number, pad: number, out: number): { covered: boolean; padded: boolean } {
  const read = new Uint8Array(size);
  let padded = false;
  for (let o = 0; o < out; o++) {
    for (let i = 0; i < k; i++) {
      const p = o * stride - pad + i;
      if (p < 0 || p >= size) padded = true;
      else read[p] = 1;
    }
  }
  return { covered: read.every((v) => v === 1), padded };
}

/** The codes of 0 per sample (quantizeAffine of zeros with each sample's group parameters). */
function zeroCodes(q: QTensor, n: number): Uint8Array | Int8Array {
  const groups = q.scale.length;
  const perGroup = q.signed ? new Int8Array(groups) : new Uint8Array(groups);
  const inv = Float32Array.from(q.scale, (s) => 1 / s);
  if (groups > 0) backend().quantizeAffine(new Float32Array(groups), groups, 1, 1, groups, 1, q.offset, inv, q.zeroPoint, q.qmin, q.qmax, 0, 0, 0, perGroup);
  const perSample = q.signed ? new Int8Array(n) : new Uint8Array(n);
  for (let s = 0; s < n; s++) perSample[s] = perGroup[groups === 1 ? 0 : s];
  return perSample;
}

/** The GEMM operand of the im2col rows of samples [s0, s1), in the scratch's 'cols' buffer. */
function colsOf(src: ConvInput, s0: number, s1: number, g: ConvGeometry, scratch: GemmScratch): GemmOperand {
  const S = s1 - s0, P = g.oh * g.ow, K = g.c * g.kh * g.kw, chw = g.c * g.h * g.w;
  const be = backend();
  if (src.kind === 'fp32') {
    const data = scratch.f32('cols', S * P * K);
    be.im2col(src.data.subarray(s0 * chw, s1 * chw), S, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow, data);
    return { kind: 'fp32', data, rows: S * P, cols: K };
  }
  const { q } = src;
  const codes = q.signed ? scratch.i8('cols', S * P * K) : scratch.u8('cols', S * P * K);
  be.im2colCodes(q.codes.subarray(s0 * chw, s1 * chw), S, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow,
    src.padCodes.subarray(s0, s1), codes);
  const perSample = q.scale.length > 1;
  const params = perSample
    ? { offset: q.offset.subarray(s0, s1), scale: q.scale.subarray(s0, s1), zeroPoint: q.zeroPoint.subarray(s0, s1) }
    : { offset: q.offset, scale: q.scale, zeroPoint: q.zeroPoint };
  const grouping = groupingOf(perSample ? 'sample' : 'tensor', S * P, K, P);
  return { kind: 'quant', value: { q: { ...q, ...params, rows: S * P, cols: K, grouping, codes }, transform: null } };
}

/** Rows [r0, r1) of a dY operand (row transforms are handled by the caller). */
function rowsOf(op: GemmOperand, r0: number, r1: number): GemmOperand {
  if (op.kind === 'fp32') return { kind: 'fp32', data: op.data.subarray(r0 * op.cols, r1 * op.cols), rows: r1 - r0, cols: op.cols };
  return { kind: 'quant', value: { q: sliceRows(op.value.q, r0, r1), transform: null } };
}

/** X's codes for the conv, or null when the spec cannot quantize a conv input. */
function convInput(spec: QuantSpec, x: Float32Array, n: number, chw: number, padded: boolean): ConvCodes | null {
  const q = quantizeConvInputWith(spec, x, n, chw, padded);
  return q && { kind: 'codes', q, padCodes: zeroCodes(q, n) };
}

/**
 * y[n, oc, oh, ow] = conv(x, w) with the layer's quantizers, quantizing X before im2col (see the file comment);
 * null when this layer's X quantizers or the geometry do not allow it (the caller then runs im2col + qgemm).
 */
export function qconv2d(x: Tensor, w: Tensor, cfg: QGemmConfig, g: ConvGeometry): Tensor | null {
  // Binary layers (sign X × sign W) run on packed bits (bconv.ts) when their backward quantizers fit.
  const binary = binaryConv2d(x, w, cfg, g);
  if (binary !== null) return binary;
  const { slots } = cfg;
  // (A forward X quantizer with an STE mask, sign, has no quantizeConvInput: such layers take the rows path.)
  const fxSpec = effectiveSpec(slots.forward.x, 'fp32');
  if (fxSpec === null) return null;
  const cy = axisCoverage(g.h, g.kh, g.stride, g.pad, g.oh), cx = axisCoverage(g.w, g.kw, g.stride, g.pad, g.ow);
  if (!cy.covered || !cx.covered) return null;
  const padded = cy.padded || cx.padded;
  const n = x.shape[0], oc = w.shape[0];
  const P = g.oh * g.ow, K = g.c * g.kh * g.kw, chw = g.c * g.h * g.w, rows = n * P;
  const xIn = convInput(fxSpec, x.data, n, chw, padded);
  if (xIn === null) return null;
  const recording = isGradEnabled();
  let xForGrad: ConvInput | null = null;
  if (recording && w.requiresGrad) {
    const xSlot = slots.gradWeight.x;
    const spec = xSlot === 'forward' ? fxSpec : effectiveSpec(xSlot, 'fp32');
    xForGrad = xSlot === 'forward' ? xIn : spec === null ? { kind: 'fp32', data: x.data } : convInput(spec, x.data, n, chw, padded);
    if (xForGrad === null) return null;
  }
  cfg.trace?.('forward', 'x', { q: xIn.q, transform: null });
  if (xForGrad?.kind === 'codes' && xForGrad !== xIn) cfg.trace?.('gradWeight', 'x', { q: xForGrad.q, transform: null });

  const plans = plansFor(cfg, K, oc, P, g.pad > 0);
  const fwSpec = effectiveSpec(slots.forward.w, 'fp32');
  const wOp = quantOperand(cfg, ['forward', 'w'], fwSpec, w.data, oc, K, P);
  const S = Math.max(1, Math.floor(convChunking.bytes / Math.max(1, 4 * P * K)));
  const be = backend();
  const y = new Float32Array(n * oc * P); // every element written by the chunk transposes
  for (let s0 = 0; s0 < n; s0 += S) {
    const s1 = Math.min(n, s0 + S);
    const out = runGemm(colsOf(xIn, s0, s1, g, scratch), false, wOp, false, plans.forward, scratch);
    be.transpose(s1 - s0, P, oc, out, y.subarray(s0 * oc * P, s1 * oc * P));
  }

  const wSlot = slots.gradInput.w;
  let wForDx: GemmOperand | null = wSlot === 'forward' ? wOp : null;
  // The backward closures capture only what is named here: never x itself (its fp32 data is what this path frees).
  const wData = w.data, xShape = x.shape, wShape = w.shape;
  const needDx = x.requiresGrad;
  const giSpec = effectiveSpec(slots.gradInput.dy, 'fp32'), gwSpec = effectiveSpec(slots.gradWeight.dy, 'fp32');

  const gradInput = (dy: GemmOperand, wq: GemmOperand): Float32Array => {
    let dx: Float32Array = new Float32Array(n * chw);
    for (let s0 = 0; s0 < n; s0 += S) {
      const s1 = Math.min(n, s0 + S);
      const dcols = runGemm(rowsOf(dy, s0 * P, s1 * P), false, wq, true, plans.gradInput, scratch);
      be.col2im(dcols, s1 - s0, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow, dx.subarray(s0 * chw, s1 * chw));
    }
    const t = dy.kind === 'quant' ? dy.value.transform : null;
    if (t && dx.length > 0) dx = applyBhq(t, dx, chw, true);
    return dx;
  };
  const gradWeight = (dy: GemmOperand, xs: ConvInput): Float32Array => {
    // A row transform would mix samples along K: apply its inverse on the dequantized dY first.
    const dyRows: GemmOperand = dy.kind === 'quant' && dy.value.transform ? { kind: 'fp32', data: materialize(dy, false), rows, cols: oc } : dy;
    const dw = new Float32Array(oc * K);
    for (let s0 = 0; s0 < n; s0 += S) {
      const s1 = Math.min(n, s0 + S);
      accumulate(dw, runGemm(rowsOf(dyRows, s0 * P, s1 * P), true, colsOf(xs, s0, s1, g, scratch), true, plans.gradWeight, scratch));
    }
    return dw;
  };

  const out = record(new Tensor(y, [n, oc, g.oh, g.ow]), 'qconv2d', [x, w], (grad) => {
    // dY in GEMM rows: in the shared scratch too (the quantized dY operands below are separate arrays).
    const gRows = scratch.f32('dyRows', rows * oc);
    be.transpose(n, oc, P, grad.data, gRows);
    const { dx, dw } = layerBackward(cfg, {
      quantizeDy: (gemm) => quantOperand(cfg, [gemm, 'dy'], gemm === 'gradInput' ? giSpec : gwSpec, gRows, rows, oc, P),
      gradInput: needDx ? (dy) => {
        wForDx ??= quantOperand(cfg, ['gradInput', 'w'], effectiveSpec(wSlot, 'fp32'), wData, oc, K, P);
        return gradInput(dy, wForDx);
      } : null,
      gradWeight: xForGrad ? (dy) => gradWeight(dy, xForGrad!) : null,
    });
    return [
      dx && new Tensor(dx, xShape),
      masked(dw && new Tensor(dw, wShape), fwSpec ? specSteMask(fwSpec, wData) : null),
    ];
  });
  return cfg.outputScale ? mul(out, reshape(cfg.outputScale, [oc, 1, 1])) : out;
}
