/** The quantized layer GEMMs: a LayerGemm for nn/layers.ts that runs linear.ts on rows and conv.ts on whole convs. */
import type { LayerGemm } from '../../ops/conv.js';
import { qconv2d } from './conv.js';
import type { QGemmConfig } from './layer.js';
import { qgemm } from './linear.js';

/**
 * A LayerGemm (nn/layers.ts) running qgemm with `cfg`; its `conv` entry lets ops/conv.ts quantize a conv input
 * before im2col when the layer's quantizers allow it (conv.ts).
 */
export function makeQGemm(cfg: QGemmConfig): LayerGemm {
  const gemm: LayerGemm = (x, w, rowsPerSample, geometry) => qgemm(x, w, cfg, rowsPerSample ?? 1, geometry);
  gemm.conv = (x, w, geometry) => qconv2d(x, w, cfg, geometry);
  return gemm;
}

export { qgemm, qgemmRows } from './linear.js';
export { planFusedLayer } from './fused.js';
export { qconv2d } from './conv.js';
export { effectiveSpec, planLayer, savedActivation, type LayerPlans, type QGemmConfig } from './layer.js';
export { planGemm, runGemm } from './run.js';
export { materialize, type ConvGeometryLike, type GemmOperand } from './operand.js';
export { type GemmPath, type GemmPlan, MIN_INT_KBLOCK } from './plan.js';
