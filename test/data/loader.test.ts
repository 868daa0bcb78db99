import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeDataset, type Dataset } from '../../src/data/dataset.js';
import { countBatches, DataLoader } from '../../src/data/loader.js';
import { FqtError } from '../../src/tensor/errors.js';

/** n samples of [c, h, w]; pixel value encodes (sample, channel, y, x) so moves are traceable. */
function coded(n: number, c = 2, h = 4, w = 5): Dataset {
  const images = new Float32Array(n * c * h * w);
  for (let i = 0; i < images.length; i++) images[i] = 1 + (i % (c * h * w)) + 1000 * Math.floor(i / (c * h * w));
  return makeDataset({ name: 'coded', images, labels: Int32Array.from({ length: n }, (_, i) => i % 3), channels: c, height: h, width: w, classes: 3 });
}

function collect(loader: DataLoader, epoch: number) {
  return [...loader.epochBatches(epoch)].map((b) => ({ idx: Array.from(b.indices), x: Array.from(b.x.data), labels: Array.from(b.labels) }));
}

describe('DataLoader', () => {
  const ds = coded(10);

  test('batch count, partial last batch kept or dropped', () => {
    const keep = new DataLoader(ds, { batchSize: 4 });
    assert.equal(keep.batchesPerEpoch, 3);
    const sizes = [...keep.epochBatches(0)].map((b) => b.x.shape[0]);
    assert.deepEqual(sizes, [4, 4, 2]);
    const drop = new DataLoader(ds, { batchSize: 4, dropLast: true });
    assert.equal(drop.batchesPerEpoch, 2);
    assert.deepEqual([...drop.epochBatches(0)].map((b) => b.x.shape[0]), [4, 4]);
    assert.equal(countBatches(8, 4, false), 2);
    assert.equal(countBatches(0, 4, false), 0);
  });

  test('each epoch is a permutation; shapes, labels and pixels follow the indices', () => {
    const loader = new DataLoader(ds, { batchSize: 3 });
    const batches = [...loader.epochBatches(2)];
    const all = batches.flatMap((b) => Array.from(b.indices));
    assert.deepEqual([...all].sort((a, b) => a - b), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.notDeepEqual(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const b = batches[0];
    assert.deepEqual(b.x.shape, [3, 2, 4, 5]);
    for (let i = 0; i < 3; i++) {
      assert.equal(b.labels[i], b.indices[i] % 3);
      assert.equal(b.x.data[i * 40], 1 + 1000 * b.indices[i]);
    }
  });

  test('no shuffle yields the data set in order', () => {
    const loader = new DataLoader(ds, { batchSize: 4, shuffle: false });
    assert.deepEqual(Array.from(loader.batch(5, 1).indices), [4, 5, 6, 7]);
  });

  test('same seed ⇒ same batches; different seed ⇒ different order', () => {
    const a = collect(new DataLoader(ds, { batchSize: 4, seed: 7, augment: { cropPadding: 1, hflip: true } }), 3);
    const b = collect(new DataLoader(ds, { batchSize: 4, seed: 7, augment: { cropPadding: 1, hflip: true } }), 3);
    assert.deepEqual(a, b);
    const c = collect(new DataLoader(ds, { batchSize: 4, seed: 8 }), 3);
    assert.notDeepEqual(a.map((x) => x.idx), c.map((x) => x.idx));
  });

  test('epoch order depends only on (seed, epoch), not on history', () => {
    const fresh = new DataLoader(ds, { batchSize: 4, seed: 1 });
    const direct = Array.from(fresh.order(5));
    const used = new DataLoader(ds, { batchSize: 4, seed: 1 });
    for (let e = 0; e < 5; e++) collect(used, e);
    assert.deepEqual(Array.from(used.order(5)), direct);
    assert.notDeepEqual(Array.from(used.order(4)), direct);
    // Resuming mid-epoch reproduces the remaining batches.
    const full = collect(fresh, 5);
    const resumed = [...used.epochBatches(5, 1)].map((b) => Array.from(b.indices));
    assert.deepEqual(resumed, full.slice(1).map((x) => x.idx));
  });

  test('augmentation: shapes kept; crop is a shifted copy with zero fill; flip mirrors', () => {
    const one = coded(1, 1, 4, 4);
    const src = Array.from(one.images);
    let sawShift = false;
    let sawFlip = false;
    for (let seed = 0; seed < 40; seed++) {
      const loader = new DataLoader(one, { batchSize: 1, seed, augment: { cropPadding: 2, hflip: true } });
      const x = loader.batch(0, 0).x;
      assert.deepEqual(x.shape, [1, 1, 4, 4]);
      // Find (dy, dx, flip) explaining the output: every pixel either zero (outside) or the source pixel.
      let explained = false;
      for (let dy = -2; dy <= 2 && !explained; dy++) {
        for (let dx = -2; dx <= 2 && !explained; dx++) {
          for (const flip of [false, true]) {
            let ok = true;
            for (let y = 0; y < 4 && ok; y++) {
              for (let xx = 0; xx < 4 && ok; xx++) {
                const sy = y + dy;
                const sx = (flip ? 3 - xx : xx) + dx;
                const want = sy >= 0 && sy < 4 && sx >= 0 && sx < 4 ? src[sy * 4 + sx] : 0;
                ok = x.data[y * 4 + xx] === want;
              }
            }
            if (ok) {
              explained = true;
              if (dy !== 0 || dx !== 0) sawShift = true;
              if (flip) sawFlip = true;
              break;
            }
          }
        }
      }
      assert.ok(explained, `seed ${seed}: output is not a crop/flip of the input`);
    }
    assert.ok(sawShift && sawFlip);
  });

  test('augmentation of a sample does not depend on batch size or position', () => {
    const aug = { cropPadding: 1, hflip: true };
    const small = new DataLoader(ds, { batchSize: 2, seed: 3, augment: aug });
    const big = new DataLoader(ds, { batchSize: 5, seed: 3, augment: aug });
    const per = 40;
    const bySample = (l: DataLoader) => {
      const m = new Map<number, number[]>();
      for (const b of l.epochBatches(1)) b.indices.forEach((s, i) => m.set(s, Array.from(b.x.data.subarray(i * per, (i + 1) * per))));
      return m;
    };
    assert.deepEqual(bySample(small), bySample(big));
    // …but changes with the epoch.
    assert.notDeepEqual(Array.from(small.gather(1, Int32Array.of(0, 1, 2, 3)).x.data), Array.from(small.gather(2, Int32Array.of(0, 1, 2, 3)).x.data));
  });

  test('normalisation: given constants and computed statistics', () => {
    const given = new DataLoader(ds, { batchSize: 10, shuffle: false, normalization: { mean: [1, 2], std: [2, 4] } });
    const x = given.batch(0, 0).x.data;
    assert.equal(x[0], (ds.images[0] - 1) / 2);
    assert.equal(x[20], Math.fround((ds.images[20] - 2) / 4));
    const computed = new DataLoader(ds, { batchSize: 10, shuffle: false, normalization: 'compute' });
    const y = computed.batch(0, 0).x.data;
    for (let c = 0; c < 2; c++) {
      let s = 0;
      let s2 = 0;
      for (let i = 0; i < 10; i++) for (let p = 0; p < 20; p++) { const v = y[i * 40 + c * 20 + p]; s += v; s2 += v * v; }
      assert.ok(Math.abs(s / 200) < 1e-5, `channel ${c} mean ${s / 200}`);
      assert.ok(Math.abs(s2 / 200 - 1) < 1e-4, `channel ${c} var ${s2 / 200}`);
    }
  });

  test('bad options are FqtErrors naming the problem', () => {
    assert.throws(() => new DataLoader(ds, { batchSize: 0 }), (e: unknown) => e instanceof FqtError && /batchSize/.test(e.message));
    assert.throws(() => new DataLoader(ds, { batchSize: 2, normalization: { mean: [0], std: [1] } }), /2 channels/);
    assert.throws(() => new DataLoader(ds, { batchSize: 2, normalization: { mean: [0, 0], std: [1, 0] } }), /std\[1\]/);
    assert.throws(() => new DataLoader(ds, { batchSize: 2 }).batch(0, 5), /outside \[0, 5\)/);
    assert.throws(() => new DataLoader(ds, { batchSize: 2 }).order(-1), /epoch/);
  });
});
