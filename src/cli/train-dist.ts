/**
 * The data-parallel side of `fqt train`: its flags, the launcher (`--workers N` on this machine) and the worker
 * (a process started with WORLD_SIZE / RANK, by the launcher, torchrun or a scheduler; src/distributed/launch.ts).
 */
import type { FlagSpecs, Parsed } from './args.js';
import { ALLREDUCE_MODES, DEFAULT_BUCKET } from '../distributed/codec.js';
import { GlooDataParallel } from '../distributed/data-parallel.js';
import { DEFAULT_DIST_TIMEOUT_SECONDS, ProcessGroup } from '../distributed/group.js';
import { launchWorkers, type WorkerEnv } from '../distributed/launch.js';
import { distAddon } from '../distributed/native.js';
import type { Recipe } from '../quant/recipe.js';
import { type TrainConfig, validateConfig } from '../train/config.js';
import { TrainingInterrupted } from '../train/signals.js';
import { train, type TrainOptions, type TrainResult } from '../train/trainer.js';

export const DIST_FLAGS = {
  workers: { type: 'int', help: 'processes to train on, started on this machine (data parallel over gloo; a process started with WORLD_SIZE and RANK in its environment is one worker instead)', default: 1, min: 1 },
  allreduce: { type: 'string', help: 'gradient all-reduce of a data-parallel run: fp32 (exact sums), or quantized per bucket with stochastic rounding (psq8, psq4: PSQ; luq4: LUQ)', default: 'fp32', choices: ALLREDUCE_MODES },
  'allreduce-bucket': { type: 'int', help: 'elements per quantization bucket of a compressed all-reduce (a multiple of 8)', default: DEFAULT_BUCKET, min: 8 },
  'dist-init': { type: 'string', help: 'rendezvous of the workers: env:// (MASTER_ADDR, MASTER_PORT), tcp://HOST:PORT or file:///DIR (shared, empty)', default: 'env://' },
  'dist-timeout': { type: 'number', help: 'seconds a worker waits for the others (rendezvous, each all-reduce) before it fails', default: DEFAULT_DIST_TIMEOUT_SECONDS, min: 1 },
} satisfies FlagSpecs;

type DistParsed = Parsed<typeof DIST_FLAGS>;

/** `--workers N` (N > 1): start N workers of the same command on this machine. */
export function launchTraining(argv: readonly string[], f: DistParsed, config: TrainConfig): Promise<number> {
  distAddon('fqt train --workers');
  validateConfig(config);
  return launchWorkers(['train', ...argv], f.workers);
}

/**
 * One worker: join the group, train with rank 0 writing the run, leave together; the exit code. Rank 0 reports the
 * result through `done` (and a stop by Ctrl-C, like one process); the other ranks stop silently.
 */
export async function trainWorker(w: WorkerEnv, f: DistParsed, config: TrainConfig, recipe: Recipe | null, opts: TrainOptions,
  done: (r: TrainResult) => number): Promise<number> {
  const job = { ...config, dataDir: undefined, allreduce: f.allreduce, bucket: f['allreduce-bucket'] };
  const group = await ProcessGroup.join({ rank: w.rank, size: w.size, init: f['dist-init'], timeoutSeconds: f['dist-timeout'], job });
  try {
    const result = train(config, { ...opts, recipe, parallel: new GlooDataParallel(group, { allreduce: f.allreduce, bucket: f['allreduce-bucket'] }) });
    group.barrier();
    return w.rank === 0 ? done(result) : 0;
  } catch (err) {
    if (err instanceof TrainingInterrupted && w.rank > 0) return err.exitCode;
    throw err;
  } finally {
    group.close();
  }
}
