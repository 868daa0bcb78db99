/**
 * The training loop: data → model → loss → grad → optimizer, with per-epoch evaluation, metrics, a NaN guard and
 * crash-safe checkpoints. `train(config)` trains a built-in model on a built-in data set by name; `fit(model,
 * data, options)` trains the caller's Module on the caller's data with the same loop, checkpoints and resume.
 * A run is a pure function of its config and seed: killing it and calling again with `resume` continues from the
 * last checkpoint and ends with the same numbers as an uninterrupted run (the loader order, the lr schedule and
 * every random stream depend only on (seed, position), and all state is in the checkpoint).
 * Add-ons reach the loop only as hooks (train/hooks.ts); progress and log lines leave it only through callbacks.
 */
import { grad } from '../autograd/graph.js';
import { backend } from '../backend/index.js';
import { loadDataset } from '../data/registry.js';
import type { Module } from '../nn/module.js';
import { add } from '../ops/elementwise.js';
import { crossEntropy } from '../ops/loss.js';
import { clipGradNorm } from '../optim/clip.js';
import { resolveRecipe } from '../quant/presets.js';
import type { Recipe } from '../quant/recipe.js';
import type { Tensor } from '../tensor/tensor.js';
import { checkBatchFitsData, type RunConfig, type TrainConfig, validateConfig, withTrainingDefaults } from './config.js';
import { DivergenceGuard } from './guard.js';
import { inRunDir } from './run-dir.js';
import { type StopWatch, TrainingInterrupted } from './signals.js';
import { countCorrect } from './evaluate.js';
import type { EpochContext, StepContext, TrainHook } from './hooks.js';
import { type EpochMetrics, writeMetricsFile } from './metrics.js';
import { emptySums, resumeState, type RunState, saveRunCheckpoint, writeRunJson } from './run-state.js';
import { type RunData, setupRun, type Run } from './run-setup.js';
import { type DataParallel, singleProcess } from './parallel.js';

/** Progress of the epoch in progress, after each step (for a progress bar). */
export interface StepProgress {
  /** 0-based epoch and the number of steps done in it. */
  epoch: number;
  epochs: number;
  done: number;
  total: number;
  /** Mean training loss of the epoch so far. */
  loss: number;
  imagesPerSecond: number;
}

export interface TrainOptions {
  /** Output directory (metrics.jsonl, checkpoints/, run.json). No files are written without it. */
  out?: string;
  /** Continue from the newest checkpoint in OUT/checkpoints. */
  resume?: boolean;
  /** No log lines (when `log` is not given). */
  quiet?: boolean;
  /** Also checkpoint inside an epoch after this many seconds since the last one (0 = epoch ends only). */
  checkpointSeconds?: number;
  /**
   * The recipe, resolved by the caller (null: fp32). When absent, `config.recipe` (a preset name or a JSON file)
   * is resolved once, here.
   */
  recipe?: Recipe | null;
  /**
   * Called after each optimizer step (epoch and batch are 0-based; the step is complete). Returning 'stop' ends
   * the run after a checkpoint of that exact position (resume continues from it); `TrainResult.stopped` says so.
   */
  onStep?: (epoch: number, batch: number, loss: number) => void | 'stop';
  /** Called after each epoch with its metrics. */
  onEpoch?: (m: EpochMetrics) => void;
  /** Called after each step with the epoch's progress (the CLI draws its progress bar from it). */
  onProgress?: (p: StepProgress) => void;
  /** Prints one line (default: stderr unless quiet). */
  log?: (line: string) => void;
  /** Extra hooks (train/hooks.ts), called after those of the recipe's add-ons. */
  hooks?: TrainHook[];
  /** Data-parallel training over several processes (train/parallel.ts; src/distributed joins a gloo group). Default: one process. */
  parallel?: DataParallel;
}

export interface TrainResult {
  config: RunConfig;
  history: EpochMetrics[];
  /** Metrics of the last completed epoch (null when stopped before the first epoch ended). */
  final: EpochMetrics | null;
  model: Module;
  /** True when `onStep` returned 'stop' before the last epoch ended. */
  stopped: boolean;
}

