/** The configuration of one training run: plain JSON, saved in checkpoints and compared on --resume. */
import { check } from '../tensor/errors.js';
import type { ModelName } from '../nn/models/index.js';
import type { DatasetName } from '../data/registry.js';
import { OPTIMIZER_NAMES, type OptimizerName } from '../optim/index.js';
import type { Recipe } from '../quant/recipe.js';
import { ON_NONFINITE } from './guard.js';

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
  /** Clip the gradient to this global L2 norm before each optimizer step (optim/clip.ts); 0 or absent = off. */
  clipNorm?: number;
  /** A step with a non-finite loss or gradient: 'stop' training (default) or 'skip' it and count it (train/guard.ts). */
  onNonFinite?: 'stop' | 'skip';
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

/**
 * The allowed values of every field (issue 18), next to the definition so that the CLI flags and the library API
 * share them: numeric ranges (inclusive unless `open`), integer or not, and closed enumerations. Each error names
 * the field, its flag and the allowed values.
 */
type Range = { flag: string; min: number; max: number; int?: boolean; openMin?: boolean; openMax?: boolean };
export const CONFIG_RANGES: { readonly [K in keyof RunConfig]?: Range } = {
  epochs: { flag: 'epochs', min: 1, max: 100_000, int: true },
  batchSize: { flag: 'batch-size', min: 1, max: 1 << 20, int: true },
  lr: { flag: 'lr', min: 0, max: 1000, openMin: true },
  momentum: { flag: 'momentum', min: 0, max: 1, openMax: true },
  weightDecay: { flag: 'weight-decay', min: 0, max: 1 },
  warmupEpochs: { flag: 'warmup', min: 0, max: 100_000 },
  stepEpochs: { flag: 'step-epochs', min: 0, max: 100_000, openMin: true },
  gamma: { flag: 'gamma', min: 0, max: 1, openMin: true },
  labelSmoothing: { flag: 'label-smoothing', min: 0, max: 1, openMax: true },
  seed: { flag: 'seed', min: 0, max: 2 ** 32 - 1, int: true },
  trainLimit: { flag: 'train-limit', min: 0, max: 1e9, int: true },
  testLimit: { flag: 'test-limit', min: 0, max: 1e9, int: true },
  bnDiagnostics: { flag: 'bn-diagnostics-every', min: 0, max: 1e9, int: true },
  clipNorm: { flag: 'clip-norm', min: 0, max: 1e9 },
};

/** Model and data set names are checked where they are looked up (they may also name a fit() Module or data). */
export const CONFIG_CHOICES: { readonly [K in keyof RunConfig]?: { flag: string; values: () => readonly string[] } } = {
  optimizer: { flag: 'optimizer', values: () => OPTIMIZER_NAMES },
  schedule: { flag: 'schedule', values: () => ['constant', 'cosine', 'step'] },
  onNonFinite: { flag: 'on-nonfinite', values: () => ON_NONFINITE },
};

function showRange(r: Range): string {
  return `${r.int ? 'an integer' : 'a number'} in ${r.openMin ? '(' : '['}${r.min}, ${r.max}${r.openMax ? ')' : ']'}`;
}

export function validateConfig(c: RunConfig): void {
  for (const [key, r] of Object.entries(CONFIG_RANGES) as [keyof RunConfig, Range][]) {
    const v = c[key];
    if (v === undefined && (key === 'bnDiagnostics' || key === 'clipNorm')) continue;
    const ok = typeof v === 'number' && Number.isFinite(v) && (!r.int || Number.isInteger(v)) &&
      (r.openMin ? v > r.min : v >= r.min) && (r.openMax ? v < r.max : v <= r.max);
    check(ok, () => `${key} (--${r.flag}) must be ${showRange(r)}, got ${JSON.stringify(v) ?? String(v)}`);
  }
  for (const [key, choice] of Object.entries(CONFIG_CHOICES) as [keyof RunConfig, { flag: string; values: () => readonly string[] }][]) {
    const v = c[key];
    if (v === undefined && key === 'onNonFinite') continue;
    check(typeof v === 'string' && choice.values().includes(v),
      () => `${key} (--${choice.flag}) must be one of ${choice.values().join(', ')}, got ${JSON.stringify(v) ?? String(v)}`);
  }
  check(c.warmupEpochs < c.epochs, `warmupEpochs (--warmup) must be below epochs (${c.epochs}), got ${c.warmupEpochs}`);
  check(typeof c.nesterov === 'boolean' && typeof c.augment === 'boolean', 'nesterov and augment must be booleans');
}

/** The batch size must fit the training data (a larger one would train on one short batch per epoch). */
export function checkBatchFitsData(c: RunConfig, trainSamples: number): void {
  check(c.batchSize <= trainSamples,
    () => `batchSize (--batch-size) must be at most the ${trainSamples} training samples${c.trainLimit > 0 ? ` (--train-limit ${c.trainLimit})` : ''}, got ${c.batchSize}`);
}

/** Keys whose change makes a checkpoint incompatible with a resumed run. */
export const RESUME_KEYS: (keyof RunConfig)[] = ['model', 'dataset', 'batchSize', 'optimizer', 'seed', 'trainLimit', 'recipe', 'augment'];
