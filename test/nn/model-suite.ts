/**
 * Shared checks for every model in the registry at one input spec (used by models-*.test.ts, one file
 * per spec so node --test runs them in parallel). Forward uses batch 2; backward only for the small
 * models (the reference backend is slow on ResNet-18 / VGG).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, modelNames, type ModelSpec } from '../../src/nn/models/index.js';
import { grad } from '../../src/autograd/graph.js';
import { noGrad } from '../../src/autograd/mode.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { Rng } from '../../src/tensor/random.js';
import { assertShape } from '../helpers/approx.js';
import { randn } from '../helpers/tensors.js';
import { loadFixture } from '../golden/fixtures.js';

const VGG: Record<string, (number | 'M')[]> = {
  vgg11: [64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'],
  vgg16: [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
};

/**
 * Parameter counts computed independently of the model code: post-activation ResNets from their torch
 * mirrors (test/golden/param_counts.json, tools/golden/gen.py), the others by formula.
 */
export function expectedParams(name: string, spec: ModelSpec): number {
  const { inChannels: c, inputSize: s, classes: k } = spec;
  const torchCounts = loadFixture<Record<string, number>>('param_counts.json');
  const prelu18 = /^preact-resnet18(-w(\d+))?$/.exec(name);
  if (prelu18) {
    // METHODS §3.2 ResNet-18: stem conv + BN + PReLU; blocks BN, conv, PReLU, BN, conv, PReLU (+ AvgPool, 1×1 conv, BN).
    const b = prelu18[2] ? Number(prelu18[2]) : 64;
    let n = c * b * 9 + 3 * b, cin = b;
    for (const w of [b, 2 * b, 4 * b, 8 * b]) {
      for (let i = 0; i < 2; i++) {
        n += 2 * cin + cin * w * 9 + w + 2 * w + w * w * 9 + w;
        if (cin !== w) n += cin * w + 2 * w;
        cin = w;
      }
    }
    return n + 3 * cin + cin * k + k;
  }
  const resnet = /^(preact-)?resnet(\d+)$/.exec(name);
  if (resnet) {
    const base = torchCounts[`resnet${resnet[2]}/${c}/${k}`];
    assert.ok(base !== undefined, `no torch count for resnet${resnet[2]}/${c}/${k}`);
    if (!resnet[1]) return base;
    // Pre-activation: no stem BN and no BN on the projection shortcuts; the first BN of each later
    // stage sees the previous (narrower) width; one final BN before pooling.
    const widths = [16, 32, 64];
    let n = base - 2 * widths[0] + 2 * widths[2];
    for (let st = 1; st < widths.length; st++) n -= 2 * widths[st] + 2 * (widths[st] - widths[st - 1]);
    return n;
  }
  if (name === 'mlp') return c * s * s * 256 + 256 + 256 * 128 + 128 + 128 * k + k;
  if (name === 'vit-tiny') {
    // patch 4, dim 64, depth 4, MLP 128: patch embedding, position embedding, blocks (2 LN, qkv, proj, fc1, fc2), LN, head.
    const d = 64, h = 128, tokens = (s / 4) ** 2;
    const block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * h + h) + (h * d + d);
    return (c * 16 * d + d) + tokens * d + 4 * block + 2 * d + (d * k + k);
  }
  if (name === 'lenet') {
    const side = Math.floor((Math.floor(s / 2) - 4) / 2);
    return (c * 6 * 25 + 6) + (6 * 16 * 25 + 16) + (16 * side * side * 120 + 120) + (120 * 84 + 84) + (84 * k + k);
  }
  const prelu = name.endsWith('-prelu');
  const cfg = VGG[name.replace(/-prelu$/, '')];
  assert.ok(cfg, `no expected parameter count for model ${name}`);
  let n = 0, cin = c;
  for (const v of cfg) {
    if (v === 'M') continue;
    n += cin * v * 9 + 2 * v + (prelu ? v : 0); // conv without bias + BN affine (+ PReLU slopes)
    cin = v;
  }
  return n + cin * k + k;
}

const SEQUENCE_MODELS = new Set(['gpt-tiny']);

/** Models small enough for a backward pass on the reference backend in well under a second. */
const WITH_BACKWARD = new Set(['mlp', 'lenet', 'resnet20', 'preact-resnet20', 'preact-resnet18-w16']);

export function modelSuite(spec: ModelSpec): void {
  const label = `(${spec.inChannels}, ${spec.inputSize}, ${spec.classes})`;
  describe(`every registered model at ${label}`, () => {
    for (const name of modelNames()) {
      // gpt-tiny reads token windows, not images (test/nn/transformer-models.test.ts).
      it(name, { skip: SEQUENCE_MODELS.has(name) ? 'a language model (token windows, not images)' : false }, () => {
        const model = createModel(name, spec, new Rng(1));
        assert.equal(model.parameterCount(), expectedParams(name, spec), `${name} parameter count`);

        const params = model.namedParameters(), buffers = model.namedBuffers();
        const names = [...params, ...buffers].map(([n]) => n);
        assert.equal(new Set(names).size, names.length, `${name}: duplicate state-dict names`);
        assert.equal(model.stateDict().size, names.length);
        for (const n of names) assert.match(n, /^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$/, `${name}: state-dict name '${n}'`);
        for (const [n, p] of params) assert.equal(p.requiresGrad, true, `${n} requires a gradient`);
        for (const [n, b] of buffers) assert.equal(b.requiresGrad, false, `buffer ${n} is not trainable`);

        const x = randn([2, spec.inChannels, spec.inputSize, spec.inputSize], 7);
        const labels = Int32Array.from([0, spec.classes - 1]);
        if (!WITH_BACKWARD.has(name)) {
          const y = noGrad(() => model.forward(x));
          assertShape(y, [2, spec.classes], `${name} output`);
          assert.ok(y.data.every(Number.isFinite), `${name}: non-finite output`);
          return;
        }
        const y = model.forward(x);
        assertShape(y, [2, spec.classes], `${name} output`);
        assert.ok(y.data.every(Number.isFinite), `${name}: non-finite output`);
        const grads = grad(crossEntropy(y, labels));
        for (const [n, p] of params) {
          const g = grads.get(p);
          assert.ok(g, `${name}: no gradient for ${n}`);
          assertShape(g, p.shape, `${name}: gradient of ${n}`);
          assert.ok(g.data.every(Number.isFinite), `${name}: non-finite gradient for ${n}`);
          assert.ok(g.data.some((v) => v !== 0), `${name}: all-zero gradient for ${n}`);
        }
      });
    }
  });
}