/** Train a built-in model on a built-in data set, both named in `config`. */
export function train(config: TrainConfig, opts: TrainOptions = {}): TrainResult {
  validateConfig(config);
  const recipe = opts.recipe !== undefined ? opts.recipe : config.recipe ? resolveRecipe(config.recipe) : null;
  // The run directory is checked and locked before any data loads (train/run-dir.ts), by the one process that writes it.
  const o = (opts.parallel ?? singleProcess).rankOptions(opts);
  return inRunDir(o, (stop) => runTraining(config, config.model, loadDataset(config.dataset, { dataDir: config.dataDir }), recipe, o, stop));
}

/** Training data for `fit`: what loadDataset() returns, or {train, test[, normalization][, name]}. */
export interface FitData extends RunData {
  /** Recorded in run.json and checkpoints (default 'custom'). */
  name?: string;
}

/** Options of `fit`: any run-config key (defaults: the recipe's training defaults, then DEFAULT_CONFIG) and TrainOptions. */
export type FitOptions = Partial<Omit<RunConfig, 'model' | 'dataset' | 'recipe'>> & Omit<TrainOptions, 'recipe'> & {
  /** A recipe value, a preset name or a JSON file (resolved once, here); absent or 'fp32': no quantization. */
  recipe?: Recipe | string | null;
  /** Recorded in run.json and checkpoints (default: the Module's class name). */
  modelName?: string;
};

/** Train the caller's Module on the caller's data (same loop, checkpoints and resume as `train`). */
export function fit(model: Module, data: FitData, options: FitOptions = {}): TrainResult {
  const { recipe: given, modelName, out, resume, quiet, checkpointSeconds, onStep, onEpoch, onProgress, log, hooks, parallel, ...keys } = options;
  const recipe = typeof given === 'string' ? (given === 'fp32' ? null : resolveRecipe(given)) : given ?? null;
  const config: RunConfig = withTrainingDefaults({ ...keys, model: modelName ?? model.constructor.name, dataset: data.name ?? 'custom' }, recipe);
  if (recipe) config.recipe = typeof given === 'string' ? given : recipe.label;
  validateConfig(config);
  const opts = (parallel ?? singleProcess).rankOptions({ out, resume, quiet, checkpointSeconds, onStep, onEpoch, onProgress, log, hooks, parallel });
  return inRunDir(opts, (stop) => runTraining(config, model, data, recipe, opts, stop));
}

function runTraining(config: RunConfig, model: Module | string, data: RunData, recipe: Recipe | null, opts: TrainOptions, stop: StopWatch): TrainResult {
  const par = opts.parallel ?? singleProcess;
  const log = opts.log ?? ((line: string) => { if (!opts.quiet) process.stderr.write(`${line}\n`); });
  const run = setupRun(config, model, data, recipe, opts.out ?? null, [...(opts.hooks ?? []), ...par.hooks], log);
  checkBatchFitsData(config, run.trainSet.n);
  // Loss, gradients and weights checked every step (train/guard.ts); SIGINT / SIGTERM polled after each (signals.ts).
  const guard = new DivergenceGuard(run.model.namedParameters(), config.onNonFinite);
  const state = resumeState(run, opts.resume ?? false, log);
  par.start(run, state);
  writeRunJson(run);
  log(startLine(run));
  run.model.train();
  let stopped = false;
  let phase = 'main';
  try {
    for (let epoch = state.epoch; epoch < config.epochs && !stopped; epoch++) {
      const ctx = enterEpoch(run, epoch, phase, log);
      phase = ctx.phase;
      stopped = runSteps(run, state, ctx, opts, guard, stop, par);
      if (!stopped) finishEpoch(run, state, ctx, opts, log, stop, par);
    }
  } finally {
    for (const h of run.hooks) h.detach?.();
  }
  const final = state.history.length ? state.history[state.history.length - 1] : null;
  return { config, history: state.history, final, model: run.model, stopped };
}

