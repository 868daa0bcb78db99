/** A tiny conv → BN → ReLU → conv → BN → ReLU → global pool → linear network for BN diagnostics / rectification tests. */
import { Module } from '../../src/nn/module.js';
import { BatchNorm, Conv2d, Linear } from '../../src/nn/layers.js';
import { relu } from '../../src/ops/elementwise.js';
import { globalAvgPool } from '../../src/ops/pool.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { normals } from '../quant/helpers.js';

export class TinyBnNet extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm;
  readonly fc: Linear;

  constructor(seed = 1, readonly inChannels = 2, width = 4, classes = 3) {
    super();
    const rng = new Rng(seed);
    this.conv1 = this.addModule('conv1', new Conv2d(inChannels, width, 3, rng, { padding: 1 }));
    this.bn1 = this.addModule('bn1', new BatchNorm(width));
    this.conv2 = this.addModule('conv2', new Conv2d(width, width, 3, rng, { padding: 1 }));
    this.bn2 = this.addModule('bn2', new BatchNorm(width));
    this.fc = this.addModule('fc', new Linear(width, classes, rng));
  }

  forward(x: Tensor): Tensor {
    const h = relu(this.bn1.forward(this.conv1.forward(x)));
    return this.fc.forward(globalAvgPool(relu(this.bn2.forward(this.conv2.forward(h)))));
  }
}

export function tinyBatch(seed: number, n = 8, channels = 2, size = 6, classes = 3): { x: Tensor; labels: Int32Array } {
  return {
    x: new Tensor(normals(seed, n * channels * size * size), [n, channels, size, size]),
    labels: Int32Array.from({ length: n }, (_, i) => (i * 7 + seed) % classes),
  };
}
