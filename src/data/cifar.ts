/**
 * CIFAR-10 / CIFAR-100 binary version (https://www.cs.toronto.edu/~kriz/cifar.html).
 *
 * A batch file is a sequence of fixed-size records:
 *     CIFAR-10:   1 label byte                        + 3072 pixel bytes
 *     CIFAR-100:  1 coarse label byte + 1 fine byte   + 3072 pixel bytes   (we use the fine label)
 * The 3072 pixel bytes are the red, green and blue 32×32 planes, each row-major — exactly the
 * [c, h, w] layout of a Dataset sample, so a record's pixels are copied as they are.
 *
 * Files: CIFAR-10 data_batch_1.bin … data_batch_5.bin and test_batch.bin (the official archive
 * unpacks into cifar-10-batches-bin/); CIFAR-100 train.bin and test.bin (cifar-100-binary/), or the
 * CIFAR-10 names as a fallback. Both `dir` and the official subdirectory are searched; `.gz` also works.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { check } from '../tensor/errors.js';
import { makeDataset, type Dataset, type DatasetSplit } from './dataset.js';
import { bytesToUnit, checkDirectory, describeSize, findFirst, readMaybeGzip } from './files.js';

export type CifarVariant = 'cifar10' | 'cifar100';

export const CIFAR_SIDE = 32;
export const CIFAR_PIXELS = 3 * CIFAR_SIDE * CIFAR_SIDE;

export const CIFAR10_CLASS_NAMES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

interface VariantInfo {
  labelBytes: number;
  classes: number;
  /** Sub-directory the official archive unpacks into. */
  subdir: string;
  /** Candidate name lists, one list per train file (tried in order), and for the test file. */
  trainFiles: string[][];
  testFiles: string[];
  /** File with one class name per line, if the archive ships one. */
  namesFile: string;
}

const CIFAR10_TRAIN = [1, 2, 3, 4, 5].map((i) => [`data_batch_${i}.bin`, `data_batch_${i}.bin.gz`]);

const VARIANTS: { [V in CifarVariant]: VariantInfo } = {
  cifar10: {
    labelBytes: 1, classes: 10, subdir: 'cifar-10-batches-bin',
    trainFiles: CIFAR10_TRAIN, testFiles: ['test_batch.bin', 'test_batch.bin.gz'], namesFile: 'batches.meta.txt',
  },
  cifar100: {
    labelBytes: 2, classes: 100, subdir: 'cifar-100-binary',
    trainFiles: [['train.bin', 'train.bin.gz']], testFiles: ['test.bin', 'test.bin.gz', 'test_batch.bin'], namesFile: 'fine_label_names.txt',
  },
};

/** Bytes per record of a variant. */
export function cifarRecordBytes(variant: CifarVariant): number {
  return VARIANTS[variant].labelBytes + CIFAR_PIXELS;
}

/** One parsed batch file: labels and [n, 3, 32, 32] pixels in [0, 1]. */
export interface CifarBatch {
  labels: Int32Array;
  images: Float32Array;
}

/** Reads one CIFAR batch file (raw or gzip). */
export function readCifarBatch(path: string, variant: CifarVariant): CifarBatch {
  const info = VARIANTS[variant];
  const file = readMaybeGzip(path); // gzip: bounded by the size its trailer declares
  const { bytes } = file;
  const record = info.labelBytes + CIFAR_PIXELS;
  const whole = Math.floor(bytes.length / record);
  const rest = bytes.length - whole * record;
  check(bytes.length > 0, () => `${path}: empty file, expected ${variant} records of ${record} bytes`);
  check(rest === 0,
    () => `${path}: truncated or not a ${variant} batch: expected a multiple of ${record} bytes (${variant} record size), ` +
      `got ${describeSize(file)} = ${whole} whole records + ${rest} bytes`);
  const labels = new Int32Array(whole);
  const images = new Float32Array(whole * CIFAR_PIXELS);
  for (let i = 0; i < whole; i++) {
    const off = i * record;
    if (info.labelBytes === 2) {
      // CIFAR-100: the coarse label is checked too, since a bad one means the file is not what it claims.
      const coarse = bytes[off];
      check(coarse < 20, () => `${path}: record ${i} has coarse label ${coarse}, outside [0, 20)`);
    }
    const label = bytes[off + info.labelBytes - 1];
    check(label < info.classes, () => `${path}: record ${i} has label ${label}, outside [0, ${info.classes})`);
    labels[i] = label;
    bytesToUnit(bytes.subarray(off + info.labelBytes, off + record), images, i * CIFAR_PIXELS);
  }
  return { labels, images };
}

