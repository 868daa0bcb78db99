/** Fully quantized training core: quantizer specs, quantized tensors, recipes, presets, qgemm, applyRecipe. */
export * from './spec.js';
export * from './qtensor.js';
export * from './params.js';
export * from './rounding.js';
export * from './transforms.js';
export type { QuantContext, QuantizedOperand, Quantizer } from './quantize.js';
export { QUANTIZERS, parseQuantSpec, quantizeWith, specCode, specCodeBits, specGrouping, specIsStochastic, specLabel, specMixesRows } from './quantizers/index.js';
export * from './recipe.js';
export * from './bn-rectify-spec.js';
export * from './presets.js';
export * from './gemm-plan.js';
export { materialize, runGemm, type GemmOperand } from './gemm-exec.js';
export * from './qgemm.js';
export * from './apply.js';
