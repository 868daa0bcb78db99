/** The configuration of one training run: plain JSON, saved in checkpoints and compared on --resume. */
import { check } from '../tensor/errors.js';
import type { ModelName } from '../nn/models/index.js';
import type { DatasetName } from '../data/registry.js';
import type { OptimizerName } from '../optim/index.js';
import type { Recipe } from '../quant/recipe.js';

/**
 * What a run records (run.json, checkpoints). `model` / `dataset` name a built-in one, or describe the Module /
 * data set object given to `fit()` (e.g. 'MyNet', 'custom').
 */
export interface RunConfig {
  model: string;
  dataset: string;
  dataDir?: string;
  epochs: number;
  batchSize: number;
  optimizer: OptimizerName;
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov: boolean;
  schedule: 'constant' | 'cosine' | 'step';
  warmupEpochs: number;
  /** For the step schedule: multiply the lr by `gamma` every `stepEpochs` epochs. */
  stepEpochs: number;
  gamma: number;
  labelSmoothing: number;
  augment: boolean;
  seed: number;
  /** Use only the first N training samples (0 = all): quick experiments and tests. */
  trainLimit: number;
  testLimit: number;
  /** Quantization recipe label or file (fp32 when absent). */
  recipe?: string;
  /** BatchNorm diagnostics every N steps (train/bn-diagnostics.ts); 0 or absent = off. */
  bnDiagnostics?: number;
  /** Initial weights (safetensors file or checkpoint directory) for fine-tuning (train/init-weights.ts). */
  init?: string;
}

/** A run of a built-in model on a built-in data set, by name (`train()`, `fqt train`). */
export interface TrainConfig extends RunConfig {
  model: ModelName;
  dataset: DatasetName;
}

export const DEFAULT_CONFIG: TrainConfig = {
  model: 'lenet',
  dataset: 'mnist',
  epochs: 8,
  batchSize: 64,
  optimizer: 'sgd',
  lr: 0.02,
  momentum: 0.9,
  weightDecay: 5e-4,
  nesterov: true,
  schedule: 'cosine',
  warmupEpochs: 0,
  stepEpochs: 30,
  gamma: 0.1,
  labelSmoothing: 0,
  augment: false,
  seed: 1,
  trainLimit: 0,
  testLimit: 0,
};

/** Keys a recipe's training defaults (recipe.training) may fill. */
type RecipeDefaulted = 'optimizer' | 'lr' | 'weightDecay' | 'schedule' | 'warmupEpochs';

/**
 * A full config from the keys the caller gave: each absent key comes from the recipe's training defaults
 * (e.g. the 1-bit presets' Adam at lr 1e-3), then from DEFAULT_CONFIG. Explicit keys always win.
 */
export function withTrainingDefaults<M extends string, D extends string>(given: Partial<RunConfig> & { model: M; dataset: D }, recipe: Recipe | null):
  RunConfig & { model: M; dataset: D } {
  const t = recipe?.training ?? {};
  const fromRecipe: Partial<Pick<RunConfig, RecipeDefaulted>> = {};
  for (const k of ['optimizer', 'lr', 'weightDecay', 'schedule', 'warmupEpochs'] as const) if (t[k] !== undefined) (fromRecipe as Record<string, unknown>)[k] = t[k];
  const defined = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as typeof given;
  return { ...DEFAULT_CONFIG, ...fromRecipe, ...defined };
}

export function validateConfig(c: RunConfig): void {
  check(Number.isInteger(c.epochs) && c.epochs >= 1, `epochs must be a positive integer, got ${c.epochs}`);
  check(Number.isInteger(c.batchSize) && c.batchSize >= 1, `batch size must be a positive integer, got ${c.batchSize}`);
  check(Number.isFinite(c.lr) && c.lr > 0, `learning rate must be positive, got ${c.lr}`);
  check(c.momentum >= 0 && c.momentum < 1, `momentum must be in [0, 1), got ${c.momentum}`);
  check(c.weightDecay >= 0, `weight decay must be ≥ 0, got ${c.weightDecay}`);
  check(['constant', 'cosine', 'step'].includes(c.schedule), `schedule must be constant, cosine or step, got '${c.schedule}'`);
  check(c.warmupEpochs >= 0 && c.warmupEpochs < c.epochs, `warm-up epochs must be in [0, epochs), got ${c.warmupEpochs}`);
  check(c.labelSmoothing >= 0 && c.labelSmoothing < 1, `label smoothing must be in [0, 1), got ${c.labelSmoothing}`);
  check(c.bnDiagnostics === undefined || (Number.isInteger(c.bnDiagnostics) && c.bnDiagnostics >= 0), `bnDiagnostics (--bn-diagnostics-every) must be an integer ≥ 0, got ${c.bnDiagnostics}`);
  check(Number.isInteger(c.seed) && c.seed >= 0 && c.seed < 2 ** 32, `seed must be an integer in [0, 2^32), got ${c.seed}`);
}

/** Keys whose change makes a checkpoint incompatible with a resumed run. */
export const RESUME_KEYS: (keyof RunConfig)[] = ['model', 'dataset', 'batchSize', 'optimizer', 'seed', 'trainLimit', 'recipe', 'augment'];
