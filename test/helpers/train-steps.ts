/**
 * A few SGD training steps of a built-in model under a preset recipe, from fixed seeds, on the active backend:
 * the end-to-end runs that compare backends (or kernel sets) bit for bit.
 */
import { createModel, type ModelName } from '../../src/nn/models/index.js';
import { applyRecipe } from '../../src/quant/apply.js';
import { preset, type PresetName } from '../../src/quant/presets.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { SGD } from '../../src/optim/sgd.js';
import { grad } from '../../src/autograd/graph.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertBitExact } from '../conformance/helpers.js';

export interface StepsSpec {
  model: ModelName;
  /** One input channel of inputSize × inputSize pixels, 10 classes. */
  inputSize: number;
  batch: number;
  steps: number;
  recipe: PresetName;
}

export interface StepsResult {
  /** The loss before each step. */
  losses: Float32Array;
  /** Every parameter after the last step, by name. */
  params: [string, Float32Array][];
}

/** SGD (lr 0.05, momentum 0.9) on one fixed random batch: model seed 3, recipe seed 5. */
export function trainSteps(s: StepsSpec): StepsResult {
  const r = new Rng(3);
  const model = createModel(s.model, { inChannels: 1, inputSize: s.inputSize, classes: 10 }, r);
  applyRecipe(model, preset(s.recipe), { seed: 5, sampleShape: [1, s.inputSize, s.inputSize] });
  const opt = new SGD(model.namedParameters(), { lr: 0.05, momentum: 0.9 });
  const xs = new Float32Array(s.batch * s.inputSize * s.inputSize);
  r.fillNormal(xs);
  const x = new Tensor(xs, [s.batch, 1, s.inputSize, s.inputSize]);
  const labels = Int32Array.from({ length: s.batch }, (_, i) => i % 10);
  const losses = new Float32Array(s.steps);
  for (let step = 0; step < s.steps; step++) {
    const loss = crossEntropy(model.forward(x), labels);
    losses[step] = loss.data[0];
    opt.step(grad(loss));
  }
  return { losses, params: model.namedParameters().map(([name, p]) => [name, p.data]) };
}

/** Losses and every parameter bit for bit; the message names the first differing parameter and element. */
export function assertSameSteps(actual: StepsResult, expected: StepsResult, what: string): void {
  assertBitExact(actual.losses, expected.losses, `${what}: losses`);
  expected.params.forEach(([name, p], i) => assertBitExact(actual.params[i][1], p, `${what}: ${name}`));
}