function startLine(run: Run): string {
  const c = run.config;
  const notes = run.hooks.flatMap((h) => (h.description ? [` + ${h.description}`] : [])).join('');
  return `fqt: ${c.model} on ${c.dataset} (${run.trainSet.n} train / ${run.testSet.n} test), ${run.model.parameterCount()} parameters, ` +
    `recipe ${run.recipeLabel}${notes}, ${c.optimizer} lr ${c.lr} ${run.schedule.label}, batch ${c.batchSize}, ${c.epochs} epochs, seed ${c.seed}, backend ${backend().name}`;
}

interface EpochState extends EpochContext {
  /** Constant lr of the phase (null: the schedule). */
  lr: number | null;
  /** Whether some hook declared phases (then metrics carry `phase`). */
  phased: boolean;
}

/** Ask every hook for the epoch's phase; log a phase entered now (`previous`: the last epoch's, 'main' at the start). */
function enterEpoch(run: Run, epoch: number, previous: string, log: (line: string) => void): EpochState {
  const ctx: EpochState = { epoch, phase: 'main', quantized: run.recipe !== null, lr: null, phased: false };
  for (const h of run.hooks) {
    const p = h.onEpochStart?.(epoch);
    if (!p) continue;
    Object.assign(ctx, { phase: p.phase, quantized: ctx.quantized && p.quantized, lr: p.lr ?? ctx.lr, phased: true });
    if (p.phase !== previous && p.message) log(p.message);
  }
  return ctx;
}

interface StepLoss { logits: Tensor; task: Tensor; total: Tensor; terms: [string, number][] }

/** The step's forward: task loss (against the task's targets, train/task.ts) plus every hook's loss term. */
function forwardLoss(run: Run, ctx: EpochContext, x: Tensor, targets: Int32Array): StepLoss {
  for (const h of run.hooks) h.beforeForward?.(ctx);
  const logits = run.model.forward(x);
  const task = crossEntropy(logits, targets, run.config.labelSmoothing);
  let total = task;
  const terms: [string, number][] = [];
  for (const h of run.hooks) {
    const t = h.lossTerm?.(ctx);
    if (!t) continue;
    total = add(total, t.loss);
    terms.push([h.key, t.value]);
  }
  return { logits, task, total, terms };
}

/** The epoch's remaining steps; true when onStep asked to stop (after a checkpoint of that position). */
function runSteps(run: Run, state: RunState, ctx: EpochState, opts: TrainOptions, guard: DivergenceGuard, stop: StopWatch, par: DataParallel): boolean {
  const p = state.partial;
  let lastSave = performance.now();
  for (let b = state.batch; b < run.stepsPerEpoch; b++) {
    const t0 = performance.now();
    const step: StepContext = { ...ctx, batch: b, globalStep: ctx.epoch * run.stepsPerEpoch + b };
    const batch = par.batch(run.trainLoader, ctx.epoch, b);
    const lr = ctx.lr ?? run.schedule.lrAt(step.globalStep, run.stepsPerEpoch);
    run.optimizer.setLr(lr);
    const targets = run.task.targets(batch);
    for (const h of run.hooks) h.beforeStep?.(step, () => forwardLoss(run, ctx, batch.x, targets).total);
    const { logits, task, total, terms } = forwardLoss(run, ctx, batch.x, targets);
    const at = { epoch: ctx.epoch, batch: b, lr, checkpoint: run.checkpointDir, note: terms.length ? ` (extra loss terms: ${terms.map(([k, v]) => `${k} ${v}`).join(', ')})` : '' };
    // Gradients and sums over every process (train/parallel.ts), so that the guard and a stop signal decide alike on all.
    const local = { loss: task.item(), lossSum: task.item() * targets.length, correct: countCorrect(logits, targets), seen: targets.length, stops: stop.pending() ? 1 : 0 };
    const summed = grad(total);
    const sums = par.reduceStep(run, summed, local, step);
    const grads = guard.checked(sums.loss, total.item(), summed, at); // null: a skipped step (--on-nonfinite skip)
    if (grads !== null) {
      if (run.config.clipNorm) clipGradNorm(grads, run.config.clipNorm);
      run.optimizer.step(grads);
      guard.checkWeights(at);
    }
    for (const h of run.hooks) h.afterStep?.(step);
    if (grads === null) p.skipped = (p.skipped ?? 0) + 1;
    else {
      p.lossSum += sums.lossSum;
      p.correct += sums.correct;
      p.seen += sums.seen;
    }
    p.steps += 1;
    p.seconds += (performance.now() - t0) / 1000;
    state.batch = b + 1;
    opts.onProgress?.({ epoch: ctx.epoch, epochs: run.config.epochs, done: b + 1, total: run.stepsPerEpoch, loss: p.lossSum / p.seen, imagesPerSecond: p.seen / Math.max(1e-9, p.seconds) });
    if (opts.onStep?.(ctx.epoch, b, sums.loss) === 'stop') {
      saveRunCheckpoint(run, state);
      return true;
    }
    const signal = sums.stops > 0 ? stop.pending() ?? 'SIGTERM' : null; // SIGTERM: another process was stopped
    if (signal) {
      saveRunCheckpoint(run, state);
      throw new TrainingInterrupted(signal, ctx.epoch, b + 1, run.checkpointDir);
    }
    if (opts.checkpointSeconds && b + 1 < run.stepsPerEpoch && performance.now() - lastSave >= opts.checkpointSeconds * 1000) {
      saveRunCheckpoint(run, state);
      lastSave = performance.now();
    }
  }
  return false;
}

