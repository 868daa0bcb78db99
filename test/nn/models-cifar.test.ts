/** Every registered model at CIFAR-100 geometry: 3 channels, 32×32, 100 classes; and the headline sizes. */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../../src/nn/models/index.js';
import { Rng } from '../../src/tensor/random.js';
import { modelSuite } from './model-suite.js';

modelSuite({ inChannels: 3, inputSize: 32, classes: 100 });

describe('headline parameter counts for CIFAR-10', () => {
  it('ResNet-20 ≈ 0.27 M and ResNet-18 ≈ 11.2 M (exactly their PyTorch mirrors)', () => {
    const spec = { inChannels: 3, inputSize: 32, classes: 10 };
    const r20 = createModel('resnet20', spec, new Rng(1)).parameterCount();
    const r18 = createModel('resnet18', spec, new Rng(1)).parameterCount();
    assert.equal(r20, 272474); // 1×1-conv+BN shortcuts (option B); 0.27 M
    assert.equal(r18, 11173962);
    assert.ok(Math.abs(r20 / 1e6 - 0.27) < 0.01 && Math.abs(r18 / 1e6 - 11.2) < 0.05);
  });
});
