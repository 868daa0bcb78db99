import { Module } from '../module.js';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential } from '../layers.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Rng } from '../../tensor/random.js';
import { check } from '../../tensor/errors.js';
import type { ModelSpec } from './spec.js';

/**
 * LeNet-5 (ReLU and max-pool variant): conv5(6, pad 2) → pool → conv5(16) → pool → 120 → 84 → classes.
 * The first conv pads by 2 so 28×28 digits give the classic 5×5×16 feature map.
 */
export class LeNet5 extends Module {
  private readonly features: Sequential;
  private readonly classifier: Sequential;

  constructor(spec: ModelSpec, rng: Rng) {
    super();
    const afterFirst = Math.floor(spec.inputSize / 2);
    const side = Math.floor((afterFirst - 4) / 2);
    check(side >= 1, () => `lenet: input size ${spec.inputSize} is too small (needs at least 12)`);
    this.features = this.addModule('features', new Sequential(
      new Conv2d(spec.inChannels, 6, 5, rng, { padding: 2, bias: true }), new ReLU(), new MaxPool2d(2),
      new Conv2d(6, 16, 5, rng, { bias: true }), new ReLU(), new MaxPool2d(2),
    ));
    this.classifier = this.addModule('classifier', new Sequential(
      new Flatten(),
      new Linear(16 * side * side, 120, rng), new ReLU(),
      new Linear(120, 84, rng), new ReLU(),
      new Linear(84, spec.classes, rng),
    ));
  }

  forward(x: Tensor): Tensor { return this.classifier.forward(this.features.forward(x)); }
}
