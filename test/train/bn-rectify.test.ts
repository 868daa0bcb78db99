/**
 * BN rectification loss (METHODS §4.2, reconstructed; §8.5.3): hand values, finite differences w.r.t. z, γ and the
 * preceding conv weights, zero effect at λ = 0, recipe validation naming the key, presets labelled
 * "reconstructed", and the trainer adding it only while gradients are quantized.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Tensor } from '../../src/tensor/tensor.js';
import { grad } from '../../src/autograd/graph.js';
import { add } from '../../src/ops/elementwise.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { createOptimizer } from '../../src/optim/index.js';
import { applyRecipe } from '../../src/quant/apply.js';
import { preset, presetNames, recipeFromData, type PresetName } from '../../src/quant/presets.js';
import { BnRectifier } from '../../src/train/bn-rectify.js';
import { bnRectifyLoss } from '../../src/ops/bn-rectify.js';
import type { BnRectifySpec } from '../../src/quant/addons/bn-rectify.js';
import { train } from '../../src/train/trainer.js';
import { DEFAULT_CONFIG, type TrainConfig } from '../../src/train/config.js';
import { gradCheck, gradCheckParams } from '../helpers/gradcheck.js';
import { assertFqtError } from '../helpers/errors.js';
import { TinyBnNet, tinyBatch } from '../helpers/bn-net.js';
import { normals } from '../quant/helpers.js';

const RATIO: BnRectifySpec = { form: 'ratio', lambda: 1 };

test('hand values: ratio = mean_c γ²/(var + ε), hinge = mean_c max(0, γ²/(var + ε) − τ), summed over layers, times λ', () => {
  // x: [n = 2, c = 2]; channel 0 holds {0, 2} (biased var 1), channel 1 holds {1, 5} (var 4)
  const x = new Tensor(Float32Array.from([0, 1, 2, 5]), [2, 2]);
  const gamma = new Tensor(Float32Array.from([2, 3]), [2]);
  const eps = 1e-5;
  const g0 = 4 / (1 + eps), g1 = 9 / (4 + eps);
  const r = bnRectifyLoss([{ x, gamma, eps }], { form: 'ratio', lambda: 0.5 });
  assert.ok(Math.abs(r.penalty - (g0 + g1) / 2) < 1e-9);
  assert.ok(Math.abs(r.loss.item() - 0.5 * (g0 + g1) / 2) < 1e-6);
  const h = bnRectifyLoss([{ x, gamma, eps }, { x, gamma, eps }], { form: 'hinge', lambda: 1, tau: 3 });
  assert.ok(Math.abs(h.penalty - 2 * ((g0 - 3) / 2)) < 1e-9, `only channel 0 (gain ${g0}) exceeds τ = 3: ${h.penalty}`);
  assert.equal(bnRectifyLoss([{ x, gamma, eps }], { form: 'hinge', lambda: 1, tau: 10 }).penalty, 0);
});

test('finite differences of λ·R w.r.t. z and γ (ratio and hinge, two layers of different shapes)', () => {
  const z1 = new Tensor(normals(1, 4 * 3 * 2 * 2, 1.3), [4, 3, 2, 2]);
  const g1 = new Tensor(Float32Array.from([0.4, 1.8, -1.2]), [3]);
  const z2 = new Tensor(normals(2, 6 * 2), [6, 2]);
  const g2 = new Tensor(Float32Array.from([2.2, 0.3]), [2]);
  for (const spec of [RATIO, { form: 'hinge', lambda: 0.7, tau: 1 } as BnRectifySpec]) {
    gradCheck(`bnRectify ${spec.form}`, (a, b, c, d) => bnRectifyLoss([{ x: a, gamma: b, eps: 1e-5 }, { x: c, gamma: d, eps: 1e-5 }], spec).loss, [z1, g1, z2, g2]);
  }
});

test('finite differences through σ into the preceding conv weights (and γ) of a conv-BN network', () => {
  const model = new TinyBnNet(4);
  const { x } = tinyBatch(5);
  const rect = new BnRectifier(model, { form: 'ratio', lambda: 1 });
  assert.equal(rect.layerCount, 2);
  const loss = (): Tensor => { rect.clear(); model.forward(x); return rect.take()!.loss; };
  gradCheckParams('bnRectify via conv', loss, [['conv1.weight', model.conv1.weight], ['conv2.weight', model.conv2.weight],
    ['bn1.weight', model.bn1.weight], ['bn2.weight', model.bn2.weight]], { samples: 5 });
  const g = grad(loss());
  assert.ok(g.get(model.conv1.weight)!.data.some((v) => v !== 0), 'the penalty reaches the first conv weight');
  assert.equal(g.get(model.bn2.bias), undefined, "the last BN's β does not enter the penalty");
  assert.ok(g.get(model.bn1.bias)!.data.some((v) => v !== 0), "the first BN's β does, through the second BN's batch variance");
});

test('eval-mode forwards add no term; detach removes the taps', () => {
  const model = new TinyBnNet(6);
  const rect = new BnRectifier(model, RATIO);
  model.eval();
  model.forward(tinyBatch(1).x);
  assert.equal(rect.take(), null);
  model.train();
  model.forward(tinyBatch(1).x);
  assert.ok(rect.take()!.penalty > 0);
  rect.detach();
  model.forward(tinyBatch(1).x);
  assert.equal(rect.take(), null);
  assert.equal(model.bn1.taps.length, 0);
});

/** One SGD step of a quantized TinyBnNet with (task + penalty) loss; returns the parameters after it. */
function stepWith(lambda: number | null): Float32Array[] {
  const model = new TinyBnNet(9);
  applyRecipe(model, preset('statquant-compat-ptq4'), { seed: 3 });
  const rect = lambda === null ? null : new BnRectifier(model, { form: 'ratio', lambda });
  const opt = createOptimizer('sgd', model.namedParameters(), { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 });
  const { x, labels } = tinyBatch(12);
  const task = crossEntropy(model.forward(x), labels);
  const r = rect?.take() ?? null;
  opt.step(grad(r ? add(task, r.loss) : task));
  return model.parameters().map((p) => new Float32Array(p.data));
}

