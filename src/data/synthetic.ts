/**
 * Small synthetic image classification data for tests and smoke runs: "Gaussian blobs".
 *
 * Class c is a bright Gaussian spot centred on a circle around the image centre, at angle 2πc/classes,
 * with a class-dependent brightness per channel. A sample jitters the centre by `jitter` pixels
 * (normal), renders the spot, adds pixel noise and clamps to [0, 1]. Labels cycle 0, 1, …, classes−1,
 * so every class is equally frequent. A linear model or small CNN learns it within a few epochs.
 *
 * Randomness is counter-based: sample i of the train split uses the normals at indices
 * i·(2 + c·h·w) + k of stream key streamKey(seed, 0) (test: stream 1), so any sample can be
 * regenerated alone and the data depends only on the options.
 */
import { check } from '../tensor/errors.js';
import { streamKey, uniformAt } from '../tensor/random.js';
import { makeDataset, type Dataset, type DatasetSplit } from './dataset.js';

export interface SyntheticOptions {
  /** Samples in the train split (default 512). */
  trainSize?: number;
  /** Samples in the test split (default 256). */
  testSize?: number;
  /** Number of classes (default 4). */
  classes?: number;
  /** Channels per image (default 1). */
  channels?: number;
  /** Image height and width (default 8). */
  size?: number;
  /** Standard deviation of the additive pixel noise (default 0.1). */
  noise?: number;
  /** Standard deviation, in pixels, of the blob centre's position (default 0.75). */
  jitter?: number;
  seed?: number;
}

/** The i-th standard normal of a stream, by Box–Muller on uniforms 2i and 2i+1. */
function normalAt(key: number, i: number): number {
  const u1 = 1 - uniformAt(key, 2 * i); // (0, 1], keeps log finite
  const u2 = uniformAt(key, 2 * i + 1);
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

function positiveInt(v: number, key: string): number {
  check(Number.isInteger(v) && v > 0, () => `synthetic data: ${key} must be a positive integer, got ${v}`);
  return v;
}

function renderSplit(name: string, n: number, stream: number, o: Required<SyntheticOptions>): Dataset {
  const { classes, channels, size, noise, jitter } = o;
  const plane = size * size;
  const per = channels * plane;
  const key = streamKey(o.seed >>> 0, stream);
  const images = new Float32Array(n * per);
  const labels = new Int32Array(n);
  const mid = (size - 1) / 2;
  const ring = 0.3 * size;
  const sigma = Math.max(size / 6, 0.5);
  const draws = 2 + per;
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels[i] = c;
    const angle = (2 * Math.PI * c) / classes;
    const cy = mid + ring * Math.sin(angle) + jitter * normalAt(key, i * draws);
    const cx = mid + ring * Math.cos(angle) + jitter * normalAt(key, i * draws + 1);
    for (let ch = 0; ch < channels; ch++) {
      // Brightness in [0.2, 1], varying with class and channel so colour carries signal too.
      const bright = 0.6 + 0.4 * Math.cos(2 * Math.PI * (c / classes + ch / channels));
      for (let y = 0; y < size; y++) {
        for (let x = 0; x < size; x++) {
          const d2 = (y - cy) ** 2 + (x - cx) ** 2;
          const p = ch * plane + y * size + x;
          const v = bright * Math.exp(-d2 / (2 * sigma * sigma)) + noise * normalAt(key, i * draws + 2 + p);
          images[i * per + p] = Math.min(1, Math.max(0, v));
        }
      }
    }
  }
  return makeDataset({ name, images, labels, channels, height: size, width: size, classes });
}

/** Gaussian-blob train and test splits (independent streams of the same seed). */
export function syntheticBlobs(opts: SyntheticOptions = {}): DatasetSplit {
  const o: Required<SyntheticOptions> = {
    trainSize: opts.trainSize ?? 512,
    testSize: opts.testSize ?? 256,
    classes: positiveInt(opts.classes ?? 4, 'classes'),
    channels: positiveInt(opts.channels ?? 1, 'channels'),
    size: positiveInt(opts.size ?? 8, 'size'),
    noise: opts.noise ?? 0.1,
    jitter: opts.jitter ?? 0.75,
    seed: opts.seed ?? 0,
  };
  check(Number.isInteger(o.trainSize) && o.trainSize >= 0, () => `synthetic data: trainSize must be a non-negative integer, got ${o.trainSize}`);
  check(Number.isInteger(o.testSize) && o.testSize >= 0, () => `synthetic data: testSize must be a non-negative integer, got ${o.testSize}`);
  check(o.noise >= 0 && o.jitter >= 0, () => `synthetic data: noise and jitter must be non-negative, got ${o.noise} and ${o.jitter}`);
  check(Number.isInteger(o.seed) && o.seed >= 0 && o.seed <= 0xffffffff, () => `synthetic data: seed must be an integer in [0, 2^32), got ${o.seed}`);
  return {
    train: renderSplit('synthetic-train', o.trainSize, 0, o),
    test: renderSplit('synthetic-test', o.testSize, 1, o),
  };
}
