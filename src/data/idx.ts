/**
 * IDX files (the MNIST / Fashion-MNIST format, http://yann.lecun.com/exdb/mnist/):
 *
 *     bytes 0-1  zero
 *     byte  2    element type (0x08 = unsigned byte; the only one MNIST-style data sets use)
 *     byte  3    number of dimensions d
 *     then d big-endian uint32 sizes, then prod(sizes) elements, row-major.
 *
 * Read as a big-endian uint32 the first four bytes are the "magic": 0x00000803 for images [n, h, w]
 * and 0x00000801 for labels [n]. Files may be gzip-compressed (detected by magic bytes, not name).
 */
import { check } from '../tensor/errors.js';
import { firstLabelOutOfRange, makeDataset, type Dataset, type DatasetSplit } from './dataset.js';
import { bytesToUnit, checkDirectory, describeSize, findFirst, readMaybeGzip, readU32BE, type FileBytes } from './files.js';

export const IDX_IMAGES_MAGIC = 0x00000803;
export const IDX_LABELS_MAGIC = 0x00000801;

/** A parsed IDX file of unsigned bytes. `data` is a view into the file's bytes. */
export interface IdxArray {
  dims: number[];
  data: Uint8Array;
}

function hex32(v: number): string {
  return '0x' + v.toString(16).padStart(8, '0');
}

function magicMeaning(magic: number): string {
  if (magic === IDX_IMAGES_MAGIC) return 'IDX images';
  if (magic === IDX_LABELS_MAGIC) return 'IDX labels';
  if (magic >>> 16 === 0) return `IDX type 0x${((magic >>> 8) & 0xff).toString(16)} with ${magic & 0xff} dimensions`;
  return 'not an IDX file';
}

/** Total size (header + data) an IDX header declares, or null when `head` is too short to tell (or not IDX). */
export function idxDeclaredSize(head: Uint8Array): number | null {
  if (head.length < 4 || head[0] !== 0 || head[1] !== 0) return null;
  const ndims = head[3], headerBytes = 4 + 4 * ndims;
  if (head.length < headerBytes) return null;
  let elements = 1;
  for (let d = 0; d < ndims; d++) elements *= readU32BE(head, 4 + 4 * d);
  return headerBytes + elements;
}

/** Parses IDX bytes whose magic must be `expectedMagic`; `file` names the source in errors. */
export function parseIdx(file: FileBytes, expectedMagic: number): IdxArray {
  const { path, bytes } = file;
  const expectedKind = magicMeaning(expectedMagic);
  check(bytes.length >= 4, () => `${path}: truncated: expected at least 4 header bytes, got ${describeSize(file)}`);
  const magic = readU32BE(bytes, 0);
  check(magic === expectedMagic,
    () => `${path}: bad magic ${hex32(magic)} (${magicMeaning(magic)}), expected ${hex32(expectedMagic)} (${expectedKind})`);
  const ndims = magic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  check(bytes.length >= headerBytes, () => `${path}: truncated: expected at least ${headerBytes} header bytes, got ${describeSize(file)}`);
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(readU32BE(bytes, 4 + 4 * d));
  const elements = dims.reduce((a, b) => a * b, 1);
  const expected = headerBytes + elements;
  check(bytes.length >= expected,
    () => `${path}: truncated: header says [${dims.join(', ')}], so expected ${expected} bytes, got ${describeSize(file)}`);
  // Trailing bytes are not valid IDX either: they usually mean two files were concatenated or the header is wrong.
  check(bytes.length === expected,
    () => `${path}: header says [${dims.join(', ')}], so expected ${expected} bytes, got ${describeSize(file)} (trailing data)`);
  return { dims, data: bytes.subarray(headerBytes, expected) };
}