test('λ = 0: bit-identical parameters after a quantized SGD step; λ > 0 changes them', () => {
  const base = stepWith(null), zero = stepWith(0), some = stepWith(0.1);
  base.forEach((p, i) => assert.deepEqual(zero[i], p, `parameter ${i}`));
  assert.ok(some.some((p, i) => p.some((v, j) => v !== base[i][j])), 'a positive λ moves the parameters');
});

test('recipe validation names the key; presets and labels say "reconstructed"; extends / null / JSON round trip', () => {
  const bad: [unknown, string][] = [
    [{ lambda: -1 }, 'recipe.addons.bnRectify.lambda'],
    [{ lambda: 'big' }, 'recipe.addons.bnRectify.lambda'],
    [{}, 'recipe.addons.bnRectify.lambda: missing'],
    [{ form: 'cube', lambda: 1 }, 'recipe.addons.bnRectify.form'],
    [{ lambda: 1, tau: 2 }, 'recipe.addons.bnRectify.tau'],
    [{ form: 'hinge', lambda: 1, tau: 0 }, 'recipe.addons.bnRectify.tau'],
    [{ lambda: 1, alpha: 2 }, 'recipe.addons.bnRectify.alpha: unknown key'],
    [3, 'recipe.addons.bnRectify: must be an object'],
  ];
  for (const [raw, msg] of bad) assertFqtError(() => recipeFromData({ version: 1, addons: { bnRectify: raw } }), msg);
  assertFqtError(() => recipeFromData({ version: 1, addons: { smp2: {} } }), 'recipe.addons.smp2', 'bnRectify');

  for (const name of ['ptq4-bnr', 'psq4-bnr', 'bhq4-bnr'] as const) {
    assert.ok(presetNames().includes(name));
    const r = preset(name);
    assert.equal(r.label, `${name}-recon`);
    assert.match(r.description!, /reconstructed, not the paper's published formula/);
    assert.deepEqual(r.addons, { bnRectify: { form: 'ratio', lambda: 1e-3 } });
    assert.deepEqual(recipeFromData(JSON.parse(JSON.stringify(r))), r, 'JSON round trip');
    assert.deepEqual(r.gradInput, preset(name.replace('-bnr', '') as PresetName).gradInput);
  }
  const hinge = recipeFromData({ version: 1, extends: 'psq4', addons: { bnRectify: { form: 'hinge', lambda: 1e-2 } } });
  assert.deepEqual(hinge.addons.bnRectify, { form: 'hinge', lambda: 1e-2, tau: 1 });
  assert.equal(recipeFromData({ version: 1, extends: 'ptq4-bnr', addons: { bnRectify: null } }).addons.bnRectify, undefined);
  assert.deepEqual(recipeFromData({ version: 1, extends: 'ptq4-bnr' }).addons, preset('ptq4-bnr').addons, 'inherited');
  assert.match(recipeFromData({ version: 1, forward: preset('ptq4').forward, addons: { bnRectify: { lambda: 1 } } }).label, /_bnr-recon$/);
});

function runTrain(recipe: string, extra: Partial<TrainConfig> = {}, out?: string) {
  const lines: string[] = [];
  const config: TrainConfig = { ...DEFAULT_CONFIG, model: 'resnet20', dataset: 'synthetic', epochs: 1, batchSize: 32, trainLimit: 128, testLimit: 64, lr: 0.05, recipe, ...extra };
  const result = train(config, { quiet: true, log: (l) => lines.push(l), out });
  return { result, log: lines.join('\n') };
}

test('trainer: the penalty is added and logged under gradient quantization, inactive without it', () => {
  const on = runTrain('ptq4-bnr');
  assert.match(on.log, /BN rectification \(reconstructed, not the paper's published formula\): ratio, λ = 0.001/);
  assert.match(on.log, /BN-rect \(reconstructed\) penalty/);
  assert.ok(Number(on.result.final!.bnr_penalty) > 0, `penalty ${on.result.final!.bnr_penalty}`);
  assert.equal(on.result.final!.bnr_lambda, 1e-3);
  assert.equal(on.result.final!.recipe, 'ptq4-bnr-recon');

  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-bnr-'));
  const file = path.join(dir, 'qat-bnr.json');
  writeFileSync(file, JSON.stringify({ version: 1, extends: 'qat8', label: 'qat8-bnr-recon', addons: { bnRectify: { lambda: 1e-3 } } }));
  const off = runTrain(file);
  assert.match(off.log, /inactive: the recipe quantizes no gradient/);
  assert.equal(off.result.final!.bnr_penalty, undefined);
});

test('trainer --bn-diagnostics: same trajectory as without, summary line, metrics fields and per-step records', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'fqt-bndiag-'));
  const plain = runTrain('ptq4');
  const diag = runTrain('ptq4', { bnDiagnostics: 2 }, out);
  assert.equal(diag.result.final!.train_loss, plain.result.final!.train_loss, 'diagnostics do not change training');
  assert.equal(diag.result.final!.test_loss, plain.result.final!.test_loss);
  assert.match(diag.log, /bn-diag \(2 sampled steps, every 2\): \|γ\|\/σ mean [\d.]+ max [\d.]+ \(\S+\), \(γ\/σ\)²>1 in \d+% of channels; NSR after→before BN/);
  const m = diag.result.final!;
  for (const k of ['bn_gamma_sigma_mean', 'bn_gamma_sigma_max', 'bn_amplifying_frac', 'bn_nsr_out', 'bn_nsr_in', 'bn_nsr_gain', 'bn_grad_growth']) {
    assert.ok(typeof m[k] === 'number' && Number.isFinite(m[k] as number), `${k} = ${m[k]}`);
  }
  assert.ok((m.bn_nsr_in as number) > 0 && (m.bn_gamma_sigma_max as number) >= (m.bn_gamma_sigma_mean as number));
  const recs = readFileSync(path.join(out, 'bn-diagnostics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; layers: { layer: string }[] });
  assert.deepEqual(recs.map((r) => r.step), [0, 2]);
  assert.equal(recs[0].layers.length, 21, 'resnet20 has 21 BN layers');
  assert.equal(recs[0].layers[0].layer, 'bn1');
});
