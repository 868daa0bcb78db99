import { Module } from '../module.js';
import { Flatten, Linear, ReLU, Sequential } from '../layers.js';
import type { Tensor } from '../../tensor/tensor.js';
import type { Rng } from '../../tensor/random.js';
import type { ModelSpec } from './spec.js';

/** Multi-layer perceptron: flatten → (Linear → ReLU)* → Linear. */
export class MLP extends Module {
  private readonly body: Sequential;

  constructor(spec: ModelSpec, rng: Rng, hidden: number[] = [256, 128]) {
    super();
    const layers: Module[] = [new Flatten()];
    let width = spec.inChannels * spec.inputSize * spec.inputSize;
    for (const h of hidden) {
      layers.push(new Linear(width, h, rng), new ReLU());
      width = h;
    }
    layers.push(new Linear(width, spec.classes, rng));
    this.body = this.addModule('layers', new Sequential(...layers));
  }

  forward(x: Tensor): Tensor { return this.body.forward(x); }
}
