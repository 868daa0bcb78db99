/**
 * Character-level text data for language models (gpt-tiny). The built-in corpus is `fortunes`: the fortune
 * cookie files of the Debian package `fortunes` (fortune-mod's data: quotations, jokes, poems; about 2.6 MB of
 * plain text in /usr/share/games/fortunes, `apt-get install fortunes`; the package is distributed under the BSD
 * licence of fortune-mod, the quotations belong to their authors — see /usr/share/doc/fortunes/copyright). It is an
 * optional system dependency, like Fashion-MNIST's Debian package: absent, loading it is a one-line error saying
 * how to install it (or --data DIR with other plain-text files).
 *
 * Encoding (fixed, corpus-independent, so a checkpoint needs no stored vocabulary): 96 symbols, id 0 = '\n' and
 * ids 1..95 = the printable ASCII characters ' '..'~'; a tab becomes a space and every other byte (control
 * characters, overstrike backspaces, non-ASCII) is dropped.
 * Split: the files are read in sorted name order; the first 90 % of each file's characters go to training, the
 * rest to validation. Samples are windows of T + 1 consecutive ids taken with stride T (T = context, default 64):
 * a Dataset of [n, 1, 1, T + 1] "images" whose pixels are ids, with task 'language-model' (the model reads ids
 * 0..T−1, the loss scores ids 1..T).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { check, FqtError } from '../tensor/errors.js';
import { makeDataset, type Dataset, type DatasetSplit } from './dataset.js';

export const FORTUNES_DEFAULT_DIR = '/usr/share/games/fortunes';
export const TEXT_VOCAB = 96;
export const DEFAULT_CONTEXT = 64;
const TRAIN_FRACTION = 0.9;

/** Id of a byte, or −1 when the byte is dropped (file comment). */
export function charId(byte: number): number {
  if (byte === 10) return 0;
  if (byte === 9) return 1;
  return byte >= 32 && byte <= 126 ? byte - 31 : -1;
}

/** The character of an id. */
export function idChar(id: number): string {
  return id === 0 ? '\n' : String.fromCharCode(id + 31);
}

export function encodeText(bytes: Uint8Array): Int32Array {
  const out = new Int32Array(bytes.length);
  let n = 0;
  for (const b of bytes) {
    const id = charId(b);
    if (id >= 0) out[n++] = id;
  }
  return out.slice(0, n);
}

/** Windows of T + 1 ids with stride T as a Dataset (file comment). */
export function windowDataset(name: string, ids: Int32Array, context: number): Dataset {
  const w = context + 1;
  const n = ids.length >= w ? Math.floor((ids.length - 1) / context) : 0;
  const images = new Float32Array(n * w);
  for (let i = 0; i < n; i++) for (let j = 0; j < w; j++) images[i * w + j] = ids[i * context + j];
  return makeDataset({ name, images, labels: new Int32Array(n), channels: 1, height: 1, width: w, classes: TEXT_VOCAB, task: 'language-model' });
}

/** The plain-text files of a corpus directory (fortune's .dat index files and .u8 links are skipped). */
function corpusFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    throw new FqtError(dir === FORTUNES_DEFAULT_DIR
      ? `the text corpus 'fortunes' is not installed (${dir} is missing): run 'apt-get install fortunes', or give --data DIR with plain-text files`
      : `text corpus directory '${dir}' cannot be read`);
  }
  const files = names.filter((f) => !/\.(dat|u8)$/.test(f)).sort().map((f) => path.join(dir, f)).filter((f) => statSync(f).isFile());
  check(files.length > 0, () => `text corpus directory '${dir}' has no text files`);
  return files;
}

/** Train / validation windows of the corpus in `dir` (file comment). */
export function loadTextCorpus(name: string, dir: string, context = DEFAULT_CONTEXT): DatasetSplit {
  check(Number.isInteger(context) && context >= 1, () => `text corpus: context must be a positive integer, got ${context}`);
  const train: Int32Array[] = [], valid: Int32Array[] = [];
  for (const file of corpusFiles(dir)) {
    const ids = encodeText(readFileSync(file));
    const cut = Math.floor(ids.length * TRAIN_FRACTION);
    train.push(ids.subarray(0, cut));
    valid.push(ids.subarray(cut));
  }
  const join = (parts: Int32Array[]) => {
    const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  return { train: windowDataset(`${name}-train`, join(train), context), test: windowDataset(`${name}-valid`, join(valid), context) };
}

/** Unigram entropy (nats per character) of the ids of a split: the loss of a model that ignores context. */
export function unigramEntropy(ds: Dataset): number {
  const counts = new Float64Array(ds.classes);
  const w = ds.width;
  for (let i = 0; i < ds.n; i++) for (let j = 1; j < w; j++) counts[ds.images[i * w + j]]++;
  const total = counts.reduce((a, b) => a + b, 0);
  return -counts.reduce((h, c) => (c > 0 ? h + (c / total) * Math.log(c / total) : h), 0);
}
