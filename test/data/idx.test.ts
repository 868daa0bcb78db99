import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { encodeIdx, loadIdxDataset, readIdxImages, readIdxLabels } from '../../src/data/idx.js';
import { FqtError } from '../../src/tensor/errors.js';
import { readCifarBatch } from '../../src/data/cifar.js';

const root = mkdtempSync(join(tmpdir(), 'fqt-idx-'));
after(() => rmSync(root, { recursive: true, force: true }));

let dirCount = 0;
function freshDir(): string {
  const d = join(root, `d${dirCount++}`);
  mkdirSync(d);
  return d;
}

/** Tiny IDX pair: n images of h×w with pixel (i, p) = (7·i + p) mod 256, labels i mod classes. */
function tinyIdx(n: number, h: number, w: number, classes = 10): { images: Uint8Array; labels: Uint8Array } {
  const px = new Uint8Array(n * h * w);
  for (let i = 0; i < px.length; i++) px[i] = (7 * Math.floor(i / (h * w)) + (i % (h * w))) % 256;
  px[0] = 255;
  const lb = Uint8Array.from({ length: n }, (_, i) => i % classes);
  return { images: encodeIdx([n, h, w], px), labels: encodeIdx([n], lb) };
}

function writeSet(dir: string, gz: boolean, train = tinyIdx(5, 3, 4), test = tinyIdx(2, 3, 4)): void {
  const enc = (b: Uint8Array) => (gz ? gzipSync(b) : b);
  const ext = gz ? '.gz' : '';
  writeFileSync(join(dir, `train-images-idx3-ubyte${ext}`), enc(train.images));
  writeFileSync(join(dir, `train-labels-idx1-ubyte${ext}`), enc(train.labels));
  writeFileSync(join(dir, `t10k-images-idx3-ubyte${ext}`), enc(test.images));
  writeFileSync(join(dir, `t10k-labels-idx1-ubyte${ext}`), enc(test.labels));
}

function throwsFqt(fn: () => unknown, ...fragments: (string | RegExp)[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof FqtError, `expected FqtError, got ${String(e)}`);
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(e.message.includes(f), `message "${e.message}" lacks "${f}"`);
      else assert.match(e.message, f);
    }
    return true;
  });
}

describe('IDX reader', () => {
  for (const gz of [false, true]) {
    test(`round trip (${gz ? 'gzip' : 'raw'})`, () => {
      const dir = freshDir();
      writeSet(dir, gz);
      const { train, test: tst } = loadIdxDataset(dir, 'tiny');
      assert.equal(train.name, 'tiny-train');
      assert.equal(tst.name, 'tiny-test');
      assert.deepEqual([train.n, train.channels, train.height, train.width, train.classes], [5, 1, 3, 4, 10]);
      assert.equal(tst.n, 2);
      assert.deepEqual(Array.from(train.labels), [0, 1, 2, 3, 4]);
      assert.equal(train.images[0], 1); // 255 → exactly 1
      assert.equal(train.images[1], Math.fround(1 / 255));
      assert.equal(train.images[12 + 2], Math.fround(9 / 255)); // sample 1, pixel 2 = 7 + 2
      for (const v of train.images) assert.ok(v >= 0 && v <= 1);
    });
  }

  test('gzip is detected by magic bytes, not by file name', () => {
    const dir = freshDir();
    const { images } = tinyIdx(2, 2, 2);
    const p = join(dir, 'imgs');
    writeFileSync(p, gzipSync(images));
    assert.equal(readIdxImages(p).n, 2);
  });

  test('missing file lists every name looked for', () => {
    const dir = freshDir();
    throwsFqt(() => loadIdxDataset(dir, 'tiny'), 'tiny train images', dir, 'train-images-idx3-ubyte', 'train-images-idx3-ubyte.gz');
    throwsFqt(() => loadIdxDataset(join(dir, 'nope'), 'tiny'), 'does not exist');
  });

  test('truncated file names expected and actual size', () => {
    const dir = freshDir();
    const { images } = tinyIdx(5, 3, 4);
    const p = join(dir, 'cut');
    writeFileSync(p, images.subarray(0, images.length - 3));
    throwsFqt(() => readIdxImages(p), p, 'truncated', `expected ${images.length} bytes`, `got ${images.length - 3} bytes`);
    writeFileSync(p, images.subarray(0, 10));
    throwsFqt(() => readIdxImages(p), 'truncated', 'expected at least 16 header bytes', 'got 10 bytes');
    writeFileSync(p, gzipSync(images.subarray(0, images.length - 1)));
    throwsFqt(() => readIdxImages(p), 'after gunzip');
  });

  test('corrupt gzip stream and trailing data are errors', () => {
    const dir = freshDir();
    const { images } = tinyIdx(5, 3, 4);
    const p = join(dir, 'bad.gz');
    const gz = gzipSync(images);
    writeFileSync(p, gz.subarray(0, gz.length - 8));
    throwsFqt(() => readIdxImages(p), p, 'gzip');
    const extra = new Uint8Array(images.length + 2);
    extra.set(images);
    writeFileSync(p, extra);
    throwsFqt(() => readIdxImages(p), 'trailing data');
  });

  test('bad magic says what the file looks like', () => {
    const dir = freshDir();
    const { images, labels } = tinyIdx(3, 2, 2);
    const p = join(dir, 'swapped');
    writeFileSync(p, labels);
    throwsFqt(() => readIdxImages(p), p, 'bad magic 0x00000801', 'IDX labels', 'expected 0x00000803');
    writeFileSync(p, images);
    throwsFqt(() => readIdxLabels(p, 10), 'bad magic 0x00000803');
    writeFileSync(p, Buffer.from('hello world, not idx'));
    throwsFqt(() => readIdxImages(p), 'not an IDX file');
  });

  test('image/label count mismatch and out-of-range labels', () => {
    const dir = freshDir();
    writeSet(dir, false, { images: tinyIdx(5, 3, 4).images, labels: tinyIdx(4, 3, 4).labels });
    throwsFqt(() => loadIdxDataset(dir, 'tiny'), 'has 5 images', 'has 4 labels', 'train-labels-idx1-ubyte');
    const dir2 = freshDir();
    const bad = tinyIdx(5, 3, 4);
    bad.labels = encodeIdx([5], Uint8Array.of(0, 1, 2, 10, 4));
    writeSet(dir2, false, bad);
    throwsFqt(() => loadIdxDataset(dir2, 'tiny'), 'label 10 at index 3', 'outside [0, 10)');
    // A larger class count accepts it.
    assert.equal(loadIdxDataset(dir2, 'tiny', { classes: 11 }).train.classes, 11);
  });
});

