import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CIFAR_PIXELS, cifarRecordBytes, loadCifarDataset, readCifarBatch, type CifarVariant } from '../../src/data/cifar.js';
import { FqtError } from '../../src/tensor/errors.js';

const root = mkdtempSync(join(tmpdir(), 'fqt-cifar-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
function freshDir(): string {
  const d = join(root, `d${dirCount++}`);
  mkdirSync(d, { recursive: true });
  return d;
}

/** n records; record i has label (fine) `labelOf(i)` and pixel p = (i + p) mod 256. */
function batchBytes(variant: CifarVariant, n: number, labelOf: (i: number) => number): Uint8Array {
  const rec = cifarRecordBytes(variant);
  const out = new Uint8Array(n * rec);
  for (let i = 0; i < n; i++) {
    const off = i * rec;
    if (variant === 'cifar100') {
      out[off] = labelOf(i) % 20;
      out[off + 1] = labelOf(i);
    } else out[off] = labelOf(i);
    const lb = rec - CIFAR_PIXELS;
    for (let p = 0; p < CIFAR_PIXELS; p++) out[off + lb + p] = (i + p) % 256;
  }
  return out;
}

function errorMatching(...fragments: string[]) {
  return (e: unknown) => {
    assert.ok(e instanceof FqtError, String(e));
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  };
}

describe('CIFAR reader', () => {
  test('CIFAR-10 batches: layout, labels, pixel scaling, official sub-directory', () => {
    const dir = freshDir();
    const sub = join(dir, 'cifar-10-batches-bin');
    mkdirSync(sub);
    for (let b = 1; b <= 5; b++) writeFileSync(join(sub, `data_batch_${b}.bin`), batchBytes('cifar10', 2, (i) => (b + i) % 10));
    writeFileSync(join(sub, 'test_batch.bin'), batchBytes('cifar10', 3, (i) => 9 - i));
    const { train, test: tst } = loadCifarDataset(dir, 'cifar10');
    assert.deepEqual([train.n, train.channels, train.height, train.width, train.classes], [10, 3, 32, 32, 10]);
    assert.equal(tst.n, 3);
    assert.deepEqual(Array.from(train.labels), [1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
    assert.deepEqual(Array.from(tst.labels), [9, 8, 7]);
    assert.equal(train.classNames?.[0], 'airplane');
    // Sample 1 of batch 1 (record i = 1): pixel p = (1 + p) mod 256; channel 1 starts at p = 1024.
    assert.equal(train.images[CIFAR_PIXELS + 0], Math.fround(1 / 255));
    assert.equal(train.images[CIFAR_PIXELS + 1024], Math.fround(((1 + 1024) % 256) / 255));
    assert.equal(train.images[255], 1);
  });

  test('CIFAR-100 uses the fine label and reads class names', () => {
    const dir = freshDir();
    writeFileSync(join(dir, 'train.bin'), batchBytes('cifar100', 4, (i) => 95 + i));
    writeFileSync(join(dir, 'test.bin'), batchBytes('cifar100', 2, (i) => 42 + i));
    writeFileSync(join(dir, 'fine_label_names.txt'), Array.from({ length: 100 }, (_, i) => `class${i}`).join('\n') + '\n\n');
    const { train, test: tst } = loadCifarDataset(dir, 'cifar100');
    assert.deepEqual(Array.from(train.labels), [95, 96, 97, 98]);
    assert.deepEqual(Array.from(tst.labels), [42, 43]);
    assert.equal(train.classes, 100);
    assert.equal(train.classNames?.[97], 'class97');
  });

  test('errors: truncated record, bad label, missing file', () => {
    const dir = freshDir();
    const p = join(dir, 'test_batch.bin');
    const good = batchBytes('cifar10', 3, () => 1);
    writeFileSync(p, good.subarray(0, good.length - 5));
    assert.throws(() => readCifarBatch(p, 'cifar10'), errorMatching(p, 'multiple of 3073', '2 whole records + 3068 bytes'));
    writeFileSync(p, batchBytes('cifar10', 3, (i) => (i === 2 ? 10 : 0)));
    assert.throws(() => readCifarBatch(p, 'cifar10'), errorMatching('record 2 has label 10', '[0, 10)'));
    writeFileSync(p, new Uint8Array(0));
    assert.throws(() => readCifarBatch(p, 'cifar10'), errorMatching('empty file'));
    assert.throws(() => loadCifarDataset(dir, 'cifar10'), errorMatching('cifar10 train batch 1', 'data_batch_1.bin'));
    assert.throws(() => loadCifarDataset(dir, 'cifar100'), errorMatching('train.bin', 'data_batch_1.bin'));
  });
});
