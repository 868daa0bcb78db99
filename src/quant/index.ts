/** Fully quantized training core: quantizer specs, quantized tensors, recipes, presets, qgemm, applyRecipe. */
export * from './spec.js';
export * from './qtensor.js';
export * from './params.js';
export * from './rounding.js';
export * from './transforms.js';
export type { QuantContext, QuantizedOperand, Quantizer } from './quantize.js';
export { QUANTIZERS, parseQuantSpec, quantizeWith, specCode, specCodeBits, specGrouping, specIsStochastic, specLabel, specMixesRows } from './quantizers/index.js';
export * from './recipe.js';
export * from './addons/bn-rectify.js';
export * from './presets.js';
export * from './gemm-plan.js';
export { materialize, runGemm, type GemmOperand } from './gemm-exec.js';
export * from './qgemm.js';
export * from './apply.js';
export * from './addons/index.js';
export { luqAlpha, luqKmax } from './quantizers/luq.js';
export { sawbClip, sawbRange, SAWB_C1_4BIT, SAWB_C2_4BIT } from './quantizers/sawb.js';
