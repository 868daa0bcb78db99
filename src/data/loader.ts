/**
 * DataLoader: shuffled, optionally augmented and normalised mini-batches over an in-memory Dataset.
 *
 * Reproducibility contract (what makes checkpoint resume exact):
 *   - the sample order of epoch e is `new Rng(shuffleSeed, e).permutation(n)`: a function of
 *     (seed, e) only, never of how many epochs this process has already run;
 *   - the augmentation of dataset sample s in epoch e uses uniforms 3s, 3s+1, 3s+2 of stream e of
 *     augSeed, so it does not depend on batch size, batch position or history either;
 *   - shuffleSeed and augSeed are the seeds of two forks of `new Rng(seed)`, so the two never share
 *     a stream.
 * A training position is therefore just {epoch, batch}; `epochBatches(epoch, startBatch)` resumes.
 */
import { check } from '../tensor/errors.js';
import { Rng, streamKey, uniformAt } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { channelStats, sampleSize, validateNormalization, type Dataset, type Normalization } from './dataset.js';

export interface AugmentOptions {
  /** Random crop after zero padding by this many pixels on each side (0 = off). Padding is black in raw pixel space, as torchvision's RandomCrop before Normalize. */
  cropPadding?: number;
  /** Random horizontal flip with probability 1/2. */
  hflip?: boolean;
}

export interface DataLoaderOptions {
  batchSize: number;
  /** Shuffle each epoch (default true; use false for evaluation). */
  shuffle?: boolean;
  /** Drop the last partial batch (default false: it is kept, smaller). */
  dropLast?: boolean;
  /** Seed of shuffling and augmentation (default 0). */
  seed?: number;
  /** Per-channel normalisation: constants, 'compute' (statistics of this loader's data set), or none (default). */
  normalization?: Normalization | 'compute' | 'none';
  augment?: AugmentOptions;
}

/** One mini-batch: images [b, c, h, w], their labels, and their indices in the data set. */
export interface Batch {
  x: Tensor;
  labels: Int32Array;
  indices: Int32Array;
}

/** Where a training run stands: the next batch to produce. Plain data, saved in checkpoints. */
export interface LoaderPosition {
  epoch: number;
  batch: number;
}

/** Number of batches an epoch of `n` samples yields. */
export function countBatches(n: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(n / batchSize) : Math.ceil(n / batchSize);
}

function checkEpoch(epoch: number): void {
  check(Number.isInteger(epoch) && epoch >= 0 && epoch <= 0xffffffff, () => `epoch must be an integer in [0, 2^32), got ${epoch}`);
}

export class DataLoader {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  readonly seed: number;
  readonly normalization: Normalization | null;
  readonly cropPadding: number;
  readonly hflip: boolean;
  readonly batchesPerEpoch: number;
  private readonly shuffleSeed: number;
  private readonly augSeed: number;
  private cachedOrder: { epoch: number; order: Int32Array } | null = null;

  constructor(dataset: Dataset, opts: DataLoaderOptions) {
    const what = `data loader over '${dataset.name}'`;
    check(Number.isInteger(opts.batchSize) && opts.batchSize > 0, () => `${what}: batchSize must be a positive integer, got ${opts.batchSize}`);
    const seed = opts.seed ?? 0;
    check(Number.isInteger(seed) && seed >= 0 && seed <= 0xffffffff, () => `${what}: seed must be an integer in [0, 2^32), got ${seed}`);
    const pad = opts.augment?.cropPadding ?? 0;
    check(Number.isInteger(pad) && pad >= 0, () => `${what}: cropPadding must be a non-negative integer, got ${pad}`);
    this.dataset = dataset;
    this.batchSize = opts.batchSize;
    this.shuffle = opts.shuffle ?? true;
    this.dropLast = opts.dropLast ?? false;
    this.seed = seed;
    this.cropPadding = pad;
    this.hflip = opts.augment?.hflip ?? false;
    const norm = opts.normalization ?? 'none';
    if (norm === 'none') this.normalization = null;
    else if (norm === 'compute') this.normalization = channelStats(dataset);
    else {
      validateNormalization(norm, dataset.channels, what);
      this.normalization = { mean: [...norm.mean], std: [...norm.std] };
    }
    this.batchesPerEpoch = countBatches(dataset.n, this.batchSize, this.dropLast);
    const root = new Rng(seed);
    this.shuffleSeed = root.fork().seed;
    this.augSeed = root.fork().seed;
  }

