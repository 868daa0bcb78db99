/** Hand-computed optimizer steps, validation and state-dict resume. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GradStore } from '../../src/autograd/graph.js';
import { FqtError } from '../../src/tensor/errors.js';
import { Tensor, parameter } from '../../src/tensor/tensor.js';
import { Adam, AdamW, createOptimizer, type NamedParams, type Optimizer, SGD, splitParams } from '../../src/optim/index.js';

const f32 = Math.fround;

function param(values: number[], name = 'w'): Tensor {
  return parameter(Float32Array.from(values), [values.length], name);
}

function grads(...pairs: [Tensor, number[]][]): GradStore {
  const g = new GradStore();
  for (const [p, v] of pairs) g.set(p, new Tensor(Float32Array.from(v), p.shape));
  return g;
}

test('plain SGD: w −= lr·g', () => {
  const w = param([1, -2]);
  new SGD([['w', w]], { lr: 0.1 }).step(grads([w, [0.5, -1]]));
  assert.deepEqual([...w.data], [f32(0.95), f32(-1.9)]);
});

test('SGD momentum initialises the buffer to the gradient on the first step', () => {
  const w = param([1]);
  const opt = new SGD([['w', w]], { lr: 0.1, momentum: 0.9 });
  opt.step(grads([w, [1]])); // buf = 1, w = 1 − 0.1
  assert.equal(w.data[0], f32(0.9));
  opt.step(grads([w, [1]])); // buf = 0.9·1 + 1 = 1.9, w = 0.9 − 0.19
  assert.ok(Math.abs(w.data[0] - 0.71) < 1e-6);
  assert.ok(Math.abs(opt.stateDict().tensors.get('w.momentum_buffer')![0] - 1.9) < 1e-6);
});

test('Nesterov SGD steps by g + momentum·buf', () => {
  const w = param([1]);
  const opt = new SGD([['w', w]], { lr: 0.1, momentum: 0.9, nesterov: true });
  opt.step(grads([w, [1]])); // buf = 1, step = 1 + 0.9 = 1.9
  assert.ok(Math.abs(w.data[0] - 0.81) < 1e-6);
  opt.step(grads([w, [1]])); // buf = 1.9, step = 1 + 1.71 = 2.71
  assert.ok(Math.abs(w.data[0] - 0.539) < 1e-6);
});

test('SGD weight decay adds wd·w to the gradient, also for rank-1 (bias/BN) params', () => {
  const w = param([2]);
  new SGD([['bn.bias', w]], { lr: 1, weightDecay: 0.1 }).step(grads([w, [0]]));
  assert.equal(w.data[0], f32(1.8));
});

test('Adam: the first step moves each weight by about lr·sign(g); the second follows the formula', () => {
  const w = param([1, 1]);
  const opt = new Adam([['w', w]], { lr: 0.1 });
  opt.step(grads([w, [2, -0.5]]));
  assert.ok(Math.abs(w.data[0] - 0.9) < 1e-6 && Math.abs(w.data[1] - 1.1) < 1e-6);
  const w1 = w.data[0];
  opt.step(grads([w, [1, 0]]));
  const m = 0.9 * 0.2 + 0.1 * 1, v = 0.999 * 0.004 + 0.001 * 1;
  const expected = w1 - (0.1 * (m / (1 - 0.9 ** 2))) / (Math.sqrt(v / (1 - 0.999 ** 2)) + 1e-8);
  assert.ok(Math.abs(w.data[0] - expected) < 1e-6, `${w.data[0]} vs ${expected}`);
});

test('Adam adds weight decay to the gradient; AdamW decays the weight directly', () => {
  const a = param([1]), b = param([1]);
  new Adam([['a', a]], { lr: 0.1, weightDecay: 0.1 }).step(grads([a, [0]])); // g' = 0.1 → step ≈ lr
  new AdamW([['b', b]], { lr: 0.1, weightDecay: 0.1 }).step(grads([b, [0]])); // w·(1 − 0.01), no Adam step
  assert.ok(Math.abs(a.data[0] - 0.9) < 1e-6);
  assert.equal(b.data[0], f32(0.99));
  assert.equal(new AdamW([['b', b]]).stateDict().meta.kind, 'adamw');
});

test('parameters without a gradient are skipped (no update, no step count)', () => {
  const a = param([1], 'a'), b = param([1], 'b');
  const opt = new Adam([['a', a], ['b', b]], { lr: 0.1 });
  opt.step(grads([a, [1]]));
  assert.equal(b.data[0], 1);
  assert.equal(opt.stepsOf('a'), 1);
  assert.equal(opt.stepsOf('b'), 0);
  assert.equal(opt.stateDict().tensors.has('b.exp_avg'), false);
});

test('param groups: lrScale multiplies the lr, weightDecay overrides the default', () => {
  const head = param([1], 'head'), body = param([1], 'body'), bias = param([1], 'bias');
  const [noDecay, decay] = splitParams([['body', body], ['bias', bias]], (_n, t) => t.rank <= 1 && _n === 'bias');
  assert.deepEqual(noDecay.map(([n]) => n), ['bias']);
  const opt = new SGD([
    { name: 'head', params: [['head', head]] },
    { name: 'body', params: decay, lrScale: 0.01 },
    { name: 'body-no-decay', params: noDecay, lrScale: 0.01, weightDecay: 0 },
  ], { lr: 1, weightDecay: 0.5 });
  opt.setLr(0.1);
  opt.step(grads([head, [1]], [body, [1]], [bias, [1]]));
  assert.ok(Math.abs(head.data[0] - (1 - 0.1 * 1.5)) < 1e-7);
  assert.ok(Math.abs(body.data[0] - (1 - 0.001 * 1.5)) < 1e-7);
  assert.ok(Math.abs(bias.data[0] - (1 - 0.001)) < 1e-7);
  assert.deepEqual(opt.groups.map((g) => g.name), ['head', 'body', 'body-no-decay']);
});

test('user errors are FqtErrors that name what is wrong', () => {
  const w = param([1, 2]);
  // @ts-expect-error: the name union rejects an unknown optimizer at compile time; this checks the run-time error
  assert.throws(() => createOptimizer('rmsprop', [['w', w]], { lr: 1 }), (e: unknown) =>
    e instanceof FqtError && /unknown optimizer 'rmsprop' \(valid: sgd, adam, adamw\)/.test(e.message));
  assert.throws(() => createOptimizer('sgd', [['w', w]], { lr: 1, betas: [0.9, 0.99] }), /sgd does not take option 'betas'/);
  assert.throws(() => createOptimizer('adam', [['w', w]], { momentum: 0.9 }), /adam does not take option 'momentum'/);
  assert.throws(() => createOptimizer('sgd', [['w', w]], {}), /lr is required/);
  assert.throws(() => new SGD([['w', w]], { lr: 1, nesterov: true }), /nesterov needs momentum > 0/);
  assert.throws(() => new SGD([['w', w]], { lr: -1 }), /lr must be/);
  assert.throws(() => new Adam([['w', w]], { betas: [0.9, 1] }), /β2 must be in \[0, 1\)/);
  assert.throws(() => new SGD([['w', w], ['w', param([1])]], { lr: 1 }), /'w' is listed twice/);
  assert.throws(() => new SGD([['w', w], ['v', w]], { lr: 1 }), /'v' is the same tensor/);
  assert.throws(() => new SGD([], { lr: 1 }), /no parameters/);
  assert.throws(() => new SGD([{ name: 'g', params: [['w', w]], lrScale: NaN }], { lr: 1 }), /group 'g' has lrScale NaN/);
  const opt = new SGD([['fc.weight', w]], { lr: 1 });
  const bad = new GradStore();
  bad.set(w, new Tensor(new Float32Array(3), [3]));
  assert.throws(() => opt.step(bad), /gradient of 'fc.weight' has shape \[3\] but the parameter has shape \[2\]/);
  assert.throws(() => opt.setLr(Infinity), /lr must be/);
});

function makeParams(seed: number): NamedParams {
  const vals = (n: number, k: number) => Array.from({ length: n }, (_, i) => Math.sin(seed + 7 * i + k));
  return [['conv.weight', parameter(Float32Array.from(vals(6, 1)), [2, 3], 'conv.weight')], ['conv.bias', param(vals(2, 2), 'conv.bias')]];
}

function gradsAt(params: NamedParams, step: number): GradStore {
  const g = new GradStore();
  for (const [i, [, p]] of params.entries()) {
    g.set(p, new Tensor(Float32Array.from(p.data, (_, j) => Math.cos(step * 3 + i * 5 + j)), p.shape));
  }
  return g;
}

function copyParams(src: NamedParams): NamedParams {
  return src.map(([n, p]) => [n, parameter(new Float32Array(p.data), p.shape, n)]);
}

for (const [kind, opts] of [['sgd', { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 1e-3 }], ['adam', { lr: 0.01 }], ['adamw', { lr: 0.01 }]] as const) {
  test(`${kind}: resuming from stateDict gives bit-identical next steps`, () => {
    const a = makeParams(1);
    const optA: Optimizer = createOptimizer(kind, a, opts);
    for (let s = 0; s < 3; s++) { optA.setLr(opts.lr * (1 - 0.1 * s)); optA.step(gradsAt(a, s)); }
    const snapshot = optA.stateDict();
    const b = copyParams(a);
    snapshot.tensors.forEach((t) => t.fill(t[0])); // stateDict is a copy: mutating it ...
    const fresh = optA.stateDict();
    assert.notDeepEqual([...snapshot.tensors.values()], [...fresh.tensors.values()]); // ... leaves the optimizer alone
    const optB = createOptimizer(kind, b, opts);
    optB.loadStateDict({ tensors: fresh.tensors, meta: JSON.parse(JSON.stringify(fresh.meta)) }); // meta went through JSON, as in a checkpoint
    assert.equal(optB.lr, optA.lr);
    for (let s = 3; s < 6; s++) {
      optA.setLr(opts.lr * 0.5); optA.step(gradsAt(a, s));
      optB.setLr(opts.lr * 0.5); optB.step(gradsAt(b, s));
    }
    a.forEach(([n, p], i) => assert.deepEqual([...p.data], [...b[i][1].data], `${kind} '${n}' after resume`));
  });
}

test('loadStateDict validates and names the offending entry, changing nothing on failure', () => {
  const a = makeParams(2);
  const opt = new Adam(a, { lr: 0.01 });
  opt.step(gradsAt(a, 0));
  const good = opt.stateDict();
  const other = new Adam(copyParams(a), { lr: 0.5 });
  const withTensors = (edit: (m: Map<string, Float32Array>) => void) => {
    const m = new Map(good.tensors); edit(m); return { tensors: m, meta: good.meta };
  };
  assert.throws(() => other.loadStateDict(withTensors((m) => m.delete('conv.bias.exp_avg_sq'))), /entry 'conv.bias.exp_avg_sq' is missing/);
  assert.throws(() => other.loadStateDict(withTensors((m) => m.set('conv.weight.exp_avg', new Float32Array(5)))),
    /entry 'conv.weight.exp_avg' has 5 values but parameter 'conv.weight' has 6/);
  assert.throws(() => other.loadStateDict(withTensors((m) => m.set('fc.weight.exp_avg', new Float32Array(1)))), /unexpected entry 'fc.weight.exp_avg'/);
  assert.throws(() => new AdamW(copyParams(a)).loadStateDict(good), /saved by 'adam' but this optimizer is 'adamw'/);
  assert.throws(() => new Adam([a[0]]).loadStateDict(good), /has parameter 'conv.bias', which this optimizer does not have/);
  assert.throws(() => new Adam([...copyParams(a), ['extra', param([1])]]).loadStateDict(good), /no entry for parameter 'extra'/);
  assert.throws(() => other.loadStateDict({ tensors: good.tensors, meta: { ...good.meta, steps: { 'conv.weight': 1.5 } } }), /step count of 'conv.weight'/);
  assert.throws(() => other.loadStateDict({ tensors: good.tensors, meta: { ...good.meta, version: 2 as 1 } }), /unsupported format/);
  assert.equal(other.lr, 0.5);
  assert.equal(other.stepsOf('conv.weight'), 0);
  other.loadStateDict(good);
  assert.equal(other.lr, 0.01);
  assert.equal(other.stepsOf('conv.weight'), 1);
});