/** `dir` itself when it holds the files, else the official sub-directory if that exists. */
function resolveDir(dir: string, info: VariantInfo): string {
  const sub = join(dir, info.subdir);
  const hasFiles = info.testFiles.some((f) => existsSync(join(dir, f)));
  return !hasFiles && existsSync(sub) ? sub : dir;
}

function readClassNames(dir: string, info: VariantInfo, variant: CifarVariant): string[] | undefined {
  const p = join(dir, info.namesFile);
  if (existsSync(p)) {
    const names = readFileSync(p, 'utf8').split(/\r?\n/).map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length === info.classes) return names;
  }
  return variant === 'cifar10' ? CIFAR10_CLASS_NAMES : undefined;
}

function concatBatches(batches: CifarBatch[]): CifarBatch {
  const n = batches.reduce((a, b) => a + b.labels.length, 0);
  const labels = new Int32Array(n);
  const images = new Float32Array(n * CIFAR_PIXELS);
  let at = 0;
  for (const b of batches) {
    labels.set(b.labels, at);
    images.set(b.images, at * CIFAR_PIXELS);
    at += b.labels.length;
  }
  return { labels, images };
}

function toDataset(batch: CifarBatch, name: string, classes: number, classNames?: string[]): Dataset {
  return makeDataset({
    name, images: batch.images, labels: batch.labels, channels: 3, height: CIFAR_SIDE, width: CIFAR_SIDE, classes,
    ...(classNames ? { classNames } : {}),
  });
}

/**
 * Train batch paths. CIFAR-100 ships one train.bin; a CIFAR-10 style layout (data_batch_1..5.bin) is
 * accepted as a fallback, and the error for a missing first file lists both namings.
 */
function findTrainFiles(root: string, variant: CifarVariant): string[] {
  const info = VARIANTS[variant];
  if (variant === 'cifar100') {
    const first = findFirst(root, [...info.trainFiles[0], ...CIFAR10_TRAIN[0]], `${variant} train data`);
    if (info.trainFiles[0].some((name) => first === join(root, name))) return [first];
    return [first, ...CIFAR10_TRAIN.slice(1).map((names, i) => findFirst(root, names, `${variant} train batch ${i + 2}`))];
  }
  return info.trainFiles.map((names, i) => findFirst(root, names, `${variant} train batch ${i + 1}`));
}

/** Loads the CIFAR-10 or CIFAR-100 binary files from `dir` (or its official sub-directory). */
export function loadCifarDataset(dir: string, variant: CifarVariant): DatasetSplit {
  const info = VARIANTS[variant];
  checkDirectory(dir, variant);
  const root = resolveDir(dir, info);
  const trainPaths = findTrainFiles(root, variant);
  const testPath = findFirst(root, info.testFiles, `${variant} test batch`);
  const classNames = readClassNames(root, info, variant);
  const train = concatBatches(trainPaths.map((p) => readCifarBatch(p, variant)));
  const test = readCifarBatch(testPath, variant);
  return {
    train: toDataset(train, `${variant}-train`, info.classes, classNames),
    test: toDataset(test, `${variant}-test`, info.classes, classNames),
  };
}
