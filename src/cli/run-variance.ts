/**
 * Gradient statistics (METHODS §1.7, measureVariance) of a saved run's final model, for `fqt compare --variance`
 * and `fqt report --variance`: rebuilds the model from run.json, loads the newest checkpoint's weights and buffers,
 * and measures the run's recipe (the value run.json recorded) on the first `batches` minibatches of its training
 * set (same data limit and normalization as training).
 */
import path from 'node:path';
import { DataLoader } from '../data/loader.js';
import { head, type Dataset, type Normalization } from '../data/dataset.js';
import { loadDataset } from '../data/registry.js';
import { taskOf } from '../train/task.js';
import { modelSpecOf } from '../train/run-setup.js';
import { createModel } from '../nn/models/index.js';
import type { Recipe } from '../quant/recipe.js';
import { latestCheckpoint } from '../train/checkpoint.js';
import type { TrainConfig } from '../train/config.js';
import { check } from '../tensor/errors.js';
import { Rng } from '../tensor/random.js';
import { measureVariance, type VarianceBatch, type VarianceReport } from '../stats/variance.js';

export interface RunVarianceOptions {
  /** Minibatches (the first is the fixed batch; ≥ 2 give the sampling variance). */
  batches: number;
  /** FQT backward passes on the fixed batch. */
  draws: number;
  /** Minibatch size (default: the run's batch size). */
  batchSize?: number;
  seed?: number;
}

/** The first `count` minibatches of epoch 0 (the loader's seeded order) with the task's targets, for measureVariance. */
export function varianceBatches(train: Dataset, normalization: Normalization, batchSize: number, seed: number, count: number): VarianceBatch[] {
  const loader = new DataLoader(train, { batchSize, seed, dropLast: true, normalization });
  check(loader.batchesPerEpoch >= count, () => `gradient variance needs ${count} batches of ${batchSize} but the training set has ${loader.batchesPerEpoch}`);
  const task = taskOf(train); // a language model's targets are the next tokens (train/task.ts)
  return Array.from({ length: count }, (_, b) => loader.batch(0, b)).map((b) => ({ x: b.x, labels: task.targets(b) }));
}

export function measureRunVariance(runDir: string, config: TrainConfig, recipe: Recipe, opts: RunVarianceOptions): VarianceReport {
  const ck = latestCheckpoint(path.join(runDir, 'checkpoints'));
  check(ck !== null, () => `${runDir}: no checkpoint to measure the gradient variance of`);
  const data = loadDataset(config.dataset, { dataDir: config.dataDir });
  const train = config.trainLimit > 0 ? head(data.train, config.trainLimit) : data.train;
  const batches = varianceBatches(train, data.defaultNormalization, opts.batchSize ?? config.batchSize, opts.seed ?? config.seed, opts.batches);
  const model = createModel(config.model, modelSpecOf(train), new Rng(config.seed));
  model.loadStateDict(ck.model);
  model.train();
  return measureVariance({ model, recipe, batches, draws: opts.draws, seed: opts.seed ?? config.seed });
}
