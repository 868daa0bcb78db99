/**
 * CIFAR-style ResNets (He et al. 2016): ResNet-20/32/56 (3 stages, 16/32/64 channels, depth 6n+2),
 * their pre-activation variants, and ResNet-18 (4 stages of 2 basic blocks, 64…512 channels, 3×3 stem).
 * Shortcuts that change shape are 1×1 conv (stride s) + BN. Parameter names follow PyTorch's
 * (conv1, bn1, layer1.0.conv1, layer2.0.shortcut.0, fc) so state dicts interoperate.
 */
import { Module } from '../module.js';
import { BatchNorm, Conv2d, GlobalAvgPool, Identity, Linear, Sequential } from '../layers.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Rng } from '../../tensor/random.js';
import { add, relu } from '../../ops/elementwise.js';
import type { ModelSpec } from './spec.js';

class BasicBlock extends Module {
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly shortcut: Module;

  constructor(inC: number, outC: number, stride: number, rng: Rng) {
    super();
    this.conv1 = this.addModule('conv1', new Conv2d(inC, outC, 3, rng, { stride, padding: 1 }));
    this.bn1 = this.addModule('bn1', new BatchNorm(outC));
    this.conv2 = this.addModule('conv2', new Conv2d(outC, outC, 3, rng, { padding: 1 }));
    this.bn2 = this.addModule('bn2', new BatchNorm(outC));
    this.shortcut = this.addModule('shortcut', stride !== 1 || inC !== outC
      ? new Sequential(new Conv2d(inC, outC, 1, rng, { stride }), new BatchNorm(outC))
      : new Identity());
  }

  forward(x: Tensor): Tensor {
    const h = relu(this.bn1.forward(this.conv1.forward(x)));
    const y = this.bn2.forward(this.conv2.forward(h));
    return relu(add(y, this.shortcut.forward(x)));
  }
}

/** Pre-activation block: BN → ReLU → conv → BN → ReLU → conv, plus the (projected) input. */
class PreActBlock extends Module {
  private readonly bn1: BatchNorm;
  private readonly conv1: Conv2d;
  private readonly bn2: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly shortcut: Conv2d | null;

  constructor(inC: number, outC: number, stride: number, rng: Rng) {
    super();
    this.bn1 = this.addModule('bn1', new BatchNorm(inC));
    this.conv1 = this.addModule('conv1', new Conv2d(inC, outC, 3, rng, { stride, padding: 1 }));
    this.bn2 = this.addModule('bn2', new BatchNorm(outC));
    this.conv2 = this.addModule('conv2', new Conv2d(outC, outC, 3, rng, { padding: 1 }));
    this.shortcut = stride !== 1 || inC !== outC ? this.addModule('shortcut', new Conv2d(inC, outC, 1, rng, { stride })) : null;
  }

  forward(x: Tensor): Tensor {
    const a = relu(this.bn1.forward(x));
    const skip = this.shortcut ? this.shortcut.forward(a) : x;
    const h = this.conv1.forward(a);
    return add(this.conv2.forward(relu(this.bn2.forward(h))), skip);
  }
}

export interface ResNetConfig {
  widths: number[];
  blocks: number[];
  preActivation: boolean;
}

export class ResNet extends Module {
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm | null;
  private readonly stages: Sequential[];
  private readonly finalBn: BatchNorm | null;
  private readonly pool = new GlobalAvgPool();
  private readonly fc: Linear;

  constructor(spec: ModelSpec, rng: Rng, readonly config: ResNetConfig) {
    super();
    const Block = config.preActivation ? PreActBlock : BasicBlock;
    this.conv1 = this.addModule('conv1', new Conv2d(spec.inChannels, config.widths[0], 3, rng, { padding: 1 }));
    // Pre-activation nets normalise at the start of each block, so the stem BN is only in the post-activation form.
    this.bn1 = config.preActivation ? null : this.addModule('bn1', new BatchNorm(config.widths[0]));
    let inC = config.widths[0];
    this.stages = config.widths.map((w, s) => {
      const blocks: Module[] = [];
      for (let b = 0; b < config.blocks[s]; b++) {
        blocks.push(new Block(inC, w, b === 0 && s > 0 ? 2 : 1, rng));
        inC = w;
      }
      return this.addModule(`layer${s + 1}`, new Sequential(...blocks));
    });
    this.finalBn = config.preActivation ? this.addModule('bn_final', new BatchNorm(inC)) : null;
    this.fc = this.addModule('fc', new Linear(inC, spec.classes, rng));
  }

  forward(x: Tensor): Tensor {
    let h = this.conv1.forward(x);
    if (this.bn1) h = relu(this.bn1.forward(h));
    for (const stage of this.stages) h = stage.forward(h);
    if (this.finalBn) h = relu(this.finalBn.forward(h));
    return this.fc.forward(this.pool.forward(h));
  }
}

export function cifarResNet(depth: number, preActivation: boolean): (spec: ModelSpec, rng: Rng) => ResNet {
  const n = (depth - 2) / 6;
  return (spec, rng) => new ResNet(spec, rng, { widths: [16, 32, 64], blocks: [n, n, n], preActivation });
}

export function resNet18(spec: ModelSpec, rng: Rng): ResNet {
  return new ResNet(spec, rng, { widths: [64, 128, 256, 512], blocks: [2, 2, 2, 2], preActivation: false });
}
