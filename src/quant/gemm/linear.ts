/**
 * qgemm: the layer GEMM triple on rows (ops/matmul.ts linearRows) with the recipe's quantizers and plain STE
 * (METHODS §0.4, §1.3, §1.6):
 *   forward      Y  = Q(X)·Q(W)ᵀ
 *   grad-input   dX = Q₁(dY)·Q(W)        (BHQ: T⁻¹ applied to dX, where it commutes, §1.5)
 *   grad-weight  dW = Q₂(dY)ᵀ·Q(X)
 * The backward loop (draws, SMP) is layer.ts's. dX passes the forward quantizer's STE unchanged. When the
 * grad-weight GEMM uses a quantized X, only the codes are kept for the backward pass, never the fp32 activation.
 * With every slot fp32 this computes exactly what linearRows computes (same kernels, same order).
 * Binary layers (METHODS §3.2, §3.7): a forward quantizer with an STE mask (sign: clipped 1{|x| < 1}) multiplies
 * dX by its mask of X and dW by its mask of W; a learnable per-output-channel scale a_c (cfg.outputScale)
 * multiplies Y (an fp32 op, so a_c gets its gradient); conv padding under sign(0) = +1 is corrected in the
 * GEMM (bit.ts), given the conv geometry.
 */
import { record } from '../../autograd/graph.js';
import { isGradEnabled } from '../../autograd/mode.js';
import { checkLayerGemm } from '../../ops/matmul.js';
import { mul } from '../../ops/elementwise.js';
import type { ConvGeometry } from '../../ops/conv.js';
import { check } from '../../tensor/errors.js';
import { Tensor } from '../../tensor/tensor.js';
import { specSteMask } from '../quantizers/index.js';
import { binaryLinear } from './bconv.js';
import { effectiveSpec, layerBackward, masked, plansFor, type QGemmConfig, quantOperand } from './layer.js';
import { type GemmOperand, padInfoOf } from './operand.js';
import { runGemm } from './run.js';
import { fusedLayer, fusedPlansFor } from './fused.js';
import { drawRotation, rotate } from './hadamard.js';

/** Whether every slot is fp32 (qgemm then computes exactly linearRows' GEMMs, on rows). */
function allFp32(slots: QGemmConfig['slots']): boolean {
  return effectiveSpec(slots.forward.x, 'fp32') === null && effectiveSpec(slots.forward.w, 'fp32') === null
    && effectiveSpec(slots.gradInput.dy, 'fp32') === null && effectiveSpec(slots.gradInput.w, slots.forward.w) === null
    && effectiveSpec(slots.gradWeight.dy, 'fp32') === null && effectiveSpec(slots.gradWeight.x, slots.forward.x) === null;
}

/**
 * Y[rows, out] = X[rows, in]·W[out, in]ᵀ with the layer's quantizers. A linear layer (one row per sample, no conv
 * geometry) runs on the fused passes when they fit (fused.ts: a 1×1 conv on a 1×1 image); everything else on rows.
 */
export function qgemm(x: Tensor, w: Tensor, cfg: QGemmConfig, rowsPerSample = 1, geometry?: ConvGeometry): Tensor {
  checkLayerGemm('qgemm', x, w);
  const [rows, inF] = x.shape, outF = w.shape[0];
  if (geometry === undefined && rowsPerSample === 1 && !allFp32(cfg.slots) && !cfg.hadamard) {
    // A binary layer runs on packed bits as a 1×1 conv (bconv.ts), other quantized layers on the fused passes.
    const binary = binaryLinear(x, w, cfg);
    if (binary !== null) return binary;
    const plans = fusedPlansFor(cfg, inF, outF, 1);
    if (plans) {
      const g = { n: rows, c: inF, h: 1, w: 1, oc: outF, kh: 1, kw: 1, stride: 1, pad: 0, oh: 1, ow: 1 };
      return fusedLayer(x, w, cfg, g, plans, [rows, outF]);
    }
  }
  return qgemmRows(x, w, cfg, rowsPerSample, geometry);
}

