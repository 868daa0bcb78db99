/**
 * The training loop: data → model → loss → grad → optimizer, with a progress bar, per-epoch evaluation,
 * metrics, NaN guard and crash-safe checkpoints. A run is a pure function of its config and seed:
 * killing it and calling `train` again with `resume` continues from the last checkpoint and ends with
 * the same numbers as an uninterrupted run (the loader order, the lr schedule and every random stream
 * depend only on (seed, position), and all state is in the checkpoint).
 */
import path from 'node:path';
import { backend } from '../backend/index.js';
import { DataLoader } from '../data/loader.js';
import { loadDataset } from '../data/registry.js';
import { head } from '../data/dataset.js';
import { createModel } from '../nn/models/index.js';
import type { Module } from '../nn/module.js';
import { crossEntropy } from '../ops/loss.js';
import { createOptimizer, createSchedule, type Optimizer, type Schedule } from '../optim/index.js';
import { FqtError, check } from '../tensor/errors.js';
import { Rng, type RngState } from '../tensor/random.js';
import { ProgressBar } from '../cli/progress.js';
import { hasCheckpoint, latestCheckpoint, saveCheckpoint } from './checkpoint.js';
import { checkBatchFitsData, type TrainConfig, validateConfig } from './config.js';
import { appendLinesDurable, writeTextAtomic } from './atomic.js';
import { openRunDir } from './run-dir.js';
import { DivergenceGuard } from './guard.js';
import { type StopWatch, TrainingInterrupted, watchStopSignals } from './signals.js';
import { checkResumable, validateRunState } from './run-state.js';
import { countCorrect, evaluate } from './evaluate.js';
import { applyRecipe, recipeToJSON, resolveRecipe } from '../quant/index.js';
import { type EpochMetrics, writeMetricsFile } from './metrics.js';
import { enterPhase, type Phase, phaseAt, planPhases } from './phase.js';
import { add } from '../ops/elementwise.js';
import type { Tensor } from '../tensor/tensor.js';
import { BnRectifier, describeBnRectify, quantizesGradients } from './bn-rectify.js';
import { BnMonitor } from './bn-diagnostics.js';
import { initFromWeights } from './init-weights.js';

export interface TrainOptions {
  /** Output directory (metrics.jsonl, checkpoints/, run.json). No files are written without it. */
  out?: string;
  /** Continue from the newest checkpoint in OUT/checkpoints. */
  resume?: boolean;
  quiet?: boolean;
  /** Also checkpoint inside an epoch after this many seconds since the last one (0 = epoch ends only). */
  checkpointSeconds?: number;
  /** Called after each optimizer step (epoch and batch are 0-based; the step is complete). */
  onStep?: (epoch: number, batch: number, loss: number) => void;
  /** Called after each epoch with its metrics. */
  onEpoch?: (m: EpochMetrics) => void;
  /** Prints one line (default: stderr unless quiet). */
  log?: (line: string) => void;
}

export interface TrainResult {
  config: TrainConfig;
  history: EpochMetrics[];
  final: EpochMetrics;
  model: Module;
}

/** What a checkpoint's state.json holds besides weights and optimizer buffers. */
interface RunState {
  config: TrainConfig;
  /** Next batch to run. */
  epoch: number;
  batch: number;
  rng: RngState;
  quantRng: RngState;
  recipe: string;
  /** The recipe's contents (recipeToJSON; null = fp32): a resume compares these, not the file path. */
  recipeSpec?: string | null;
  history: EpochMetrics[];
  /** Sums of the epoch in progress (for an exact resume inside an epoch). */
  partial: { lossSum: number; correct: number; seen: number; seconds: number; steps: number; bnrSum?: number; skipped?: number };
}

function makeSchedule(c: TrainConfig): Schedule {
  const warmup = c.warmupEpochs > 0 ? { length: c.warmupEpochs } : undefined;
  if (c.schedule === 'cosine') return createSchedule({ kind: 'cosine', lr: c.lr, total: c.epochs, warmup });
  if (c.schedule === 'step') return createSchedule({ kind: 'step', lr: c.lr, stepSize: c.stepEpochs, gamma: c.gamma, warmup });
  return createSchedule({ kind: 'constant', lr: c.lr, warmup });
}

