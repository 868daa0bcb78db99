/**
 * CIFAR-style ResNets (He et al. 2016): ResNet-20/32/56 (3 stages, 16/32/64 channels, depth 6n+2),
 * their pre-activation variants, and ResNet-18 (4 stages of 2 basic blocks, 64…512 channels, 3×3 stem).
 * Shortcuts that change shape are 1×1 conv (stride s) + BN. Parameter names follow PyTorch's
 * (conv1, bn1, layer1.0.conv1, layer2.0.shortcut.0, fc) so state dicts interoperate.
 * 'preact-resnet18' is the 1-bit FQT paper's ResNet-18 (METHODS §3.2): pre-activation blocks
 * BN → conv → PReLU → BN → conv → PReLU + residual, downsample AvgPool(2) → 1×1 conv → BN (binary recipes keep
 * that conv fp32 through '@conv1x1'), stem conv → BN → PReLU, and BN → PReLU before pooling (the block outputs
 * are integer-valued sums of ±1 products scaled by a_c; the final BN keeps the head's logits in range). PReLU keeps the sign of its input, so sign()
 * of the next layer sees both signs (ReLU outputs would all binarize to +1).
 */
import { Module } from '../module.js';
import { AvgPool2d, BatchNorm, Conv2d, GlobalAvgPool, Identity, Linear, PReLU, Sequential } from '../layers.js';
import { convOutSize } from '../../ops/conv.js';
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

/** The paper's binary-friendly pre-activation block (METHODS §3.2); `size` is the input side length. */
class PReLUPreActBlock extends Module {
  private readonly bn1: BatchNorm;
  private readonly conv1: Conv2d;
  private readonly act1: PReLU;
  private readonly bn2: BatchNorm;
  private readonly conv2: Conv2d;
  private readonly act2: PReLU;
  private readonly shortcut: Module;

  constructor(inC: number, outC: number, stride: number, rng: Rng, size: number) {
    super();
    this.bn1 = this.addModule('bn1', new BatchNorm(inC));
    this.conv1 = this.addModule('conv1', new Conv2d(inC, outC, 3, rng, { stride, padding: 1 }));
    this.act1 = this.addModule('act1', new PReLU(outC));
    this.bn2 = this.addModule('bn2', new BatchNorm(outC));
    this.conv2 = this.addModule('conv2', new Conv2d(outC, outC, 3, rng, { padding: 1 }));
    this.act2 = this.addModule('act2', new PReLU(outC));
    // AvgPool(2) padded on odd sizes so its output matches the strided 3×3 conv's (count_include_pad).
    this.shortcut = this.addModule('shortcut', stride !== 1 || inC !== outC
      ? new Sequential(stride !== 1 ? new AvgPool2d(stride, stride, size % 2) : new Identity(), new Conv2d(inC, outC, 1, rng), new BatchNorm(outC))
      : new Identity());
  }

  forward(x: Tensor): Tensor {
    const h = this.act1.forward(this.conv1.forward(this.bn1.forward(x)));
    const y = this.act2.forward(this.conv2.forward(this.bn2.forward(h)));
    return add(y, this.shortcut.forward(x));
  }
}

export interface ResNetConfig {
  widths: number[];
  blocks: number[];
  preActivation: boolean;
  /** The 1-bit FQT paper's PReLU pre-activation blocks (implies a BN → PReLU stem and BN → PReLU before pooling). */
  prelu?: boolean;
}

export class ResNet extends Module {
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm | null;
  private readonly act1: PReLU | null;
  private readonly stages: Sequential[];
  private readonly finalBn: BatchNorm | null;
  private readonly finalAct: PReLU | null;
  private readonly pool = new GlobalAvgPool();
  private readonly fc: Linear;

  constructor(spec: ModelSpec, rng: Rng, readonly config: ResNetConfig) {
    super();
    const Block = config.preActivation ? PreActBlock : BasicBlock;
    this.conv1 = this.addModule('conv1', new Conv2d(spec.inChannels, config.widths[0], 3, rng, { padding: 1 }));
    // Pre-activation nets normalise at the start of each block, so the stem BN is only in the post-activation form.
    const prelu = config.prelu === true;
    this.bn1 = config.preActivation && !prelu ? null : this.addModule('bn1', new BatchNorm(config.widths[0]));
    this.act1 = prelu ? this.addModule('act1', new PReLU(config.widths[0])) : null;
    let inC = config.widths[0], size = spec.inputSize;
    this.stages = config.widths.map((w, s) => {
      const blocks: Module[] = [];
      for (let b = 0; b < config.blocks[s]; b++) {
        const stride = b === 0 && s > 0 ? 2 : 1;
        blocks.push(prelu ? new PReLUPreActBlock(inC, w, stride, rng, size) : new Block(inC, w, stride, rng));
        size = convOutSize(size, 3, stride, 1);
        inC = w;
      }
      return this.addModule(`layer${s + 1}`, new Sequential(...blocks));
    });
    this.finalBn = config.preActivation ? this.addModule('bn_final', new BatchNorm(inC)) : null;
    this.finalAct = prelu ? this.addModule('act_final', new PReLU(inC)) : null;
    this.fc = this.addModule('fc', new Linear(inC, spec.classes, rng));
  }

  forward(x: Tensor): Tensor {
    let h = this.conv1.forward(x);
    if (this.bn1) h = this.act1 ? this.act1.forward(this.bn1.forward(h)) : relu(this.bn1.forward(h));
    for (const stage of this.stages) h = stage.forward(h);
    if (this.finalBn) h = this.finalAct ? this.finalAct.forward(this.finalBn.forward(h)) : relu(this.finalBn.forward(h));
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

/** The 1-bit FQT paper's ResNet-18 (PReLU pre-activation blocks); `base` = first-stage width (64 in the paper). */
export function preactPReLUResNet18(base = 64): (spec: ModelSpec, rng: Rng) => ResNet {
  return (spec, rng) => new ResNet(spec, rng, { widths: [base, 2 * base, 4 * base, 8 * base], blocks: [2, 2, 2, 2], preActivation: true, prelu: true });
}
