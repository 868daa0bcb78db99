/** The configuration of one training run: plain JSON, saved in checkpoints and compared on --resume. */
import { check } from '../tensor/errors.js';
import { modelNames } from '../nn/models/index.js';
import { DATASET_NAMES } from '../data/registry.js';
import { OPTIMIZER_NAMES } from '../optim/index.js';
import { ON_NONFINITE } from './guard.js';

export interface TrainConfig {
  model: string;
  dataset: string;
  dataDir?: string;
  epochs: number;
  batchSize: number;
  optimizer: string;
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
  /** A step with a non-finite loss or gradient: 'stop' training (default) or 'skip' it and count it (train/guard.ts). */
  onNonFinite?: 'stop' | 'skip';
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

/**
 * The allowed values of every field (issue 18), next to the definition so that the CLI flags and the library API
 * share them: numeric ranges (inclusive unless `open`), integer or not, and closed enumerations. Each error names
 * the field, its flag and the allowed values.
 */
type Range = { flag: string; min: number; max: number; int?: boolean; openMin?: boolean; openMax?: boolean };
export const CONFIG_RANGES: { readonly [K in keyof TrainConfig]?: Range } = {
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
};

export const CONFIG_CHOICES: { readonly [K in keyof TrainConfig]?: { flag: string; values: () => readonly string[] } } = {
  model: { flag: 'model', values: modelNames },
  dataset: { flag: 'dataset', values: () => DATASET_NAMES },
  optimizer: { flag: 'optimizer', values: () => OPTIMIZER_NAMES },
  schedule: { flag: 'schedule', values: () => ['constant', 'cosine', 'step'] },
  onNonFinite: { flag: 'on-nonfinite', values: () => ON_NONFINITE },
};

function showRange(r: Range): string {
  return `${r.int ? 'an integer' : 'a number'} in ${r.openMin ? '(' : '['}${r.min}, ${r.max}${r.openMax ? ')' : ']'}`;
}

export function validateConfig(c: TrainConfig): void {
  for (const [key, r] of Object.entries(CONFIG_RANGES) as [keyof TrainConfig, Range][]) {
    const v = c[key];
    if (v === undefined && (key === 'bnDiagnostics')) continue;
    const ok = typeof v === 'number' && Number.isFinite(v) && (!r.int || Number.isInteger(v)) &&
      (r.openMin ? v > r.min : v >= r.min) && (r.openMax ? v < r.max : v <= r.max);
    check(ok, () => `${key} (--${r.flag}) must be ${showRange(r)}, got ${JSON.stringify(v) ?? String(v)}`);
  }
  for (const [key, choice] of Object.entries(CONFIG_CHOICES) as [keyof TrainConfig, { flag: string; values: () => readonly string[] }][]) {
    const v = c[key];
    if (v === undefined && key === 'onNonFinite') continue;
    check(typeof v === 'string' && choice.values().includes(v),
      () => `${key} (--${choice.flag}) must be one of ${choice.values().join(', ')}, got ${JSON.stringify(v) ?? String(v)}`);
  }
  check(c.warmupEpochs < c.epochs, `warmupEpochs (--warmup) must be below epochs (${c.epochs}), got ${c.warmupEpochs}`);
  check(typeof c.nesterov === 'boolean' && typeof c.augment === 'boolean', 'nesterov and augment must be booleans');
}

/** The batch size must fit the training data (a larger one would train on one short batch per epoch). */
export function checkBatchFitsData(c: TrainConfig, trainSamples: number): void {
  check(c.batchSize <= trainSamples,
    () => `batchSize (--batch-size) must be at most the ${trainSamples} training samples${c.trainLimit > 0 ? ` (--train-limit ${c.trainLimit})` : ''}, got ${c.batchSize}`);
}

/** Keys whose change makes a checkpoint incompatible with a resumed run. */
export const RESUME_KEYS: (keyof TrainConfig)[] = ['model', 'dataset', 'batchSize', 'optimizer', 'seed', 'trainLimit', 'recipe', 'augment'];
