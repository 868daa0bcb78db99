/**
 * VGG-11/16 with batch norm, sized for small inputs: 3×3 convs, 2×2 max-pools (skipped once the map is
 * 1×1, so 28×28 inputs work), global average pool and one linear classifier (the CIFAR variant).
 * act 'prelu' (model 'vgg16-prelu'): per-channel PReLU instead of ReLU, for binary recipes (METHODS §3.2: sign()
 * of a ReLU output is always +1, PReLU keeps the sign).
 */
import { Module } from '../module.js';
import { BatchNorm, Conv2d, Flatten, GlobalAvgPool, Linear, MaxPool2d, PReLU, ReLU, Sequential } from '../layers.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Rng } from '../../tensor/random.js';
import type { ModelSpec } from './spec.js';

const CONFIGS: Record<'vgg11' | 'vgg16', (number | 'M')[]> = {
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
};

export class VGG extends Module {
  private readonly features: Sequential;
  private readonly classifier: Sequential;

  constructor(spec: ModelSpec, rng: Rng, variant: 'vgg11' | 'vgg16', act: 'relu' | 'prelu' = 'relu') {
    super();
    const layers: Module[] = [];
    let c = spec.inChannels, size = spec.inputSize;
    for (const v of CONFIGS[variant]) {
      if (v === 'M') {
        if (size >= 2) {
          layers.push(new MaxPool2d(2));
          size = Math.floor(size / 2);
        }
      } else {
        layers.push(new Conv2d(c, v, 3, rng, { padding: 1 }), new BatchNorm(v), act === 'prelu' ? new PReLU(v) : new ReLU());
        c = v;
      }
    }
    this.features = this.addModule('features', new Sequential(...layers));
    this.classifier = this.addModule('classifier', new Sequential(new GlobalAvgPool(), new Flatten(), new Linear(c, spec.classes, rng)));
  }

  forward(x: Tensor): Tensor { return this.classifier.forward(this.features.forward(x)); }
}
