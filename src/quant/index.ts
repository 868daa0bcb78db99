/** Fully quantized training core: quantizer specs, quantized tensors, recipes, presets, qgemm, applyRecipe. */
export * from './spec.js';
export * from './qtensor.js';
export * from './params.js';
export * from './rounding.js';
export * from './transforms.js';
export type { QuantContext, QuantizedOperand, Quantizer } from './quantize.js';
export { QUANTIZERS, parseQuantSpec, quantizeWith, specCode, specCodeBits, specGrouping, specIsStochastic, specLabel, specMixesRows, specBitRole, specSteMask, specZeroNotExact, specOutputScale } from './quantizers/index.js';
export { agpKeepCount, agpKeepMask } from './quantizers/agp.js';
export { signQTensor } from './quantizers/binary.js';
export * from './recipe.js';
export * from './addons/bn-rectify.js';
export * from './presets.js';
export * from './gemm/index.js';
export * from './apply.js';
export * from './addons/index.js';
export { luqAlpha, luqKmax } from './quantizers/luq.js';
export { sawbClip, sawbRange, SAWB_C1_4BIT, SAWB_C2_4BIT } from './quantizers/sawb.js';
