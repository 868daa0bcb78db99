import { check } from '../tensor/errors.js';

/**
 * An in-memory image classification data set. `images` holds `n` samples in [n, c, h, w] row-major
 * float32 (raw pixel scale, usually [0, 1]; normalisation happens in the DataLoader), `labels` holds
 * one class index in [0, classes) per sample.
 */
export interface Dataset {
  name: string;
  images: Float32Array;
  labels: Int32Array;
  n: number;
  channels: number;
  height: number;
  width: number;
  classes: number;
  classNames?: string[];
  /**
   * What a sample is for (default 'classification': `labels` are the targets). 'language-model': each sample is a
   * window of token ids [1, 1, T + 1] (data/text.ts) and the targets are its ids 1..T (train/task.ts).
   */
  task?: DatasetTask;
}

export type DatasetTask = 'classification' | 'language-model';

/** A train/test pair, as every loader returns it. */
export interface DatasetSplit {
  train: Dataset;
  test: Dataset;
}

/** Per-channel normalisation constants: x' = (x − mean[c]) / std[c]. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/** Floats per sample (c·h·w). */
export function sampleSize(ds: Pick<Dataset, 'channels' | 'height' | 'width'>): number {
  return ds.channels * ds.height * ds.width;
}

/**
 * Builds a Dataset and checks that its fields agree (array lengths, label range). Every reader goes
 * through here, so a data set that exists is a consistent one.
 */
export function makeDataset(fields: Omit<Dataset, 'n'> & { n?: number }): Dataset {
  const { name, images, labels, channels, height, width, classes, classNames, task } = fields;
  const n = fields.n ?? labels.length;
  for (const [key, v] of [['channels', channels], ['height', height], ['width', width], ['classes', classes]] as const) {
    check(Number.isInteger(v) && v > 0, () => `data set '${name}': ${key} must be a positive integer, got ${v}`);
  }
  check(Number.isInteger(n) && n >= 0, () => `data set '${name}': n must be a non-negative integer, got ${n}`);
  check(labels.length === n, () => `data set '${name}': ${labels.length} labels for ${n} samples`);
  const per = channels * height * width;
  check(images.length === n * per,
    () => `data set '${name}': images hold ${images.length} floats, expected ${n}×${channels}×${height}×${width} = ${n * per}`);
  const bad = firstLabelOutOfRange(labels, classes);
  check(bad < 0, () => `data set '${name}': label ${labels[bad]} of sample ${bad} is outside [0, ${classes})`);
  if (classNames !== undefined) {
    check(classNames.length === classes, () => `data set '${name}': ${classNames.length} class names for ${classes} classes`);
  }
  const ds: Dataset = { name, images, labels, n, channels, height, width, classes };
  if (classNames !== undefined) ds.classNames = classNames;
  if (task !== undefined && task !== 'classification') ds.task = task;
  return ds;
}

/** Index of the first label outside [0, classes), or −1. */
export function firstLabelOutOfRange(labels: ArrayLike<number>, classes: number): number {
  for (let i = 0; i < labels.length; i++) {
    const l = labels[i];
    if (!(l >= 0 && l < classes) || !Number.isInteger(l)) return i;
  }
  return -1;
}

/** A new Dataset holding the samples at `indices`, in that order (data is copied). */
export function subset(ds: Dataset, indices: ArrayLike<number>, name = ds.name): Dataset {
  const per = sampleSize(ds);
  const images = new Float32Array(indices.length * per);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    check(Number.isInteger(j) && j >= 0 && j < ds.n, () => `subset of '${ds.name}': index ${j} is outside [0, ${ds.n})`);
    images.set(ds.images.subarray(j * per, (j + 1) * per), i * per);
    labels[i] = ds.labels[j];
  }
  return makeDataset({ ...ds, name, images, labels, n: indices.length });
}

/** The first `count` samples (or all of them if there are fewer); shares no memory with `ds`. */
export function head(ds: Dataset, count: number): Dataset {
  check(Number.isInteger(count) && count >= 0, () => `head of '${ds.name}': count must be a non-negative integer, got ${count}`);
  const m = Math.min(count, ds.n);
  return subset(ds, Int32Array.from({ length: m }, (_, i) => i));
}

/** Number of samples per class. */
export function classCounts(ds: Dataset): Int32Array {
  const counts = new Int32Array(ds.classes);
  for (let i = 0; i < ds.n; i++) counts[ds.labels[i]]++;
  return counts;
}

/**
 * Per-channel mean and (population) standard deviation over all samples and pixels, accumulated in
 * float64. A constant channel gets std 1 rather than 0 so that normalising it cannot divide by zero.
 */
export function channelStats(ds: Dataset): Normalization {
  check(ds.n > 0, () => `cannot compute normalisation statistics of '${ds.name}': it has no samples`);
  const plane = ds.height * ds.width;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < ds.channels; c++) {
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < ds.n; i++) {
      const off = (i * ds.channels + c) * plane;
      for (let p = 0; p < plane; p++) {
        const v = ds.images[off + p];
        sum += v;
        sumSq += v * v;
      }
    }
    const count = ds.n * plane;
    const m = sum / count;
    const variance = Math.max(0, sumSq / count - m * m);
    mean.push(m);
    std.push(variance > 1e-12 ? Math.sqrt(variance) : 1);
  }
  return { mean, std };
}

/** Checks that a Normalization fits a data set with `channels` channels. */
export function validateNormalization(norm: Normalization, channels: number, what: string): void {
  check(Array.isArray(norm.mean) && Array.isArray(norm.std), () => `${what}: normalization needs mean and std arrays`);
  check(norm.mean.length === channels && norm.std.length === channels,
    () => `${what}: normalization has ${norm.mean.length} means and ${norm.std.length} stds, the data has ${channels} channels`);
  norm.mean.forEach((m, c) => check(Number.isFinite(m), () => `${what}: normalization mean[${c}] = ${m} is not finite`));
  norm.std.forEach((s, c) => check(Number.isFinite(s) && s > 0, () => `${what}: normalization std[${c}] = ${s} must be positive`));
}
