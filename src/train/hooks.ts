/**
 * How add-ons reach the training loop. The trainer knows no add-on by name: recipe add-ons (FNT phases, the
 * reconstructed BN rectification; train/addon-hooks.ts) and run options (BN diagnostics) each become a
 * TrainHook, and the trainer calls every hook at fixed points of an epoch and a step. A hook that keeps sums
 * over the epoch in progress saves them through `saveEpoch` / `loadEpoch`, so a run resumed inside an epoch
 * ends with the same metrics as an uninterrupted one.
 */
import type { Tensor } from '../tensor/tensor.js';

/** A training phase entered at the start of an epoch (a pure function of the epoch number, so a resume lands in it). */
export interface PhaseChange {
  /** Recorded in every epoch's metrics as `phase` once any hook declared phases. */
  phase: string;
  /** Constant learning rate of the phase, replacing the schedule (absent: the schedule). */
  lr?: number;
  /** Whether the recipe's quantized GEMMs are still on (false after the recipe was removed from the model). */
  quantized: boolean;
  /** A line for the log when the phase is entered. */
  message?: string;
}

/** What every hook may read about the current epoch. */
export interface EpochContext {
  /** 0-based. */
  epoch: number;
  phase: string;
  /** False once a phase removed the recipe's quantization (e.g. FNT). */
  quantized: boolean;
}

export interface StepContext extends EpochContext {
  batch: number;
  /** epoch · stepsPerEpoch + batch. */
  globalStep: number;
}

export interface LossTerm {
  /** Scalar on the tape, added to the task loss. */
  loss: Tensor;
  /** Its value, for logs and metrics. */
  value: number;
}

export interface EpochReport {
  /** Fields merged into the epoch's metrics (metrics.jsonl). */
  metrics?: Record<string, number | string>;
  /** Appended to the epoch's log line. */
  suffix?: string;
  /** Extra log lines after the epoch line. */
  lines?: string[];
}

export interface TrainHook {
  /** Key of this hook's saved epoch state in checkpoints. */
  readonly key: string;
  /** Part of the run's start line, e.g. "+ BN rectification (reconstructed …)". */
  readonly description?: string;
  /** Start of an epoch (also the first epoch after a resume); a phase hook returns the phase of that epoch. */
  onEpochStart?(epoch: number): PhaseChange | null;
  /** Before a step's forward; `lossOf` runs the step's forward and returns its total loss (for an extra pass). */
  beforeStep?(step: StepContext, lossOf: () => Tensor): void;
  /** Right before every forward of the model (the step's own and any extra pass). */
  beforeForward?(ctx: EpochContext): void;
  /** After every forward: an extra loss term, or null. */
  lossTerm?(ctx: EpochContext): LossTerm | null;
  /** After the optimizer step. */
  afterStep?(step: StepContext): void;
  /** End of an epoch: metrics fields and log text; also resets the hook's epoch sums. */
  onEpochEnd?(ctx: EpochContext): EpochReport | null;
  /** JSON state of the epoch in progress (saved in checkpoints) and its restore on resume. */
  saveEpoch?(): unknown;
  loadEpoch?(state: unknown): void;
  /** Remove whatever the hook attached to the model. */
  detach?(): void;
}