/** Images of an IDX file, pixels scaled to [0, 1], as [n, 1, h, w]. */
export function readIdxImages(path: string): { n: number; height: number; width: number; images: Float32Array } {
  const { dims, data } = parseIdx(readMaybeGzip(path, idxDeclaredSize), IDX_IMAGES_MAGIC);
  const [n, height, width] = dims;
  check(height > 0 && width > 0, () => `${path}: image size ${height}×${width} is empty`);
  const images = new Float32Array(data.length);
  bytesToUnit(data, images);
  return { n, height, width, images };
}

/** Labels of an IDX file, checked to lie in [0, classes). */
export function readIdxLabels(path: string, classes: number): Int32Array {
  const { data } = parseIdx(readMaybeGzip(path, idxDeclaredSize), IDX_LABELS_MAGIC);
  const labels = Int32Array.from(data);
  const bad = firstLabelOutOfRange(labels, classes);
  check(bad < 0, () => `${path}: label ${labels[bad]} at index ${bad} is outside [0, ${classes})`);
  return labels;
}

/** File names tried for one IDX part, in order: the canonical name, gzipped, and the dotted variant some mirrors use. */
function candidates(prefix: 'train' | 't10k', kind: 'images' | 'labels'): string[] {
  const base = kind === 'images' ? `${prefix}-images-idx3-ubyte` : `${prefix}-labels-idx1-ubyte`;
  const dotted = kind === 'images' ? `${prefix}-images.idx3-ubyte` : `${prefix}-labels.idx1-ubyte`;
  return [base, `${base}.gz`, dotted, `${dotted}.gz`];
}

export interface IdxDatasetOptions {
  /** Number of classes (labels must be below it). Default: classNames.length, else 10. */
  classes?: number;
  classNames?: string[];
}

function loadIdxSplit(dir: string, name: string, prefix: 'train' | 't10k', classes: number, classNames?: string[]): Dataset {
  const what = `${name} ${prefix === 'train' ? 'train' : 'test'}`;
  const imagesPath = findFirst(dir, candidates(prefix, 'images'), `${what} images`);
  const labelsPath = findFirst(dir, candidates(prefix, 'labels'), `${what} labels`);
  const img = readIdxImages(imagesPath);
  check(img.n > 0, () => `${what}: ${imagesPath} holds 0 images`);
  const labels = readIdxLabels(labelsPath, classes);
  check(img.n === labels.length,
    () => `${what}: ${imagesPath} has ${img.n} images but ${labelsPath} has ${labels.length} labels`);
  return makeDataset({
    name: `${name}-${prefix === 'train' ? 'train' : 'test'}`,
    images: img.images, labels, channels: 1, height: img.height, width: img.width, classes,
    ...(classNames ? { classNames } : {}),
  });
}

/**
 * Loads train-{images,labels} and t10k-{images,labels} IDX files (raw or .gz) from `dir`.
 * The resulting data sets are named `${name}-train` and `${name}-test`.
 */
export function loadIdxDataset(dir: string, name: string, opts: IdxDatasetOptions = {}): DatasetSplit {
  checkDirectory(dir, name);
  const classes = opts.classes ?? opts.classNames?.length ?? 10;
  const train = loadIdxSplit(dir, name, 'train', classes, opts.classNames);
  const test = loadIdxSplit(dir, name, 't10k', classes, opts.classNames);
  // A model is built for the train images: test images of another size would fail only after a whole epoch.
  check(train.height === test.height && train.width === test.width,
    () => `${name}: the train images are ${train.height}×${train.width} but the test images are ${test.height}×${test.width} (${dir})`);
  return { train, test };
}

/** Encodes IDX bytes (uncompressed); used by tests and tools to write small fixtures. */
export function encodeIdx(dims: readonly number[], data: Uint8Array): Uint8Array {
  const elements = dims.reduce((a, b) => a * b, 1);
  check(data.length === elements, () => `encodeIdx: ${data.length} bytes for dims [${dims.join(', ')}]`);
  const out = new Uint8Array(4 + 4 * dims.length + elements);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x00000800 | dims.length, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}