/** The layer GEMMs on rows (see the file comment): im2col rows of a conv, or a linear layer's rows. */
export function qgemmRows(x: Tensor, w: Tensor, cfg: QGemmConfig, rowsPerSample = 1, geometry?: ConvGeometry): Tensor {
  checkLayerGemm('qgemm', x, w);
  const [rows, inF] = x.shape, outF = w.shape[0];
  const rps = rowsPerSample;
  check(Number.isInteger(rps) && rps >= 1 && rows % rps === 0, () => `qgemm: ${rows} rows are not a whole number of samples of ${rps} rows`);
  const { slots } = cfg;
  const pad = geometry ? padInfoOf(geometry) : null;
  check(pad === null || pad.pixels === rps, () => `qgemm: conv geometry has ${pad!.pixels} output pixels but rowsPerSample is ${rps}`);
  const plans = plansFor(cfg, inF, outF, rps, pad !== null);
  const fxSpec = effectiveSpec(slots.forward.x, 'fp32'), fwSpec = effectiveSpec(slots.forward.w, 'fp32');
  // Random Hadamard transforms along each GEMM's K (hadamard.ts); null without recipe.hadamard.
  const rf = drawRotation(cfg, 'forward', inF);
  const xOp = quantOperand(cfg, ['forward', 'x'], fxSpec, rf ? rotate(x.data, rows, inF, 'cols', rf) : x.data, rows, inF, rps, pad);
  const wOp = quantOperand(cfg, ['forward', 'w'], fwSpec, rf ? rotate(w.data, outF, inF, 'cols', rf) : w.data, outF, inF, rps);
  const y = new Tensor(runGemm(xOp, false, wOp, false, plans.forward), [rows, outF]);
  // STE masks of the forward quantizers (clipped STE of sign), applied to dX and dW.
  const xMask = x.requiresGrad && isGradEnabled() && fxSpec ? specSteMask(fxSpec, x.data) : null;

  // What the backward pass keeps (closures below capture only these).
  const xSlot = slots.gradWeight.x;
  const rgw = isGradEnabled() && w.requiresGrad ? drawRotation(cfg, 'gradWeight', rows) : null;
  const xForGrad: GemmOperand | null = !isGradEnabled() || !w.requiresGrad ? null
    : xSlot === 'forward' ? xOp
      : quantOperand(cfg, ['gradWeight', 'x'], effectiveSpec(xSlot, 'fp32'), rgw ? rotate(x.data, rows, inF, 'rows', rgw) : x.data, rows, inF, rps, pad);
  const wSlot = slots.gradInput.w;
  const wData = w.data;
  let wForDx: GemmOperand | null = wSlot === 'forward' ? wOp : null;
  const needDx = x.requiresGrad;
  const giSpec = effectiveSpec(slots.gradInput.dy, 'fp32'), gwSpec = effectiveSpec(slots.gradWeight.dy, 'fp32');

  const out = record(y, 'qgemm', [x, w], (g) => {
    const rgi = needDx ? drawRotation(cfg, 'gradInput', outF) : null;
    const dyIn = rgi ? rotate(g.data, rows, outF, 'cols', rgi) : g.data, dyW = rgw ? rotate(g.data, rows, outF, 'rows', rgw) : g.data;
    // A backward GEMM on the forward's rotated codes gets the STE through the rotation: its output times Rᵀ along `in`.
    const unrotate = (c: Float32Array, r: number, reused: boolean) => (rf && reused ? rotate(c, r, inF, 'cols', rf, true) : c);
    const { dx, dw } = layerBackward(cfg, {
      quantizeDy: (gemm) => quantOperand(cfg, [gemm, 'dy'], gemm === 'gradInput' ? giSpec : gwSpec, gemm === 'gradInput' ? dyIn : dyW, rows, outF, rps),
      gradInput: needDx ? (dy) => {
        wForDx ??= quantOperand(cfg, ['gradInput', 'w'], effectiveSpec(wSlot, 'fp32'), rgi ? rotate(wData, outF, inF, 'rows', rgi) : wData, outF, inF, rps);
        return unrotate(runGemm(dy, false, wForDx, true, plans.gradInput), rows, wSlot === 'forward');
      } : null,
      gradWeight: xForGrad ? (dy) => unrotate(runGemm(dy, true, xForGrad, true, plans.gradWeight), outF, xSlot === 'forward') : null,
    });
    return [
      masked(dx && new Tensor(dx, [rows, inF]), xMask),
      masked(dw && new Tensor(dw, [outF, inF]), fwSpec ? specSteMask(fwSpec, wData) : null),
    ];
  });
  return cfg.outputScale ? mul(out, cfg.outputScale) : out;
}