export function buildOptimizer(c: TrainConfig, model: Module): Optimizer {
  const named = model.namedParameters();
  if (c.optimizer === 'sgd') {
    return createOptimizer('sgd', named, { lr: c.lr, momentum: c.momentum, nesterov: c.nesterov && c.momentum > 0, weightDecay: c.weightDecay });
  }
  return createOptimizer(c.optimizer, named, { lr: c.lr, weightDecay: c.weightDecay });
}

export function train(config: TrainConfig, opts: TrainOptions = {}): TrainResult {
  validateConfig(config);
  // One writer per run directory, checked and locked before any data loads (train/run-dir.ts).
  const run = opts.out ? openRunDir(opts.out, { resume: opts.resume, log: opts.log ?? ((l) => { if (!opts.quiet) process.stderr.write(`${l}\n`); }) }) : null;
  const stop = watchStopSignals(); // SIGINT / SIGTERM finish the step and checkpoint (train/signals.ts)
  try { return trainInRunDir(config, opts, stop); } finally { stop.close(); run?.close(); }
}

function trainInRunDir(config: TrainConfig, opts: TrainOptions, stop: StopWatch): TrainResult {
  const log = opts.log ?? ((line: string) => { if (!opts.quiet) process.stderr.write(`${line}\n`); });
  const data = loadDataset(config.dataset, { dataDir: config.dataDir });
  const trainSet = config.trainLimit > 0 ? head(data.train, config.trainLimit) : data.train;
  const testSet = config.testLimit > 0 ? head(data.test, config.testLimit) : data.test;
  checkBatchFitsData(config, trainSet.n);
  const norm = data.defaultNormalization;
  const augment = config.augment ? { cropPadding: Math.max(1, Math.round(trainSet.height / 8)), hflip: config.dataset.startsWith('cifar') } : undefined;
  const trainLoader = new DataLoader(trainSet, { batchSize: config.batchSize, shuffle: true, seed: config.seed, normalization: norm, augment });
  const testLoader = new DataLoader(testSet, { batchSize: 256, shuffle: false, normalization: norm });

  const rng = new Rng(config.seed);
  const model = createModel(config.model, { inChannels: trainSet.channels, inputSize: trainSet.height, classes: trainSet.classes }, rng.fork());
  const dropoutRng = rng.fork();
  // Stochastic rounding draws its streams from its own generator, saved with every checkpoint.
  const quantRng = rng.fork();
  const recipe = config.recipe ? resolveRecipe(config.recipe) : null;
  const resolved = recipe
    ? applyRecipe(model, recipe, { rng: quantRng, sampleShape: [trainSet.channels, trainSet.height, trainSet.width] })
    : null;
  const recipeLabel = recipe ? recipe.label : 'fp32';
  const phases = planPhases(recipe, config, log);
  let phase: Phase = 'quant';
  // BN rectification (METHODS §4.2, reconstructed): added to the task loss only while gradients are quantized.
  const bnr = recipe?.addons.bnRectify ?? null;
  const rectifier = bnr && quantizesGradients(resolved) ? new BnRectifier(model, bnr) : null;
  const bnMonitor = config.bnDiagnostics ? new BnMonitor(model, recipe, resolved, config.bnDiagnostics) : null;
  const forwardLoss = (x: Tensor, labels: Int32Array): { logits: Tensor; task: Tensor; total: Tensor; penalty: number | null } => {
    // The FNT phase trains in full precision: no gradient quantization, so no rectification either.
    const active = rectifier !== null && phase === 'quant' ? rectifier : null;
    active?.clear();
    const logits = model.forward(x);
    const task = crossEntropy(logits, labels, config.labelSmoothing);
    const r = active?.take() ?? null;
    return { logits, task, total: r ? add(task, r.loss) : task, penalty: r ? r.penalty : null };
  };
  // After applyRecipe (which may add output scales) and before the optimizer collects the parameters.
  if (config.init) {
    const r = initFromWeights(model, config.init);
    log(`fqt: initialised ${r.loaded} tensors from ${config.init}` +
      `${r.headReplaced.length ? `; new classifier head (${r.headReplaced.join(', ')}: class count differs)` : ''}` +
      `${r.defaulted.length ? `; ${r.defaulted.length} output scales start at 1` : ''}${r.ignored.length ? `; ${r.ignored.length} output scales in the file unused` : ''}`);
  }
  const optimizer = buildOptimizer(config, model);
  const guard = new DivergenceGuard(model.namedParameters(), config.onNonFinite);
  const schedule = makeSchedule(config);
  const steps = trainLoader.batchesPerEpoch;
  const ckptDir = opts.out ? path.join(opts.out, 'checkpoints') : null;

  let state: RunState = {
    config, epoch: 0, batch: 0, rng: dropoutRng.state(), quantRng: quantRng.state(), recipe: recipeLabel,
    recipeSpec: recipe ? recipeToJSON(recipe) : null, history: [],
    partial: { lossSum: 0, correct: 0, seen: 0, seconds: 0, steps: 0 },
  };
  if (opts.resume) {
    check(ckptDir !== null, '--resume needs --out (the run directory to resume)');
    const ck = latestCheckpoint(ckptDir, { warn: log, validate: (s, dir) => validateRunState(s, dir, { stepsPerEpoch: steps, batchSize: config.batchSize, trainSamples: trainSet.n }) });
    if (ck === null) {
      log(`fqt: no checkpoint in ${ckptDir}; starting from scratch`);
    } else {
      const saved = ck.state as unknown as RunState;
      checkResumable(ck.path, saved, config, state.recipeSpec ?? null);
      model.loadStateDict(ck.model);
      optimizer.loadStateDict(ck.optimizer);
      dropoutRng.setState(saved.rng);
      quantRng.setState(saved.quantRng);
      state = { ...saved, config, recipeSpec: state.recipeSpec };
      log(`fqt: resumed from ${ck.path} at epoch ${state.epoch + 1}, batch ${state.batch}/${steps}`);
    }
  }
  if (opts.out) {
    writeTextAtomic(path.join(opts.out, 'run.json'), JSON.stringify({
      config, recipe: recipeLabel, gemmPaths: resolved?.layers ?? null, backend: backend().name, backendDescription: backend().description,
      parameters: model.parameterCount(), trainSamples: trainSet.n, testSamples: testSet.n, stepsPerEpoch: steps,
    }, null, 2));
  }
  log(`fqt: ${config.model} on ${config.dataset} (${trainSet.n} train / ${testSet.n} test), ${model.parameterCount()} parameters, ` +
    `recipe ${recipeLabel}${bnr ? ` + ${describeBnRectify(bnr)}${rectifier ? '' : ' — inactive: the recipe quantizes no gradient'}` : ''}, ${config.optimizer} lr ${config.lr} ${schedule.label}, batch ${config.batchSize}, ${config.epochs} epochs, seed ${config.seed}, backend ${backend().name}`);

  const save = (): void => {
    if (!ckptDir) return;
    state.rng = dropoutRng.state();
    state.quantRng = quantRng.state();
    saveCheckpoint(ckptDir, { model: model.stateDict(), optimizer: optimizer.stateDict(), state: state as unknown as Record<string, unknown> });
  };

  if (rectifier && rectifier.layerCount === 0) log(`fqt: warning: ${config.model} has no BatchNorm layers; the BN rectification penalty is always 0`);
  if (bnMonitor && bnMonitor.layerCount === 0) log('fqt: --bn-diagnostics: the model has no BatchNorm layers; nothing to report');
  model.train();
  let lastSave = performance.now();
  for (let epoch = state.epoch; epoch < config.epochs; epoch++) {
    if (enterPhase(phases, epoch, phase, model)) {
      phase = phaseAt(phases, epoch);
      log(`fqt: epoch ${epoch + 1}: FNT phase, all GEMMs fp32 at constant lr ${phases!.fntLr} (recipe ${recipeLabel} add-on)`);
    }
    const bar = new ProgressBar(`epoch ${epoch + 1}/${config.epochs}`, steps, opts.quiet);
    const p = state.partial;
    let lr = 0;
    for (let b = state.batch; b < steps; b++) {
      const t0 = performance.now();
      const batch = trainLoader.batch(epoch, b);
      lr = phase === 'fnt' ? phases!.fntLr : schedule.lrAt(epoch * steps + b, steps);
      optimizer.setLr(lr);
      const sampled = bnMonitor?.due(epoch * steps + b) ?? false;
      if (sampled) bnMonitor!.begin(() => forwardLoss(batch.x, batch.labels).total);
      const { logits, task, total, penalty } = forwardLoss(batch.x, batch.labels);
      const lossValue = task.item();
      // Loss, gradients and weights checked every step (train/guard.ts); null = a skipped step (--on-nonfinite skip).
      const at = { epoch, batch: b, lr, penalty, checkpoint: ckptDir };
      const grads = guard.gradients(lossValue, total, at);
      if (grads !== null) {
        optimizer.step(grads);
        guard.checkWeights(at);
      }
      if (sampled) {
        const rec = bnMonitor!.finish(epoch + 1, epoch * steps + b);
        if (opts.out) appendLinesDurable(path.join(opts.out, 'bn-diagnostics.jsonl'), [JSON.stringify(rec)]);
      }
      if (grads === null) p.skipped = (p.skipped ?? 0) + 1;
      else {
        if (penalty !== null) p.bnrSum = (p.bnrSum ?? 0) + penalty;
        p.lossSum += lossValue * batch.labels.length;
        p.correct += countCorrect(logits, batch.labels);
        p.seen += batch.labels.length;
      }
      p.steps += 1;
      p.seconds += (performance.now() - t0) / 1000;
      state.batch = b + 1;
      bar.update(b + 1, { loss: p.lossSum / p.seen, 'img/s': p.seen / Math.max(1e-9, p.seconds) });
      opts.onStep?.(epoch, b, lossValue);
      const signal = stop.pending();
      if (signal) {
        save();
        throw new TrainingInterrupted(signal, epoch, b + 1, ckptDir);
      }
      if (opts.checkpointSeconds && b + 1 < steps && performance.now() - lastSave >= opts.checkpointSeconds * 1000) {
        save();
        lastSave = performance.now();
      }
    }
    const test = evaluate(model, testLoader);
    const m: EpochMetrics = {
      epoch: epoch + 1,
      train_loss: p.lossSum / p.seen,
      train_acc: p.correct / p.seen,
      test_loss: test.loss,
      test_acc: test.accuracy,
      lr,
      images_per_s: p.seen / p.seconds,
      ms_per_step: (1000 * p.seconds) / Math.max(1, p.steps),
      seconds: p.seconds,
      recipe: recipeLabel,
      ...(phases ? { phase } : {}),
    };
    if (config.onNonFinite === 'skip') m.skipped_steps = p.skipped ?? 0;
    if (rectifier) Object.assign(m, { bnr_penalty: (p.bnrSum ?? 0) / Math.max(1, p.steps), bnr_lambda: rectifier.spec.lambda });
    const diag = bnMonitor?.epochSummary() ?? null;
    if (diag) Object.assign(m, diag.metrics);
    state.history.push(m);
    state.epoch = epoch + 1;
    state.batch = 0;
    state.partial = { lossSum: 0, correct: 0, seen: 0, seconds: 0, steps: 0 };
    log(`epoch ${m.epoch}/${config.epochs}  train loss ${m.train_loss.toFixed(4)} acc ${(100 * m.train_acc).toFixed(2)}%  ` +
      `test loss ${m.test_loss.toFixed(4)} acc ${(100 * m.test_acc).toFixed(2)}%  ${m.images_per_s.toFixed(0)} img/s  ${m.ms_per_step.toFixed(1)} ms/step` +
      (rectifier ? `  BN-rect (reconstructed) penalty ${Number(m.bnr_penalty).toFixed(4)} λ ${rectifier.spec.lambda}` : ''));
    if (diag) {
      log(`  ${diag.line}`);
      for (const w of diag.warnings) log(`  bn-diag warning: ${w}`);
    }
    if (opts.out) writeMetricsFile(opts.out, state.history);
    save();
    lastSave = performance.now();
    opts.onEpoch?.(m);
    const signal = stop.pending(); // received during the evaluation: the epoch's checkpoint is written
    if (signal && epoch + 1 < config.epochs) throw new TrainingInterrupted(signal, epoch + 1, 0, ckptDir);
  }
  const final = state.history[state.history.length - 1];
  return { config, history: state.history, final, model };
}
