import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { channelStats, classCounts, head, makeDataset, subset } from '../../src/data/dataset.js';
import { syntheticBlobs } from '../../src/data/synthetic.js';

describe('Dataset helpers', () => {
  const ds = makeDataset({ name: 't', images: Float32Array.of(0, 1, 2, 3, 4, 5, 6, 7), labels: Int32Array.of(0, 1), channels: 2, height: 1, width: 2, classes: 2 });

  test('makeDataset validates lengths and labels', () => {
    assert.equal(ds.n, 2);
    assert.throws(() => makeDataset({ ...ds, images: new Float32Array(7) }), /images hold 7 floats, expected 2×2×1×2 = 8/);
    assert.throws(() => makeDataset({ ...ds, labels: Int32Array.of(0, 2) }), /label 2 of sample 1 is outside \[0, 2\)/);
    assert.throws(() => makeDataset({ ...ds, classNames: ['a'] }), /1 class names for 2 classes/);
  });

  test('subset, head, classCounts', () => {
    const s = subset(ds, [1, 1, 0]);
    assert.deepEqual(Array.from(s.labels), [1, 1, 0]);
    assert.deepEqual(Array.from(s.images.subarray(0, 4)), [4, 5, 6, 7]);
    assert.equal(head(ds, 1).n, 1);
    assert.equal(head(ds, 5).n, 2);
    assert.deepEqual(Array.from(classCounts(s)), [1, 2]);
    assert.throws(() => subset(ds, [2]), /index 2 is outside/);
  });

  test('channelStats per channel', () => {
    const st = channelStats(ds);
    // channel 0 holds 0, 1, 4, 5; channel 1 holds 2, 3, 6, 7.
    assert.deepEqual(st.mean, [2.5, 4.5]);
    assert.ok(Math.abs(st.std[0] - Math.sqrt(4.25)) < 1e-12);
    const flat = makeDataset({ ...ds, images: new Float32Array(8).fill(0.5) });
    assert.deepEqual(channelStats(flat).std, [1, 1]);
  });
});

describe('synthetic blobs', () => {
  test('deterministic per seed, balanced, in range', () => {
    const a = syntheticBlobs({ seed: 3, trainSize: 40, testSize: 12, channels: 3, classes: 5, size: 6 });
    const b = syntheticBlobs({ seed: 3, trainSize: 40, testSize: 12, channels: 3, classes: 5, size: 6 });
    const c = syntheticBlobs({ seed: 4, trainSize: 40, testSize: 12, channels: 3, classes: 5, size: 6 });
    assert.deepEqual(a.train.images, b.train.images);
    assert.notDeepEqual(a.train.images, c.train.images);
    assert.notDeepEqual(a.train.images.subarray(0, 108), a.test.images.subarray(0, 108));
    assert.deepEqual([a.train.n, a.test.n, a.train.channels, a.train.height, a.train.classes], [40, 12, 3, 6, 5]);
    assert.deepEqual(Array.from(classCounts(a.train)), [8, 8, 8, 8, 8]);
    for (const v of a.train.images) assert.ok(v >= 0 && v <= 1);
  });

  test('learnable: nearest class centroid classifies the test split well', () => {
    const { train, test: tst } = syntheticBlobs({ seed: 1 });
    const P = train.channels * train.height * train.width;
    const cent = Array.from({ length: train.classes }, () => new Float64Array(P));
    const counts = classCounts(train);
    for (let i = 0; i < train.n; i++) for (let p = 0; p < P; p++) cent[train.labels[i]][p] += train.images[i * P + p] / counts[train.labels[i]];
    let correct = 0;
    for (let i = 0; i < tst.n; i++) {
      let best = 0;
      let bestD = Infinity;
      cent.forEach((m, c) => {
        let d = 0;
        for (let p = 0; p < P; p++) d += (tst.images[i * P + p] - m[p]) ** 2;
        if (d < bestD) { bestD = d; best = c; }
      });
      if (best === tst.labels[i]) correct++;
    }
    assert.ok(correct / tst.n > 0.9, `accuracy ${correct / tst.n}`);
  });

  test('bad options are rejected', () => {
    assert.throws(() => syntheticBlobs({ classes: 0 }), /classes must be a positive integer/);
    assert.throws(() => syntheticBlobs({ noise: -1 }), /non-negative/);
  });
});
