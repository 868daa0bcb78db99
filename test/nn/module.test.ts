/** Module behaviour: state-dict names and round trips, strict loading errors, train/eval and BN, layers. */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createModel, MODELS } from '../../src/nn/models/index.js';
import { ResNet } from '../../src/nn/models/resnet.js';
import { BatchNorm, Conv2d, Dropout, Linear, PReLU, Sequential } from '../../src/nn/layers.js';
import { noGrad } from '../../src/autograd/mode.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { slice } from '../../src/ops/movement.js';
import { assertClose, assertShape } from '../helpers/approx.js';
import { assertFqtError } from '../helpers/errors.js';
import { randn } from '../helpers/tensors.js';

const MNIST = { inChannels: 1, inputSize: 28, classes: 10 };
const tiny = (seed: number, preActivation = false): ResNet =>
  new ResNet({ inChannels: 1, inputSize: 8, classes: 3 }, new Rng(seed), { widths: [4, 8], blocks: [1, 1], preActivation });

/** A copy of a state dict (the module returns its live tensors). */
function snapshot(m: { stateDict(): Map<string, Tensor> }): Map<string, Tensor> {
  return new Map([...m.stateDict()].map(([k, t]) => [k, new Tensor(new Float32Array(t.data), t.shape)]));
}

describe('state dict', () => {
  it('uses PyTorch-style names for the ResNets', () => {
    const names = new Set(createModel('resnet20', MNIST, new Rng(1)).stateDict().keys());
    for (const n of ['conv1.weight', 'bn1.weight', 'bn1.bias', 'bn1.running_mean', 'bn1.running_var', 'layer1.0.conv1.weight',
      'layer1.2.bn2.running_var', 'layer2.0.shortcut.0.weight', 'layer2.0.shortcut.1.running_mean', 'layer3.2.conv2.weight',
      'fc.weight', 'fc.bias']) {
      assert.ok(names.has(n), `resnet20 has no '${n}'`);
    }
    assert.ok(!names.has('layer1.0.shortcut.0.weight'), 'identity shortcuts have no parameters');
    const pre = new Set(createModel('preact-resnet20', MNIST, new Rng(1)).stateDict().keys());
    for (const n of ['conv1.weight', 'layer2.0.shortcut.weight', 'bn_final.running_mean', 'fc.bias']) assert.ok(pre.has(n), `preact-resnet20 has no '${n}'`);
    assert.ok(!pre.has('bn1.weight'), 'pre-activation nets have no stem BN');
  });

  for (const name of ['mlp', 'lenet', 'resnet20', 'preact-resnet20', 'vgg11'] as const) {
    it(`${name}: round trip through loadStateDict gives identical tensors and outputs`, () => {
      const a = createModel(name, MNIST, new Rng(1)), b = createModel(name, MNIST, new Rng(2));
      // Run a's BNs once in training mode so the running statistics are not the defaults.
      noGrad(() => a.forward(randn([2, 1, 28, 28], 3)));
      const differs = [...a.stateDict()].some(([k, t]) => t.data.some((v, i) => v !== b.stateDict().get(k)!.data[i]));
      assert.ok(differs, 'two seeds gave the same model');
      const result = b.loadStateDict(snapshot(a));
      assert.deepEqual(result, { missing: [], unexpected: [] });
      for (const [k, t] of a.stateDict()) assert.deepEqual(b.stateDict().get(k)!.data, t.data, k);
      // Copies, not shared storage.
      const [firstName, first] = a.namedParameters()[0];
      const saved = first.data[0];
      first.data[0] = saved + 1;
      assert.equal(b.stateDict().get(firstName)!.data[0], saved);
      first.data[0] = saved;
      a.eval(); b.eval();
      const x = randn([2, 1, 28, 28], 4);
      assert.deepEqual(noGrad(() => b.forward(x)).data, noGrad(() => a.forward(x)).data);
    });
  }

  it('strict loading names what is missing, unexpected or mis-shaped', () => {
    const m = tiny(1);
    const sd = snapshot(m);
    sd.delete('fc.bias');
    assertFqtError(() => m.loadStateDict(sd), 'missing', 'fc.bias');
    const extra = snapshot(m);
    extra.set('fc.extra', new Tensor(new Float32Array(1), [1]));
    assertFqtError(() => m.loadStateDict(extra), 'unexpected', 'fc.extra');
    const wrong = snapshot(m);
    wrong.set('fc.weight', new Tensor(new Float32Array(8 * 4), [4, 8]));
    assertFqtError(() => m.loadStateDict(wrong), 'fc.weight', '[4, 8]', '[3, 8]');
    const short = snapshot(m);
    short.set('fc.bias', { shape: [3], data: new Float32Array(2) } as unknown as Tensor);
    assertFqtError(() => m.loadStateDict(short), 'fc.bias', '2 values');
  });

  it('non-strict loading skips and reports names absent on either side', () => {
    const m = tiny(1);
    const sd = snapshot(tiny(2));
    sd.delete('fc.bias');
    sd.set('head.weight', new Tensor(new Float32Array(1), [1]));
    const before = Array.from(m.stateDict().get('fc.bias')!.data);
    const r = m.loadStateDict(sd, false);
    assert.deepEqual(r, { missing: ['fc.bias'], unexpected: ['head.weight'] });
    assert.deepEqual(Array.from(m.stateDict().get('fc.bias')!.data), before);
    assert.deepEqual(m.stateDict().get('fc.weight')!.data, sd.get('fc.weight')!.data);
  });
});

