/**
 * Training smoke tests (DESIGN.md "Testing ladder", step 6): small synthetic problems, seconds.
 * Two Gaussian blobs as 1×8×8 images (class c has mean ±0.5·pattern, noise σ = 1): an MLP trained with
 * plain SGD, and a tiny ResNet (BN, residuals) trained with momentum SGD, must drive the loss down
 * substantially, classify the training set, and give bit-identical loss curves for the same seed.
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MLP } from '../../src/nn/models/mlp.js';
import { ResNet } from '../../src/nn/models/resnet.js';
import type { Module } from '../../src/nn/module.js';
import { SGD, type SgdOptions } from '../../src/optim/sgd.js';
import { grad } from '../../src/autograd/graph.js';
import { noGrad } from '../../src/autograd/mode.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

const SIDE = 8, PIXELS = SIDE * SIDE;

/** n images per class; returns images [2n, 1, 8, 8] and labels, interleaved. */
function blobs(n: number, seed: number): { x: Tensor; y: Int32Array } {
  const noise = new Float32Array(2 * n * PIXELS);
  new Rng(seed).fillNormal(noise);
  const pattern = new Float32Array(PIXELS);
  new Rng(seed + 1000).fillNormal(pattern);
  const x = new Float32Array(2 * n * PIXELS), y = new Int32Array(2 * n);
  for (let i = 0; i < 2 * n; i++) {
    y[i] = i % 2;
    const sign = y[i] === 0 ? 0.5 : -0.5;
    for (let p = 0; p < PIXELS; p++) x[i * PIXELS + p] = sign * pattern[p] + noise[i * PIXELS + p];
  }
  return { x: new Tensor(x, [2 * n, 1, SIDE, SIDE]), y };
}

function batch(data: { x: Tensor; y: Int32Array }, idx: Int32Array): { x: Tensor; y: Int32Array } {
  const x = new Float32Array(idx.length * PIXELS), y = new Int32Array(idx.length);
  idx.forEach((src, i) => {
    x.set(data.x.data.subarray(src * PIXELS, (src + 1) * PIXELS), i * PIXELS);
    y[i] = data.y[src];
  });
  return { x: new Tensor(x, [idx.length, 1, SIDE, SIDE]), y };
}

/** Minibatch SGD for `steps` steps; returns the per-step losses and the final training accuracy. */
function train(model: Module, seed: number, steps: number, batchSize: number, opts: SgdOptions): { losses: number[]; accuracy: number; fullLoss: [number, number] } {
  const data = blobs(32, 11);
  const opt = new SGD(model.namedParameters(), opts);
  const rng = new Rng(seed);
  const evalLoss = (): number => { model.eval(); const l = noGrad(() => crossEntropy(model.forward(data.x), data.y).item()); model.train(); return l; };
  const before = evalLoss();
  const losses: number[] = [];
  let perm = rng.permutation(data.y.length), at = 0;
  for (let s = 0; s < steps; s++) {
    if (at + batchSize > perm.length) { perm = rng.permutation(data.y.length); at = 0; }
    const b = batch(data, perm.subarray(at, at + batchSize));
    at += batchSize;
    const loss = crossEntropy(model.forward(b.x), b.y);
    losses.push(loss.item());
    opt.step(grad(loss));
  }
  model.eval();
  const logits = noGrad(() => model.forward(data.x));
  let correct = 0;
  for (let i = 0; i < data.y.length; i++) {
    const l0 = logits.data[2 * i], l1 = logits.data[2 * i + 1];
    if ((l1 > l0 ? 1 : 0) === data.y[i]) correct++;
  }
  const result = { losses, accuracy: correct / data.y.length, fullLoss: [before, evalLoss()] as [number, number] };
  if (process.env.FQT_TEST_VERBOSE) process.stderr.write(`train-smoke: loss ${before.toFixed(4)} → ${result.fullLoss[1].toFixed(4)}, accuracy ${result.accuracy}\n`);
  return result;
}

const spec = { inChannels: 1, inputSize: SIDE, classes: 2 };

describe('training smoke tests', () => {
  it('MLP, 60 plain SGD steps: loss falls by > 10×, the training set is learned, same seed ⇒ same curve', () => {
    const run = (): ReturnType<typeof train> => train(new MLP(spec, new Rng(3), [16]), 5, 60, 16, { lr: 0.05 });
    const a = run();
    const [before, after] = a.fullLoss;
    assert.ok(before > 0.5, `initial loss ${before}`);
    assert.ok(after < before / 10, `full-batch loss ${before} → ${after}`);
    assert.ok(a.accuracy >= 0.95, `training accuracy ${a.accuracy}`);
    assert.deepEqual(run().losses, a.losses, 'same seed gave a different loss curve');
    const other = train(new MLP(spec, new Rng(4), [16]), 5, 60, 16, { lr: 0.05 });
    assert.notDeepEqual(other.losses, a.losses, 'a different init seed gave the same curve');
  });

  it('tiny ResNet with BN, 30 momentum-SGD steps: loss falls by > 5×, deterministic', () => {
    const make = (): ResNet => new ResNet(spec, new Rng(3), { widths: [4, 8], blocks: [1, 1], preActivation: false });
    const opts = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
    const a = train(make(), 6, 30, 16, opts);
    const [before, after] = a.fullLoss;
    assert.ok(after < before / 5, `full-batch loss ${before} → ${after}`);
    assert.ok(a.accuracy >= 0.9, `training accuracy ${a.accuracy}`);
    assert.deepEqual(train(make(), 6, 30, 16, opts).losses, a.losses, 'same seed gave a different loss curve');
  });
});
