/**
 * Everything a training run needs before its first step, built once from values (the recipe was resolved at the
 * edge: CLI or API): data loaders, the model (a built-in one by name, or the caller's Module), the recipe applied
 * to it, initial weights, optimizer, schedule, and the hooks of the recipe's add-ons and the run's options.
 * Random streams are forked in a fixed order (model init, dropout, stochastic rounding), so the same seed gives the
 * same run whether the model is named or given.
 */
import path from 'node:path';
import { DataLoader } from '../data/loader.js';
import { channelStats, head, type Dataset, type Normalization } from '../data/dataset.js';
import { createModel, type ModelName, type ModelSpec } from '../nn/models/index.js';
import { check } from '../tensor/errors.js';
import type { Module } from '../nn/module.js';
import { createOptimizer, createSchedule, type Optimizer, type Schedule } from '../optim/index.js';
import { applyRecipe, type ResolvedRecipe } from '../quant/apply.js';
import type { Recipe } from '../quant/recipe.js';
import { Rng } from '../tensor/random.js';
import { recipeHooks } from './addon-hooks.js';
import { bnDiagnosticsHook } from './bn-diagnostics.js';
import type { RunConfig } from './config.js';
import type { TrainHook } from './hooks.js';
import { initFromWeights } from './init-weights.js';
import { type Task, taskOf } from './task.js';

/** Training and test data: a built-in data set as loaded by loadDataset(), or the caller's own. */
export interface RunData {
  train: Dataset;
  test: Dataset;
  /** Input normalization (default: per-channel mean / std of the training split). */
  normalization?: Normalization;
  defaultNormalization?: Normalization;
}

export interface Run {
  config: RunConfig;
  model: Module;
  recipe: Recipe | null;
  resolved: ResolvedRecipe | null;
  recipeLabel: string;
  /** What the loss and metrics score (the data set's task, train/task.ts). */
  task: Task;
  trainSet: Dataset;
  testSet: Dataset;
  trainLoader: DataLoader;
  testLoader: DataLoader;
  optimizer: Optimizer;
  schedule: Schedule;
  stepsPerEpoch: number;
  hooks: TrainHook[];
  /** Streams saved with every checkpoint. */
  dropoutRng: Rng;
  quantRng: Rng;
  out: string | null;
  checkpointDir: string | null;
}

/** The input geometry and class count a built-in model is built for. */
export function modelSpecOf(ds: Dataset): ModelSpec {
  return { inChannels: ds.channels, inputSize: ds.height, classes: ds.classes, ...(ds.width !== ds.height ? { inputWidth: ds.width } : {}) };
}

export function makeSchedule(c: RunConfig): Schedule {
  const warmup = c.warmupEpochs > 0 ? { length: c.warmupEpochs } : undefined;
  if (c.schedule === 'cosine') return createSchedule({ kind: 'cosine', lr: c.lr, total: c.epochs, warmup });
  if (c.schedule === 'step') return createSchedule({ kind: 'step', lr: c.lr, stepSize: c.stepEpochs, gamma: c.gamma, warmup });
  return createSchedule({ kind: 'constant', lr: c.lr, warmup });
}

export function buildOptimizer(c: RunConfig, model: Module): Optimizer {
  const named = model.namedParameters();
  if (c.optimizer === 'sgd') {
    return createOptimizer('sgd', named, { lr: c.lr, momentum: c.momentum, nesterov: c.nesterov && c.momentum > 0, weightDecay: c.weightDecay });
  }
  return createOptimizer(c.optimizer, named, { lr: c.lr, weightDecay: c.weightDecay });
}

function loaders(c: RunConfig, data: RunData): Pick<Run, 'trainSet' | 'testSet' | 'trainLoader' | 'testLoader'> {
  const trainSet = c.trainLimit > 0 ? head(data.train, c.trainLimit) : data.train;
  const testSet = c.testLimit > 0 ? head(data.test, c.testLimit) : data.test;
  // Token ids (language-model data) are never normalised.
  const normalization = taskOf(trainSet).kind === 'language-model' ? 'none' : data.normalization ?? data.defaultNormalization ?? channelStats(data.train);
  check(!c.augment || taskOf(trainSet).kind === 'classification', () => `--augment crops and flips images; the '${c.dataset}' data set holds token windows`);
  const augment = c.augment ? { cropPadding: Math.max(1, Math.round(trainSet.height / 8)), hflip: c.dataset.startsWith('cifar') } : undefined;
  return {
    trainSet, testSet,
    trainLoader: new DataLoader(trainSet, { batchSize: c.batchSize, shuffle: true, seed: c.seed, normalization, augment }),
    testLoader: new DataLoader(testSet, { batchSize: 256, shuffle: false, normalization }),
  };
}

function initWeights(model: Module, file: string, log: (line: string) => void): void {
  const r = initFromWeights(model, file);
  log(`fqt: initialised ${r.loaded} tensors from ${file}${r.renamed ? ` (${r.renamed} PyTorch names mapped to fqt's)` : ''}` +
    `${r.headReplaced.length ? `; new classifier head (${r.headReplaced.join(', ')}: class count differs)` : ''}` +
    `${r.defaulted.length ? `; ${r.defaulted.length} output scales start at 1` : ''}${r.ignored.length ? `; ${r.ignored.length} output scales in the file unused` : ''}`);
}

/** Build a run: `model` is a built-in model name or the caller's Module; `extraHooks` run after the add-ons'. */
export function setupRun(c: RunConfig, model: Module | string, data: RunData, recipe: Recipe | null, out: string | null,
  extraHooks: readonly TrainHook[], log: (line: string) => void): Run {
  const l = loaders(c, data);
  const rng = new Rng(c.seed);
  const modelRng = rng.fork();
  // createModel checks the name at run time too (a config read from JSON), naming the valid ones.
  const m = typeof model !== 'string' ? model
    : createModel(model as ModelName, modelSpecOf(l.trainSet), modelRng);
  const dropoutRng = rng.fork();
  // Stochastic rounding draws its streams from its own generator, saved with every checkpoint.
  const quantRng = rng.fork();
  const resolved = recipe
    ? applyRecipe(m, recipe, { rng: quantRng, sampleShape: [l.trainSet.channels, l.trainSet.height, l.trainSet.width] })
    : null;
  const hooks = recipe && resolved ? recipeHooks({ model: m, recipe, resolved, epochs: c.epochs, lr: c.lr, log }) : [];
  if (c.bnDiagnostics) hooks.push(bnDiagnosticsHook(m, recipe, resolved, c.bnDiagnostics, out, log));
  hooks.push(...extraHooks);
  // After applyRecipe (which may add output scales) and before the optimizer collects the parameters.
  if (c.init) initWeights(m, c.init, log);
  return {
    config: c, model: m, recipe, resolved, recipeLabel: recipe ? recipe.label : 'fp32', task: taskOf(l.trainSet), ...l,
    optimizer: buildOptimizer(c, m), schedule: makeSchedule(c), stepsPerEpoch: l.trainLoader.batchesPerEpoch, hooks,
    dropoutRng, quantRng, out, checkpointDir: out ? path.join(out, 'checkpoints') : null,
  };
}