describe('resource bounds and consistency (issue 18)', () => {
  test('a gzip bomb is never decompressed past the size its header declares', () => {
    const header = encodeIdx([10, 28, 28], new Uint8Array(7840));
    const body = Buffer.alloc(64 << 20); // 64 MiB of zeros after a header that declares 7,856 bytes
    const bomb = gzipSync(Buffer.concat([header, body]), { level: 1 });
    const d = freshDir();
    writeFileSync(join(d, 'honest-trailer'), bomb);
    const before = process.memoryUsage().arrayBuffers;
    throwsFqt(() => readIdxImages(join(d, 'honest-trailer')), 'decompresses to more than the 7856 bytes its header declares');
    // A trailer forged to a small size: zlib stops there.
    const forged = Buffer.from(bomb);
    forged.writeUInt32LE(7856, forged.length - 4);
    writeFileSync(join(d, 'forged'), forged);
    throwsFqt(() => readIdxImages(join(d, 'forged')), 'decompresses to more than the 7856 bytes its header declares');
    // A header declaring 12 GB over a 16-byte stream: read as what it is, a truncated file, without allocating.
    const huge = gzipSync(Buffer.concat([Buffer.from([0, 0, 8, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 28, 0, 0, 0, 28])]));
    writeFileSync(join(d, 'huge'), huge);
    throwsFqt(() => readIdxImages(join(d, 'huge')), 'truncated', 'got 16 bytes after gunzip');
    const trailerLie = Buffer.from(gzipSync(encodeIdx([2, 2], new Uint8Array(4))));
    trailerLie.writeUInt32LE(0xffffffff, trailerLie.length - 4);
    writeFileSync(join(d, 'trailer-lie'), trailerLie);
    throwsFqt(() => readCifarBatch(join(d, 'trailer-lie'), 'cifar10'), /declares 4294967295 bytes of data, more than \d+ bytes of gzip can hold/);
    assert.ok(process.memoryUsage().arrayBuffers - before < 16 << 20, 'no large allocation');
  });

  test('a test split with 0 images is an error naming the file', () => {
    const d = freshDir();
    writeSet(d, false, tinyIdx(5, 3, 4), { images: encodeIdx([0, 3, 4], new Uint8Array(0)), labels: encodeIdx([0], new Uint8Array(0)) });
    throwsFqt(() => loadIdxDataset(d, 'mnist'), 'mnist test', 't10k-images-idx3-ubyte holds 0 images');
  });

  test('train and test images of different sizes fail at load, naming both', () => {
    const d = freshDir();
    writeSet(d, true, tinyIdx(5, 28, 28), tinyIdx(2, 32, 32));
    throwsFqt(() => loadIdxDataset(d, 'mnist'), 'the train images are 28×28 but the test images are 32×32');
  });
});