describe('train / eval', () => {
  it('eval() and train() switch every submodule', () => {
    const m = tiny(1);
    assert.ok(m.namedModules().every(([, mod]) => mod.training));
    m.eval();
    assert.ok(m.namedModules().every(([, mod]) => !mod.training));
    m.train();
    assert.ok(m.namedModules().every(([, mod]) => mod.training));
  });

  for (const preActivation of [false, true]) {
    it(`BN: training mode updates running statistics and depends on the batch; eval does neither (preact ${preActivation})`, () => {
      const m = tiny(1, preActivation);
      const rm = (): number[] => [...m.namedBuffers()].flatMap(([, b]) => Array.from(b.data));
      const x = randn([4, 1, 8, 8], 5, 2, 1);
      const other = randn([4, 1, 8, 8], 6, 0.5, -1);
      const initial = rm();
      m.train();
      const y1 = noGrad(() => m.forward(x));
      const afterTrain = rm();
      assert.notDeepEqual(afterTrain, initial, 'training forward did not update running statistics');
      // In training mode sample 0's output depends on the rest of the batch.
      const mixed = noGrad(() => m.forward(new Tensor(Float32Array.from([...x.data.subarray(0, 64), ...other.data.subarray(64)]), [4, 1, 8, 8])));
      assert.notDeepEqual(Array.from(mixed.data.subarray(0, 3)), Array.from(y1.data.subarray(0, 3)));

      m.eval();
      const stats = rm();
      const e1 = noGrad(() => m.forward(x));
      const e2 = noGrad(() => m.forward(new Tensor(Float32Array.from([...x.data.subarray(0, 64), ...other.data.subarray(64)]), [4, 1, 8, 8])));
      assert.deepEqual(rm(), stats, 'eval forward changed running statistics');
      assertClose(e2.data.subarray(0, 3), e1.data.subarray(0, 3), { atol: 0 }, 'eval output of sample 0 depends on the batch');
      // A single sample works in eval mode (BN uses running statistics).
      assertShape(noGrad(() => m.forward(slice(x, [0], [1]))), [1, 3]);
      assertClose(noGrad(() => m.forward(slice(x, [0], [1]))).data, e1.data.subarray(0, 3), { atol: 1e-6, rtol: 1e-6 });
      assert.notDeepEqual(Array.from(e1.data), Array.from(y1.data), 'eval and train outputs coincide');
    });
  }

  it('Dropout is active only in training mode', () => {
    const d = new Dropout(0.5, new Rng(1));
    const x = randn([10, 10], 7);
    assert.notDeepEqual(d.forward(x).data, x.data);
    d.eval();
    assert.equal(d.forward(x), x);
  });
});

describe('layers and registry', () => {
  it('Linear, Conv2d, BatchNorm, PReLU register PyTorch names and shapes', () => {
    const rng = new Rng(1);
    const seq = new Sequential(new Conv2d(3, 4, 3, rng, { bias: true }), new BatchNorm(4), new PReLU(4), new Linear(4, 2, rng));
    assert.deepEqual([...seq.stateDict()].map(([k, t]) => `${k}:${t.shape.join('x')}`), [
      '0.weight:4x3x3x3', '0.bias:4', '1.weight:4', '1.bias:4', '2.weight:4', '3.weight:2x4', '3.bias:2',
      '1.running_mean:4', '1.running_var:4',
    ]);
    assert.equal(new Linear(4, 2, rng, { bias: false }).namedParameters().length, 1);
  });

  it('Linear rejects an input of the wrong width, naming both', () => {
    assertFqtError(() => new Linear(4, 2, new Rng(1)).forward(randn([3, 5], 1)), 'Linear(4 → 2)', '[3, 5]');
  });

  it('createModel rejects unknown names and invalid specs', () => {
    // @ts-expect-error: the name union rejects an unknown model at compile time; this checks the run-time error
    assertFqtError(() => createModel('resnet99', MNIST, new Rng(1)), "unknown model 'resnet99'", 'resnet20');
    assertFqtError(() => createModel('mlp', { ...MNIST, classes: 0 }, new Rng(1)), 'classes', '0');
    assertFqtError(() => createModel('mlp', { ...MNIST, inputSize: 2.5 }, new Rng(1)), 'inputSize');
    assertFqtError(() => createModel('lenet', { ...MNIST, inputSize: 8 }, new Rng(1)), 'lenet', '8');
    assert.ok(Object.keys(MODELS).length >= 11);
  });

  it('the same seed builds the same weights', () => {
    const a = createModel('lenet', MNIST, new Rng(9)), b = createModel('lenet', MNIST, new Rng(9));
    for (const [k, t] of a.stateDict()) assert.deepEqual(b.stateDict().get(k)!.data, t.data, k);
  });
});
