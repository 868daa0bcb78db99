/**
 * Graceful SIGINT / SIGTERM for training (issue 18). train() is synchronous, so a JavaScript signal listener would
 * only run after it returns (and registering one would disable Ctrl-C meanwhile): the native addon records the
 * signal instead, and the trainer polls after every step. On the first signal the trainer finishes the step, writes
 * a checkpoint atomically and throws TrainingInterrupted; the CLI prints the resume command and exits 130 (SIGINT)
 * or 143 (SIGTERM). A second signal ends the process at once (temporary files it leaves are removed on resume).
 * Without the native addon the default applies: the process ends at once.
 */
import { nativeAddon } from '../backend/native.js';

export type StopSignal = 'SIGINT' | 'SIGTERM';

export interface StopWatch {
  /** The signal received since install, or null. */
  pending(): StopSignal | null;
  close(): void;
}

const NONE: StopWatch = { pending: () => null, close: () => {} };
let active = 0; // nested train() calls share one installation

/** Start recording SIGINT / SIGTERM (a no-op watch when the native addon is not available). */
export function watchStopSignals(): StopWatch {
  const addon = nativeAddon();
  if (addon === null) return NONE;
  if (active++ === 0) addon.stopSignals('install');
  let closed = false;
  return {
    pending: () => {
      const s = addon.stopSignals('poll');
      return s === 2 ? 'SIGINT' : s === 15 ? 'SIGTERM' : null;
    },
    close: () => {
      if (closed) return;
      closed = true;
      if (--active === 0) addon.stopSignals('uninstall');
    },
  };
}

/** Thrown by train() after a stop signal, once the state is saved. Not an FqtError: a run that was stopped has not failed. */
export class TrainingInterrupted extends Error {
  readonly exitCode: number;

  constructor(readonly signal: StopSignal, readonly epoch: number, readonly batch: number, readonly checkpoint: string | null) {
    super(`stopped by ${signal} at epoch ${epoch + 1}, batch ${batch}` +
      (checkpoint ? `; checkpoint saved in ${checkpoint}` : ' (no --out: nothing saved)'));
    this.name = 'TrainingInterrupted';
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
  }
}

/** `fqt <command> <args> --resume`, shell-quoted where needed. */
export function resumeCommand(command: string, argv: readonly string[]): string {
  const quote = (a: string): string => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
  const args = argv.includes('--resume') || command !== 'train' ? argv : [...argv, '--resume'];
  return ['fqt', command, ...args].map(quote).join(' ');
}