  get augmenting(): boolean { return this.cropPadding > 0 || this.hflip; }

  /** The sample order of `epoch` (identity when not shuffling). Depends only on (seed, epoch). */
  order(epoch: number): Int32Array {
    checkEpoch(epoch);
    if (this.cachedOrder?.epoch === epoch) return this.cachedOrder.order;
    const order = this.shuffle
      ? new Rng(this.shuffleSeed, epoch).permutation(this.dataset.n)
      : Int32Array.from({ length: this.dataset.n }, (_, i) => i);
    this.cachedOrder = { epoch, order };
    return order;
  }

  /** Batch `b` of `epoch`. */
  batch(epoch: number, b: number): Batch {
    check(Number.isInteger(b) && b >= 0 && b < this.batchesPerEpoch,
      () => `batch index ${b} is outside [0, ${this.batchesPerEpoch}) for '${this.dataset.name}'`);
    const order = this.order(epoch);
    const start = b * this.batchSize;
    const indices = order.slice(start, Math.min(start + this.batchSize, this.dataset.n));
    return this.gather(epoch, indices);
  }

  /** The batches of `epoch`, starting at `startBatch` (for resuming mid-epoch). */
  *epochBatches(epoch: number, startBatch = 0): Generator<Batch> {
    check(Number.isInteger(startBatch) && startBatch >= 0 && startBatch <= this.batchesPerEpoch,
      () => `start batch ${startBatch} is outside [0, ${this.batchesPerEpoch}] for '${this.dataset.name}'`);
    for (let b = startBatch; b < this.batchesPerEpoch; b++) yield this.batch(epoch, b);
  }

  /** Copies, augments and normalises the samples at `indices` into one batch. */
  gather(epoch: number, indices: Int32Array): Batch {
    checkEpoch(epoch);
    const { channels: c, height: h, width: w } = this.dataset;
    const per = sampleSize(this.dataset);
    const x = new Float32Array(indices.length * per);
    const labels = new Int32Array(indices.length);
    const augKey = streamKey(this.augSeed, epoch);
    for (let i = 0; i < indices.length; i++) {
      const s = indices[i];
      check(Number.isInteger(s) && s >= 0 && s < this.dataset.n, () => `sample index ${s} is outside [0, ${this.dataset.n}) for '${this.dataset.name}'`);
      labels[i] = this.dataset.labels[s];
      const src = this.dataset.images.subarray(s * per, (s + 1) * per);
      const dst = x.subarray(i * per, (i + 1) * per);
      if (this.augmenting) this.augmentInto(src, dst, augKey, s, c, h, w);
      else dst.set(src);
      if (this.normalization) normalizeInPlace(dst, this.normalization, h * w);
    }
    return { x: new Tensor(x, [indices.length, c, h, w]), labels, indices };
  }

  /** Random crop of the zero-padded image and/or horizontal flip, drawn from (augSeed, epoch, sample). */
  private augmentInto(src: Float32Array, dst: Float32Array, key: number, s: number, c: number, h: number, w: number): void {
    const p = this.cropPadding;
    // Offsets in [−p, p]: output pixel (y, x) reads input (y + dy, x + dx), zero outside the image.
    const dy = p > 0 ? Math.floor(uniformAt(key, 3 * s) * (2 * p + 1)) - p : 0;
    const dx = p > 0 ? Math.floor(uniformAt(key, 3 * s + 1) * (2 * p + 1)) - p : 0;
    const flip = this.hflip && uniformAt(key, 3 * s + 2) < 0.5;
    for (let ch = 0; ch < c; ch++) {
      const plane = ch * h * w;
      for (let y = 0; y < h; y++) {
        const sy = y + dy;
        const rowOk = sy >= 0 && sy < h;
        for (let x = 0; x < w; x++) {
          const sx = (flip ? w - 1 - x : x) + dx;
          dst[plane + y * w + x] = rowOk && sx >= 0 && sx < w ? src[plane + sy * w + sx] : 0;
        }
      }
    }
  }
}

/** x ← (x − mean[c]) / std[c] for one [c, h, w] sample. */
export function normalizeInPlace(sample: Float32Array, norm: Normalization, planeSize: number): void {
  for (let c = 0; c < norm.mean.length; c++) {
    const m = norm.mean[c];
    const s = norm.std[c];
    const off = c * planeSize;
    for (let p = 0; p < planeSize; p++) sample[off + p] = (sample[off + p] - m) / s;
  }
}
