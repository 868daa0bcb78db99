/**
 * One full training step of a tiny fqt ResNet against its PyTorch mirror (tools/golden/gen.py builds
 * the same architecture in torch: post-activation BasicBlocks, 1×1 conv + BN shortcut, conv1 3×3 stem
 * + bn1, global average pool, fc). The torch initial weights are loaded by state-dict name; fqt then
 * runs forward (train mode), grad, and SGD (lr 0.1, momentum 0.9, weight decay 5e-4); we compare the
 * loss, logits, every gradient, every updated weight and the BN running statistics. A second step on
 * the same batch checks that the momentum buffer is used (buf = 0.9·buf + g').
 *
 * Tolerances. torch computed in float64 from the same float32 values, so the difference is fqt's
 * float32 rounding propagated through ~8 layers, with batch norm over as few as 32 values per channel.
 * Measured on this fixture: |fqt − torch| ≤ 2.3·10⁻⁷ × (largest |value| of the tensor) for the logits,
 * every gradient, every updated weight and every running statistic, after one and after two steps.
 * We allow atol 5·10⁻⁶ × that scale + rtol 10⁻⁵ (≥ 20× the observation). That is tight enough that
 * dropping the weight decay (lr·wd·w = 5·10⁻⁵·w) or the momentum term fails the state comparison, and
 * any gradient or indexing bug fails by orders of magnitude.
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResNet } from '../../src/nn/models/resnet.js';
import { SGD } from '../../src/optim/sgd.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { grad, type GradStore } from '../../src/autograd/graph.js';
import { Rng } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { assertClose, assertShape } from '../helpers/approx.js';
import { loadFixture, type TensorJson, toTensor } from './fixtures.js';

interface ResnetFixture {
  config: { widths: number[]; blocks: number[]; inChannels: number; inputSize: number; classes: number };
  sgd: { lr: number; momentum: number; weightDecay: number };
  x: TensorJson;
  labels: number[];
  init: Record<string, TensorJson>;
  step1: { loss: number; logits: TensorJson; grads: Record<string, TensorJson>; state: Record<string, TensorJson> };
  step2: { loss: number; logits: TensorJson; state: Record<string, TensorJson> };
}

function scaledTol(expected: readonly number[]): { atol: number; rtol: number } {
  let m = 0;
  for (const v of expected) m = Math.max(m, Math.abs(v));
  return { atol: 5e-6 * m, rtol: 1e-5 };
}

function compare(actual: Tensor | Float32Array | undefined, expected: TensorJson, what: string): void {
  assert.ok(actual, `${what}: missing`);
  if (!(actual instanceof Float32Array)) assertShape(actual, expected.shape, what);
  assertClose(actual instanceof Float32Array ? actual : actual.data, expected.data, scaledTol(expected.data), what);
}

describe('golden: tiny ResNet, forward + grad + two SGD steps vs PyTorch', () => {
  const fx = loadFixture<ResnetFixture>('resnet_sgd.json');
  const { widths, blocks, inChannels, inputSize, classes } = fx.config;
  const model = new ResNet({ inChannels, inputSize, classes }, new Rng(0), { widths, blocks, preActivation: false });
  const x = toTensor(fx.x);
  const labels = Int32Array.from(fx.labels);

  it('the torch state dict loads strictly into fqt (same names and shapes)', () => {
    const names = [...model.stateDict().keys()].sort();
    assert.deepEqual(names, Object.keys(fx.init).sort());
    model.loadStateDict(new Map(Object.entries(fx.init).map(([k, v]) => [k, toTensor(v)])));
    for (const [name, t] of model.stateDict()) assert.deepEqual(Array.from(t.data), fx.init[name].data.map(Math.fround), name);
  });

  const opt = new SGD(model.namedParameters(), { lr: fx.sgd.lr, momentum: fx.sgd.momentum, weightDecay: fx.sgd.weightDecay });
  let grads: GradStore;

  it('step 1: loss, logits and every parameter gradient', () => {
    model.train();
    const logits = model.forward(x);
    compare(logits, fx.step1.logits, 'logits');
    const loss = crossEntropy(logits, labels);
    assertClose([loss.item()], [fx.step1.loss], { rtol: 1e-5 }, 'loss');
    grads = grad(loss);
    const params = model.namedParameters();
    assert.equal(params.length, Object.keys(fx.step1.grads).length);
    for (const [name, p] of params) compare(grads.get(p), fx.step1.grads[name], `grad ${name}`);
  });

  it('step 1: SGD update of every weight, and the BN running statistics', () => {
    const before = new Map(model.namedParameters().map(([n, p]) => [n, new Float32Array(p.data)]));
    opt.step(grads);
    for (const [name, t] of model.stateDict()) compare(t.data, fx.step1.state[name], `after step 1: ${name}`);
    // Weight decay and lr exactly as PyTorch: w1 = w0 − lr·(g + wd·w0) on the first step (buf = g').
    const fcW = model.namedParameters().find(([n]) => n === 'fc.weight')![1];
    const g = grads.get(fcW)!.data, w0 = before.get('fc.weight')!;
    const expected = Array.from(w0, (w, i) => w - fx.sgd.lr * (g[i] + fx.sgd.weightDecay * w));
    assertClose(fcW.data, expected, { rtol: 1e-6, atol: 1e-8 }, 'fc.weight update formula');
  });

  it('step 2: forward with the updated weights and an update that uses the momentum buffer', () => {
    const logits = model.forward(x);
    compare(logits, fx.step2.logits, 'logits 2');
    const loss = crossEntropy(logits, labels);
    assertClose([loss.item()], [fx.step2.loss], { rtol: 1e-5 }, 'loss 2');
    opt.step(grad(loss));
    for (const [name, t] of model.stateDict()) compare(t.data, fx.step2.state[name], `after step 2: ${name}`);
  });
});
