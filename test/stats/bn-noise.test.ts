/**
 * measureBnNoise (METHODS §4.1 measured with the §1.7 procedure) and the explosion checks: per-BN noise-to-signal
 * ratios, measured noise gain against the white-noise prediction (γ/σ)²(1 − 2/m), warnings that name the layer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linearRows } from '../../src/ops/matmul.js';
import { preset } from '../../src/quant/presets.js';
import { layerWarnings, measureBnNoise } from '../../src/stats/bn-noise.js';
import { gammaSigmaStats } from '../../src/stats/bn-probe.js';
import { MLP } from '../../src/nn/models/mlp.js';
import { Rng } from '../../src/tensor/random.js';
import { TinyBnNet, tinyBatch } from '../helpers/bn-net.js';
import { assertFqtError } from '../helpers/errors.js';

test('FQT (all layers ptq4): positive noise at both sides of every BN, noise gain ≈ white-noise prediction, model restored', (t) => {
  const model = new TinyBnNet(21);
  model.bn1.weight.data.set([2.5, 0.4, 1, -1.5]); // spread the gains (γ/σ)²
  const snapshot = new Map([...model.stateDict()].map(([k, v]) => [k, new Float32Array(v.data)]));
  const batch = tinyBatch(22, 16);
  const r = measureBnNoise({ model, recipe: preset('statquant-compat-ptq4'), batch, draws: 24, seed: 4 });
  assert.equal(r.recipe, 'sqc-ptq4');
  assert.deepEqual(r.layers.map((l) => l.layer), ['bn1', 'bn2'], 'forward order');
  assert.deepEqual(JSON.parse(JSON.stringify(r)), r, 'plain JSON');
  for (const l of r.layers) {
    t.diagnostic(`${l.layer}: |γ|/σ mean ${l.gammaSigma.mean.toFixed(3)} max ${l.gammaSigma.max.toFixed(3)}, NSR ${l.nsrOut!.toExponential(2)} → ${l.nsrIn!.toExponential(2)}, ` +
      `noise gain ${l.noiseGain!.toFixed(4)} vs predicted ${l.predictedNoiseGain!.toFixed(4)}`);
    assert.equal(l.m, 16 * 36);
    assert.ok(l.noiseOut > 0 && l.noiseIn > 0 && l.nsrOut! > 0 && l.nsrIn! > 0, `${l.layer}: noise on both sides`);
    // Quantization noise is nearly white: P removes ≈ 2/m of it, so the gain follows (γ/σ)²(1 − 2/m) per channel.
    // bn2's output noise comes through the global average pool (constant over pixels, partly along 𝟙, which P
    // removes), so it is looser there.
    const tol = l.layer === 'bn1' ? 0.02 : 0.1;
    assert.ok(Math.abs(l.noiseGain! / l.predictedNoiseGain! - 1) < tol, `${l.layer}: gain ${l.noiseGain} vs ${l.predictedNoiseGain}`);
    assert.ok(l.fqtRmsIn > 0 && l.rmsIn > 0 && l.rmsOut > 0);
  }
  // γ/σ statistics from the layer's own batch statistics (the FQT forward ran on the same batch)
  assert.deepEqual(r.layers[0].gammaSigma, gammaSigmaStats(model.bn1.weight.data, model.bn1.lastStats!.variance, model.bn1.eps));
  assert.ok(r.layers[0].gammaSigma.max > 2, 'γ = 2.5 on a unit-scale channel');
  assert.ok(model.conv1.gemm === linearRows && model.fc.gemm === linearRows, 'GEMMs restored');
  for (const [k, v] of model.stateDict()) assert.deepEqual(v.data, snapshot.get(k), `${k} restored`);
  assert.equal(model.bn1.taps.length, 0, 'probes removed');
});

test('QAT recipe: zero quantization noise at every BN', () => {
  const r = measureBnNoise({ model: new TinyBnNet(3), recipe: preset('qat8'), batch: tinyBatch(4), draws: 2 });
  for (const l of r.layers) assert.ok(l.noiseOut === 0 && l.noiseIn === 0 && l.nsrIn === 0, l.layer);
  assert.deepEqual(r.warnings, []);
});

test('gammaSigmaStats: mean / max of |γ|/σ and the fraction with (γ/σ)² > 1', () => {
  const s = gammaSigmaStats(Float32Array.from([2, -0.5, 1, 3]), Float32Array.from([1, 1, 4, 0.25]), 0);
  // |γ|/σ = 2, 0.5, 0.5, 6
  assert.equal(s.mean, 9 / 4);
  assert.equal(s.max, 6);
  assert.equal(s.maxChannel, 3);
  assert.equal(s.amplifying, 0.5);
  assert.equal(s.meanGain, (4 + 0.25 + 0.25 + 36) / 4);
});

test('layerWarnings: growth across layers, non-finite gradients and dominating noise name the layer', () => {
  const rows = [
    { layer: 'a.bn', rms: 50, nsr: 3 },
    { layer: 'b.bn', rms: 12, nsr: 1.5 },
    { layer: 'c.bn', rms: 2, nsr: 0.5 },
    { layer: 'd.bn', rms: 1, nsr: 0.1 },
  ];
  const w = layerWarnings(rows, 10);
  const growth = w.find((x) => x.kind === 'layer-growth')!;
  assert.equal(growth.layer, 'b.bn', 'the first layer (from the loss) past the limit');
  assert.match(growth.message, /gradient explosion across layers: .*'b\.bn' is 12\.0× that at 'd\.bn' \(limit 10×; worst 50\.0×\)/);
  const noisy = w.find((x) => x.kind === 'noise-dominates')!;
  assert.equal(noisy.layer, 'b.bn');
  assert.match(noisy.message, /2 of 4 BN layers/);
  assert.deepEqual(layerWarnings(rows.map((r) => ({ ...r, rms: 1, nsr: 0.2 }))), [], 'flat and quiet: no warnings');
  const nan = layerWarnings([{ layer: 'x', rms: NaN, nsr: null }, { layer: 'y', rms: 1, nsr: null }]);
  assert.equal(nan[0].kind, 'nonfinite');
  assert.match(nan[0].message, /non-finite gradient at the input of BN 'x'/);
});

test('a model without BatchNorm and bad draws are rejected', () => {
  const mlp = new MLP({ inChannels: 2, inputSize: 6, classes: 3 }, new Rng(1), [4]);
  assertFqtError(() => measureBnNoise({ model: mlp, recipe: preset('ptq4'), batch: tinyBatch(1) }), 'no BatchNorm layers');
  assertFqtError(() => measureBnNoise({ model: new TinyBnNet(), recipe: preset('ptq4'), batch: tinyBatch(1), draws: 0 }), 'draws', '0');
});
