/**
 * The resumable state of a run: position (next epoch and batch), random streams, history, the sums of the epoch
 * in progress and the hooks' epoch state. It is what a checkpoint's state.json holds besides weights and optimizer
 * buffers; `resumeState` restores it (refusing a checkpoint trained with another config) and `saveRunCheckpoint`
 * writes it atomically with the weights.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { backend } from '../backend/index.js';
import { check } from '../tensor/errors.js';
import { recipeToJSON } from '../quant/recipe.js';
import { writeTextAtomic } from './atomic.js';
import { checkResumable, validateRunState } from './state-check.js';
import type { RngState } from '../tensor/random.js';
import { latestCheckpoint, saveCheckpoint } from './checkpoint.js';
import type { RunConfig } from './config.js';
import type { EpochMetrics } from './metrics.js';
import type { Run } from './run-setup.js';
import { environment } from './environment.js';

/** Sums of the epoch in progress (for an exact resume inside an epoch). */
export interface EpochSums {
  lossSum: number;
  correct: number;
  seen: number;
  seconds: number;
  steps: number;
  /** Steps dropped for a non-finite loss or gradient (--on-nonfinite skip, train/guard.ts). */
  skipped?: number;
  /** Each hook's saved epoch state, by hook key. */
  hooks?: Record<string, unknown>;
}

export interface RunState {
  config: RunConfig;
  /** Next batch to run. */
  epoch: number;
  batch: number;
  rng: RngState;
  quantRng: RngState;
  recipe: string;
  /** The recipe's contents (recipeToJSON; null = fp32): a resume compares these, not the file path. */
  recipeSpec?: string | null;
  history: EpochMetrics[];
  partial: EpochSums;
}

export function emptySums(): EpochSums {
  return { lossSum: 0, correct: 0, seen: 0, seconds: 0, steps: 0 };
}

/** A fresh state, or with `resume` the newest checkpoint's (weights, optimizer, streams, hooks restored). */
export function resumeState(run: Run, resume: boolean, log: (line: string) => void): RunState {
  const fresh: RunState = {
    config: run.config, epoch: 0, batch: 0, rng: run.dropoutRng.state(), quantRng: run.quantRng.state(), recipe: run.recipeLabel,
    recipeSpec: run.recipe ? recipeToJSON(run.recipe) : null, history: [], partial: emptySums(),
  };
  if (!resume) return fresh;
  const dir = run.checkpointDir;
  check(dir !== null, '--resume needs --out (the run directory to resume)');
  // A checkpoint failing its hashes or the state checks is skipped for the previous one (train/state-check.ts).
  const shape = { stepsPerEpoch: run.stepsPerEpoch, batchSize: run.config.batchSize, trainSamples: run.trainSet.n };
  const ck = latestCheckpoint(dir, { warn: log, validate: (s, d) => validateRunState(s, d, shape) });
  if (ck === null) {
    log(`fqt: no checkpoint in ${dir}; starting from scratch`);
    return fresh;
  }
  const saved = ck.state as unknown as RunState;
  checkResumable(ck.path, saved, run.config, fresh.recipeSpec ?? null);
  run.model.loadStateDict(ck.model);
  run.optimizer.loadStateDict(ck.optimizer);
  run.dropoutRng.setState(saved.rng);
  run.quantRng.setState(saved.quantRng);
  for (const h of run.hooks) if (saved.partial.hooks?.[h.key] !== undefined) h.loadEpoch?.(saved.partial.hooks[h.key]);
  log(`fqt: resumed from ${ck.path} at epoch ${saved.epoch + 1}, batch ${saved.batch}/${run.stepsPerEpoch}`);
  return { ...saved, config: run.config, recipeSpec: fresh.recipeSpec };
}

/** Write a checkpoint of the run as it stands (no-op without an output directory). */
export function saveRunCheckpoint(run: Run, state: RunState): void {
  if (!run.checkpointDir) return;
  state.rng = run.dropoutRng.state();
  state.quantRng = run.quantRng.state();
  const hooks = Object.fromEntries(run.hooks.flatMap((h) => (h.saveEpoch ? [[h.key, h.saveEpoch()]] : [])));
  if (Object.keys(hooks).length > 0) state.partial.hooks = hooks;
  saveCheckpoint(run.checkpointDir, { model: run.model.stateDict(), optimizer: run.optimizer.stateDict(), state: state as unknown as Record<string, unknown> });
}

/** OUT/run.json: the config, the recipe and its GEMM path per layer, the backend, the data sizes, the environment. */
export function writeRunJson(run: Run, extra: Record<string, unknown> = {}): void {
  if (!run.out) return;
  mkdirSync(run.out, { recursive: true });
  writeTextAtomic(path.join(run.out, 'run.json'), JSON.stringify({
    config: run.config, recipe: run.recipeLabel, recipeData: run.recipe, gemmPaths: run.resolved?.layers ?? null, backend: backend().name,
    backendDescription: backend().description, parameters: run.model.parameterCount(), trainSamples: run.trainSet.n,
    testSamples: run.testSet.n, stepsPerEpoch: run.stepsPerEpoch, environment: environment(), ...extra,
  }, null, 2));
}
