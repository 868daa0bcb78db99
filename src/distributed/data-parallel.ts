/**
 * Data-parallel training on a gloo process group: the DataParallel the trainer calls (train/parallel.ts).
 *   start     rank 0 broadcasts its weights, buffers, optimizer state and run state (fresh or resumed), so every
 *             rank starts from the same point whatever it loaded itself; ranks > 0 then give their stochastic
 *             rounding and dropout generators a seed of their own (a shared stream would correlate the rounding
 *             errors of the ranks: for SR on unrelated values the correlation is 1/2).
 *   batch     global batch b of the one-process order, cut into `size` contiguous shards (sizes differ by ≤ 1).
 *   reduceStep  gradients scaled by shard/global batch size, then summed over ranks — fp32 through gloo's
 *             float all-reduce, or compressed (distributed/coded-allreduce.ts); in the same all-reduce, exact float32
 *             sums average the BatchNorm running statistics and add the step's loss / accuracy sums.
 *   evaluate  each rank evaluates a contiguous shard of the test set; the sums are added.
 * The hook reports per epoch: workers, all-reduce mode, bytes this rank sent per step (and what fp32 would
 * have sent), and milliseconds per step spent in communication (quantization included).
 */
import type { GradStore } from '../autograd/graph.js';
import { subset } from '../data/dataset.js';
import { DataLoader, type Batch } from '../data/loader.js';
import type { Module } from '../nn/module.js';
import { FqtError } from '../tensor/errors.js';
import { bitsAt, streamKey } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { evaluate, type EvalResult } from '../train/evaluate.js';
import type { TrainHook } from '../train/hooks.js';
import type { DataParallel, RankOptions, StepSums } from '../train/parallel.js';
import type { Run } from '../train/run-setup.js';
import type { RunState } from '../train/run-state.js';
import type { Task } from '../train/task.js';
import { bucketCodec, type AllreduceMode, DEFAULT_BUCKET } from './codec.js';
import { allreduceSeed, CodedAllreduce } from './coded-allreduce.js';
import type { ProcessGroup } from './group.js';
import { ringBytesSent } from './ring.js';
import { receiveStart, sendStart } from './start-state.js';

export interface DataParallelOptions {
  /** Gradient all-reduce: fp32 (exact sums) or a compressed mode (distributed/codec.ts). Default fp32. */
  allreduce?: AllreduceMode;
  /** Elements per quantization bucket of the compressed modes (default 512). */
  bucket?: number;
}

const RANK_STREAM = 0x72616e6b; // 'rank': per-rank seeds of the SR and dropout generators

/** Seed of rank r's copy of a generator (rank 0 keeps the run's, so its checkpoints are those of one process). */
export function rankSeed(seed: number, rank: number): number {
  return rank === 0 ? seed : bitsAt(streamKey(seed, RANK_STREAM), rank);
}

interface CommSums { bytes: number; seconds: number; steps: number }

export class GlooDataParallel implements DataParallel {
  readonly rank: number;
  readonly size: number;
  readonly hooks: readonly TrainHook[];
  readonly mode: AllreduceMode;
  private readonly coded: CodedAllreduce | null;
  private params: Tensor[] = [];
  private buffers: Tensor[] = [];
  private flat = new Float32Array(0);
  private extras = new Float32Array(0);
  /** This rank's share of the current global batch's samples (its gradient's weight in the global mean). */
  private shardWeight = 0;
  private runSeed = 0;
  private comm: CommSums = { bytes: 0, seconds: 0, steps: 0 };
  private testShard: { of: DataLoader; shard: DataLoader } | null = null;

  constructor(readonly group: ProcessGroup, o: DataParallelOptions = {}) {
    this.rank = group.rank;
    this.size = group.size;
    this.mode = o.allreduce ?? 'fp32';
    this.coded = this.mode === 'fp32' ? null : new CodedAllreduce(group, bucketCodec(this.mode, o.bucket ?? DEFAULT_BUCKET));
    this.hooks = [this.hook()];
  }

  rankOptions<O extends RankOptions>(opts: O): O {
    if (this.rank === 0) return opts;
    return { ...opts, out: undefined, resume: false, quiet: true, log: () => undefined, onProgress: undefined };
  }

  start(run: Run, state: RunState): void {
    checkShards(run, this.size);
    this.params = run.model.parameters();
    this.buffers = run.model.namedBuffers().map(([, b]) => b);
    const total = this.params.reduce((s, p) => s + p.size, 0);
    const bucket = this.coded?.codec.bucket ?? 1;
    const extras = this.buffers.reduce((s, b) => s + b.size, 0) + 4;
    this.flat = new Float32Array(Math.ceil(total / bucket) * bucket + (this.coded ? 0 : extras));
    this.extras = this.coded ? new Float32Array(extras) : this.flat.subarray(total, total + extras);
    const bytes = this.group.broadcastBytes(this.rank === 0 ? sendStart(run, state) : null, 0);
    if (this.rank !== 0) receiveStart(bytes, run, state);
    run.quantRng.seed = rankSeed(run.quantRng.seed, this.rank);
    run.dropoutRng.seed = rankSeed(run.dropoutRng.seed, this.rank);
    this.runSeed = run.config.seed;
  }

