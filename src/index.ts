/** fqt's public API. */
export { Tensor, tensor, zeros, full, scalar, parameter } from './tensor/tensor.js';
export { Rng, uniform, type RngState } from './tensor/random.js';
export { FqtError } from './tensor/errors.js';
export { type Shape, shapeSize } from './tensor/shape.js';
export { grad, GradStore, type Node } from './autograd/graph.js';
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
export { saveCheckpoint, loadCheckpoint, latestCheckpoint, saveWeights, loadWeights } from './train/checkpoint.js';
// BatchNorm noise amplification (METHODS §4.1) and the reconstructed BN rectification loss (§4.2).
export { BnRectifier, quantizesGradients } from './train/bn-rectify.js';
export { BnMonitor, type BnStepRecord, type BnEpochSummary } from './train/bn-diagnostics.js';
export { measureBnNoise, layerWarnings, type BnNoiseReport, type BnLayerNoise, type BnWarning } from './stats/bn-noise.js';
export { BnGradProbe, gammaSigmaStats, type GammaSigmaStats } from './stats/bn-probe.js';
