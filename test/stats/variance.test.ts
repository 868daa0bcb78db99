/** measureVariance (METHODS §1.7): per-layer bias decaying like 1/√K, quantization vs sampling variance, JSON rows. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { linearRows } from '../../src/ops/matmul.js';
import { Conv2d, GemmLayer } from '../../src/nn/layers.js';
import { MLP } from '../../src/nn/models/mlp.js';
import { LeNet5 } from '../../src/nn/models/lenet.js';
import { preset } from '../../src/quant/presets.js';
import { measureVariance, type VarianceBatch } from '../../src/stats/variance.js';
import { normals } from '../quant/helpers.js';

function batches(count: number, n: number, shape: number[], classes: number, seed: number): VarianceBatch[] {
  const size = shape.reduce((a, b) => a * b, 1);
  return Array.from({ length: count }, (_, b) => ({
    x: new Tensor(normals(seed + b, n * size), [n, ...shape]),
    labels: Int32Array.from({ length: n }, (_, i) => (i * 3 + b) % classes),
  }));
}

test('FQT (bhq4, all layers): unbiased bias curve ~ sqrt(quantVar/k), positive variances, JSON rows', (t) => {
  const model = new MLP({ inChannels: 1, inputSize: 4, classes: 5 }, new Rng(1), [24, 16]);
  const report = measureVariance({ model, recipe: preset('statquant-compat-bhq4'), batches: batches(4, 16, [1, 4, 4], 5, 10), draws: 64, seed: 3 });
  assert.equal(report.recipe, 'sqc-bhq4');
  assert.equal(report.rows.length, 3);
  assert.deepEqual(report.rows.map((r) => r.param), ['layers.1.weight', 'layers.3.weight', 'layers.5.weight']);
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'plain JSON');
  for (const r of report.rows) {
    assert.ok(r.quantVar > 0 && r.samplingVar! > 0 && r.meanAbsGrad > 0, `${r.param}: variances positive`);
    assert.equal(r.paths.forward, 'int8');
    assert.deepEqual(r.bias.map((b) => b.k), [1, 2, 4, 8, 16, 32, 64]);
    // An unbiased estimator: ‖mean_k − g_QAT‖ ≈ sqrt(quantVar/k), so bias·√k stays flat (no floor at large k).
    const last = r.bias[r.bias.length - 1];
    const ratio = last.bias / last.expected;
    t.diagnostic(`${r.param}: quantVar ${r.quantVar.toExponential(2)}, samplingVar ${r.samplingVar!.toExponential(2)}, ratio ${r.ratio!.toFixed(3)}, bias(64)/sqrt(qv/64) ${ratio.toFixed(2)}`);
    assert.ok(ratio > 0.5 && ratio < 1.6, `${r.param}: bias(${last.k}) = ${last.bias} vs expected ${last.expected}`);
    assert.ok(last.bias < r.bias[0].bias / 3, `${r.param}: bias shrinks with k (${r.bias[0].bias} → ${last.bias})`);
  }
});

test('QAT recipe: zero quantization variance and zero bias; the model is restored afterwards', () => {
  const model = new LeNet5({ inChannels: 1, inputSize: 12, classes: 3 }, new Rng(2));
  const layers = model.namedModules().filter((e): e is [string, GemmLayer] => e[1] instanceof GemmLayer);
  const before = model.stateDict();
  const snapshot = new Map([...before].map(([k, v]) => [k, new Float32Array(v.data)]));
  const report = measureVariance({ model, recipe: preset('qat8'), batches: batches(2, 4, [1, 12, 12], 3, 20), draws: 2 });
  for (const r of report.rows) {
    assert.equal(r.quantVar, 0, r.param);
    assert.ok(r.bias.every((b) => b.bias === 0));
  }
  assert.equal(report.rows.find((r) => r.layer === 'features.3')!.type, 'Conv2d');
  assert.ok(layers.every(([, l]) => l.gemm === linearRows), 'GEMMs restored');
  for (const [k, v] of model.stateDict()) assert.deepEqual(v.data, snapshot.get(k), `${k} restored`);
  assert.ok(layers.some(([, l]) => l instanceof Conv2d));
});

test('a single batch gives no sampling variance; bad options are rejected', () => {
  const model = new MLP({ inChannels: 1, inputSize: 2, classes: 2 }, new Rng(3), [4]);
  const r = measureVariance({ model, recipe: preset('statquant-compat-psq8'), batches: batches(1, 8, [1, 2, 2], 2, 30), draws: 4 });
  assert.ok(r.rows.every((row) => row.samplingVar === null && row.ratio === null));
  assert.throws(() => measureVariance({ model, recipe: preset('psq8'), batches: [] }), /at least one batch/);
  assert.throws(() => measureVariance({ model, recipe: preset('psq8'), batches: batches(1, 8, [1, 2, 2], 2, 30), draws: 1 }), /draws must be an integer ≥ 2/);
});