  batch(loader: DataLoader, epoch: number, b: number): Batch {
    const order = loader.order(epoch);
    const start = b * loader.batchSize, global = Math.min(loader.batchSize, order.length - start);
    const lo = start + Math.floor((this.rank * global) / this.size), hi = start + Math.floor(((this.rank + 1) * global) / this.size);
    this.shardWeight = (hi - lo) / global;
    return loader.gather(epoch, order.slice(lo, hi));
  }

  reduceStep(_run: Run, grads: GradStore, local: StepSums, step: { globalStep: number }): StepSums {
    const t0 = performance.now(), sent0 = this.group.allreduceBytesSent;
    const { flat, extras } = this;
    const weight = this.shardWeight; // by samples, not local.seen: a language model's seen counts tokens
    let o = 0;
    for (const p of this.params) {
      const g = grads.get(p)?.data;
      for (let i = 0; i < p.size; i++) flat[o + i] = g ? g[i] * weight : 0;
      o += p.size;
    }
    let e = 0;
    for (const b of this.buffers) {
      for (let i = 0; i < b.size; i++) extras[e + i] = b.data[i] / this.size;
      e += b.size;
    }
    extras.set([local.lossSum, local.correct, local.seen, local.stops], e);
    if (this.coded) {
      flat.fill(0, o);
      this.coded.run(flat, allreduceSeed(this.runSeed, step.globalStep, this.rank), extras);
    } else {
      this.group.allreduceSum(flat);
    }
    o = 0;
    for (const p of this.params) {
      if (grads.has(p)) grads.set(p, new Tensor(flat.slice(o, o + p.size), p.shape));
      o += p.size;
    }
    e = 0;
    for (const b of this.buffers) {
      b.data.set(extras.subarray(e, e + b.size));
      e += b.size;
    }
    this.comm.bytes += this.group.allreduceBytesSent - sent0;
    this.comm.seconds += (performance.now() - t0) / 1000;
    this.comm.steps += 1;
    return { loss: extras[e] / extras[e + 2], lossSum: extras[e], correct: extras[e + 1], seen: extras[e + 2], stops: extras[e + 3] };
  }

  evaluate(model: Module, loader: DataLoader, task: Task): EvalResult {
    if (this.testShard?.of !== loader) {
      const n = loader.dataset.n, lo = Math.floor((this.rank * n) / this.size), hi = Math.floor(((this.rank + 1) * n) / this.size);
      const shard = subset(loader.dataset, Int32Array.from({ length: hi - lo }, (_, i) => lo + i));
      this.testShard = { of: loader, shard: new DataLoader(shard, { batchSize: loader.batchSize, shuffle: false, normalization: loader.normalization ?? 'none' }) };
    }
    const r = evaluate(model, this.testShard.shard, task);
    const sums = Float32Array.of(r.samples ? r.loss * r.samples : 0, Math.round(r.accuracy * r.samples) || 0, r.samples);
    this.group.allreduceSum(sums);
    return { loss: sums[2] ? sums[0] / sums[2] : NaN, accuracy: sums[2] ? sums[1] / sums[2] : NaN, samples: sums[2] };
  }

  anyStopped(stopped: boolean): boolean {
    const flag = Float32Array.of(stopped ? 1 : 0);
    this.group.allreduceSum(flag);
    return flag[0] > 0;
  }

  /** Bytes this rank sends per step with fp32 all-reduce (the baseline of the compression factor). */
  fp32BytesPerStep(): number {
    const n = this.params.reduce((s, p) => s + p.size, 0) + this.buffers.reduce((s, b) => s + b.size, 0) + 4;
    return ringBytesSent(n, 4, this.size, this.rank);
  }

  private hook(): TrainHook {
    const what = this.coded ? `${this.mode} (${this.coded.codec.label})` : 'fp32';
    return {
      key: 'dist',
      description: `data parallel over ${this.size} processes (gloo ring all-reduce, ${what})`,
      onEpochEnd: () => {
        const c = this.comm, steps = Math.max(1, c.steps);
        this.comm = { bytes: 0, seconds: 0, steps: 0 };
        const bytes = c.bytes / steps, fp32 = this.fp32BytesPerStep();
        return {
          metrics: { workers: this.size, allreduce: this.mode, comm_bytes_per_step: bytes, comm_fp32_bytes_per_step: fp32, comm_ms_per_step: (1000 * c.seconds) / steps },
          suffix: `  all-reduce ${this.mode}: ${(bytes / 1024).toFixed(0)} KiB/step sent (${(fp32 / Math.max(1, bytes)).toFixed(2)}× less than fp32), ${((1000 * c.seconds) / steps).toFixed(1)} ms/step`,
        };
      },
      saveEpoch: () => ({ ...this.comm }),
      loadEpoch: (s) => { this.comm = { ...(s as CommSums) }; },
    };
  }
}

/** Every global batch must give each rank at least one sample. */
function checkShards(run: Run, size: number): void {
  const n = run.trainSet.n, b = run.config.batchSize, last = n % b;
  if (b < size) throw new FqtError(`batch size ${b} is smaller than the ${size} workers: each needs at least one sample of every batch`);
  if (last > 0 && last < size) {
    throw new FqtError(`the last batch of an epoch has ${last} samples (${n} mod ${b}), fewer than the ${size} workers: change --batch-size or --train-limit`);
  }
}