/** Evaluate, record the epoch's metrics (with every hook's fields), log, write metrics.jsonl and a checkpoint. */
function finishEpoch(run: Run, state: RunState, ctx: EpochState, opts: TrainOptions, log: (line: string) => void, stop: StopWatch, par: DataParallel): void {
  const p = state.partial;
  const test = par.evaluate(run.model, run.testLoader, run.task);
  const lr = ctx.lr ?? run.schedule.lrAt(ctx.epoch * run.stepsPerEpoch + run.stepsPerEpoch - 1, run.stepsPerEpoch);
  const m: EpochMetrics = {
    epoch: ctx.epoch + 1, train_loss: p.lossSum / p.seen, train_acc: p.correct / p.seen, test_loss: test.loss, test_acc: test.accuracy,
    lr, images_per_s: p.seen / p.seconds, ms_per_step: (1000 * p.seconds) / Math.max(1, p.steps), seconds: p.seconds, recipe: run.recipeLabel,
    ...(ctx.phased ? { phase: ctx.phase } : {}), ...(run.config.onNonFinite === 'skip' ? { skipped_steps: p.skipped ?? 0 } : {}),
    ...run.task.metrics(p.lossSum / p.seen, test.loss),
  };
  const reports = run.hooks.map((h) => h.onEpochEnd?.(ctx) ?? null);
  for (const r of reports) if (r?.metrics) Object.assign(m, r.metrics);
  state.history.push(m);
  state.epoch = ctx.epoch + 1;
  state.batch = 0;
  state.partial = emptySums();
  log(`epoch ${m.epoch}/${run.config.epochs}  train loss ${m.train_loss.toFixed(4)} acc ${(100 * m.train_acc).toFixed(2)}%  ` +
    `test loss ${m.test_loss.toFixed(4)} acc ${(100 * m.test_acc).toFixed(2)}%${typeof m.test_ppl === 'number' ? ` ppl ${m.test_ppl.toFixed(2)}` : ''}  ` +
    `${m.images_per_s.toFixed(0)} ${run.task.kind === 'language-model' ? 'tokens' : 'img'}/s  ${m.ms_per_step.toFixed(1)} ms/step` +
    reports.map((r) => r?.suffix ?? '').join(''));
  for (const r of reports) for (const line of r?.lines ?? []) log(line);
  if (run.out) writeMetricsFile(run.out, state.history);
  saveRunCheckpoint(run, state);
  opts.onEpoch?.(m);
  // Received during the evaluation: the epoch's checkpoint is written (all processes agree, train/parallel.ts).
  const signal = par.anyStopped(stop.pending() !== null) ? stop.pending() ?? 'SIGTERM' : null;
  if (signal && state.epoch < run.config.epochs) throw new TrainingInterrupted(signal, state.epoch, 0, run.checkpointDir);
}
