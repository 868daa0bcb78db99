/**
 * fqt's public API: `import { … } from 'fqt'`. Tensors, autograd and ops; modules and the built-in models; optimizers
 * and schedules; data sets and the loader; quantization recipes (data), presets and applyRecipe; the trainer
 * (`train` by name, `fit` for your own Module and data) with checkpoints and resume; safetensors and PyTorch names.
 */
export { Tensor, tensor, zeros, full, scalar, parameter, type Node } from './tensor/tensor.js';
export { Rng, uniform, type RngState } from './tensor/random.js';
export { FqtError } from './tensor/errors.js';
export { type Shape, shapeSize } from './tensor/shape.js';
export { grad, GradStore } from './autograd/graph.js';
export { noGrad, isGradEnabled } from './autograd/mode.js';
export * from './ops/index.js';
export { backend, setBackend, refBackend, withFallback, type Backend, type KernelName } from './backend/index.js';
export * from './nn/index.js';
export * from './optim/index.js';
export * from './data/index.js';
export { fit, train, type FitData, type FitOptions, type StepProgress, type TrainOptions, type TrainResult } from './train/trainer.js';
export type { EpochContext, EpochReport, LossTerm, PhaseChange, StepContext, TrainHook } from './train/hooks.js';
export { DEFAULT_CONFIG, withTrainingDefaults, type RunConfig, type TrainConfig } from './train/config.js';
export { evaluate } from './train/evaluate.js';
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, saveWeights, loadWeights, type CheckpointData, type LoadedCheckpoint } from './train/checkpoint.js';
export { initFromWeights, type InitReport } from './train/init-weights.js';
export { readSafetensors, writeSafetensors, encodeSafetensors, decodeSafetensors, type SafeDType, type SafeEntry, type SafetensorsContent, type TensorLike, type AnyTensorLike } from './train/safetensors.js';
export { fromTorchNames, toTorchNames, fqtName, torchName } from './train/torch-names.js';
export type { EpochMetrics } from './train/metrics.js';
// Data-parallel training over processes and machines on gloo (docs/DISTRIBUTED.md; needs Debian's libgloo-dev at install).
export type { DataParallel, StepSums } from './train/parallel.js';
export { ProcessGroup, type JoinOptions } from './distributed/group.js';
export { GlooDataParallel, type DataParallelOptions } from './distributed/data-parallel.js';
export { ALLREDUCE_MODES, type AllreduceMode } from './distributed/codec.js';
export { workerEnv, type WorkerEnv } from './distributed/launch.js';
// Quantization (METHODS §0–§4): a recipe is data — one quantizer slot per (GEMM, operand), overrides, add-ons,
// training defaults — validated by parseRecipe / recipeFromData, named by presets, attached by applyRecipe.
export { RECIPE_VERSION, parseRecipe, deriveLabel, qatOf, type Recipe, type RecipeSlots, type Slot, type BackwardSlot, type LayerOverride, type GemmName, type RecipeAddons } from './quant/recipe.js';
export { RECIPE_OPTIMIZERS, RECIPE_SCHEDULES, type RecipeTraining } from './quant/recipe-training.js';
export { preset, presetNames, recipeFromData, loadRecipeFile, resolveRecipe, BINARY_PRESETS, PRESET_BITS, type PresetName, type RecipeName } from './quant/presets.js';
export { applyRecipe, removeRecipe, formatResolved, type ApplyOptions, type ResolvedRecipe, type ResolvedLayer, type ResolvedGemm } from './quant/apply.js';
export { QUANT_KINDS, type QuantSpec, type QuantKind, type UniformSpec, type BhqSpec, type SawbSpec, type LuqSpec, type SignSpec, type AgpSpec, type Granularity, type IntFormat, type Rounding } from './quant/spec.js';
export { QUANTIZERS, parseQuantSpec, quantizeWith, specLabel, specCodeBits } from './quant/quantizers/index.js';
export { dequantize, type QTensor } from './quant/qtensor.js';
export type { SmpAddon, FntAddon, BnRectifySpec } from './quant/addons/index.js';
// BatchNorm noise amplification (METHODS §4.1) and the reconstructed BN rectification loss (§4.2).
export { BnRectifier, bnRectifyHook, quantizesGradients } from './train/bn-rectify.js';
export { BnMonitor, type BnStepRecord, type BnEpochSummary } from './train/bn-diagnostics.js';
export { measureBnNoise, layerWarnings, type BnNoiseReport, type BnLayerNoise, type BnWarning } from './stats/bn-noise.js';
export { BnGradProbe, gammaSigmaStats, type GammaSigmaStats } from './stats/bn-probe.js';
export { measureVariance, type VarianceReport, type VarianceRow } from './stats/variance.js';
