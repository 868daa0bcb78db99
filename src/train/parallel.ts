/**
 * How the steps of a run are shared among processes (data parallelism). The trainer calls a DataParallel at six
 * points — options per rank, the start state, the step's batch, the step's gradients and sums, the evaluation, the
 * stop signal at an epoch's end —
 * and knows nothing else about it; `singleProcess` is the identity. The gloo implementation is src/distributed/.
 *
 * The contract that makes N processes train one model: every rank holds the same weights, optimizer state and
 * run position (rank 0's, sent at the start); global batch b of epoch e is the one-process batch (same seeded
 * order), split into N disjoint contiguous shards; after `reduceStep` every rank has the same gradient — the
 * gradient of the global batch's mean loss — so every rank takes the same optimizer step. Only rank 0 writes
 * files and log lines.
 */
import type { GradStore } from '../autograd/graph.js';
import type { Batch, DataLoader } from '../data/loader.js';
import type { Module } from '../nn/module.js';
import { evaluate, type EvalResult } from './evaluate.js';
import type { StepContext, TrainHook } from './hooks.js';
import type { Run } from './run-setup.js';
import type { RunState } from './run-state.js';
import type { Task } from './task.js';

/** One step's numbers: over the samples a process saw, or over every process after reduceStep. */
export interface StepSums {
  /** Mean task loss. */
  loss: number;
  /** Σ loss·n, correct predictions, samples. */
  lossSum: number;
  correct: number;
  seen: number;
  /** Processes that received a stop signal (SIGINT / SIGTERM) before the step's all-reduce. */
  stops: number;
}

/** The run options a rank may change: TrainOptions has them (declared here, trainer.ts and this file import no loop). */
export interface RankOptions {
  out?: string;
  resume?: boolean;
  quiet?: boolean;
  log?: (line: string) => void;
  onProgress?: unknown;
}

export interface DataParallel {
  readonly rank: number;
  readonly size: number;
  /** Hooks of the run (e.g. the epoch metrics of the all-reduce: bytes sent, time). */
  readonly hooks: readonly TrainHook[];
  /** The run options of this rank (ranks > 0 write no files and no log lines). */
  rankOptions<O extends RankOptions>(opts: O): O;
  /** After setup (and rank 0's resume): every rank takes rank 0's weights, optimizer state and run state. */
  start(run: Run, state: RunState): void;
  /** This rank's shard of global batch `b` of `epoch`. */
  batch(loader: DataLoader, epoch: number, b: number): Batch;
  /**
   * Replace `grads` (of this rank's mean loss over its shard) by the gradient of the global batch's mean loss,
   * the same on every rank; returns the step's sums over all ranks (so the divergence guard and a stop signal
   * decide alike on every rank).
   */
  reduceStep(run: Run, grads: GradStore, local: StepSums, step: StepContext): StepSums;
  /** Test loss and accuracy over the whole test set (per target row of the task: a sample, or a token). */
  evaluate(model: Module, loader: DataLoader, task: Task): EvalResult;
  /** Whether any process received a stop signal (`stopped`: this one did), so that all stop at the same point. */
  anyStopped(stopped: boolean): boolean;
}

/** One process: the identity. */
export const singleProcess: DataParallel = {
  rank: 0,
  size: 1,
  hooks: [],
  rankOptions: (opts) => opts,
  start: () => undefined,
  batch: (loader, epoch, b) => loader.batch(epoch, b),
  reduceStep: (_run, _grads, local) => local,
  evaluate,
  anyStopped: (stopped) => stopped,
};
