/** BnMonitor (training-time BN diagnostics): NSR from a reference pass, explosion across steps, epoch summary, no side effects. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad } from '../../src/autograd/graph.js';
import { mul } from '../../src/ops/elementwise.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { applyRecipe } from '../../src/quant/apply.js';
import { preset } from '../../src/quant/presets.js';
import { BnMonitor } from '../../src/train/bn-diagnostics.js';
import { TinyBnNet, tinyBatch } from '../helpers/bn-net.js';
import { assertFqtError } from '../helpers/errors.js';

test('sampled steps: NSR after/before each BN from the exact-backward reference; GEMMs and BN buffers restored', () => {
  const model = new TinyBnNet(31);
  const recipe = preset('statquant-compat-ptq4');
  const resolved = applyRecipe(model, recipe, { seed: 2 });
  const mon = new BnMonitor(model, recipe, resolved, 3);
  assert.equal(mon.layerCount, 2);
  assert.deepEqual([0, 1, 2, 3, 6].map((s) => mon.due(s)), [true, false, false, true, true]);
  const gemms = [model.conv1.gemm, model.conv2.gemm, model.fc.gemm];
  const { x, labels } = tinyBatch(32, 16);
  const lossOf = () => crossEntropy(model.forward(x), labels);
  const buffersBefore = model.namedBuffers().map(([, b]) => new Float32Array(b.data));
  mon.begin(lossOf);
  model.namedBuffers().forEach(([name, b], i) => assert.deepEqual(b.data, buffersBefore[i], `${name} restored after the reference pass`));
  assert.deepEqual([model.conv1.gemm, model.conv2.gemm, model.fc.gemm], gemms, 'the FQT GEMMs are back');
  grad(lossOf());
  const rec = mon.finish(1, 0);
  assert.deepEqual(rec.layers.map((l) => l.layer), ['bn1', 'bn2']);
  for (const l of rec.layers) assert.ok(l.nsrOut! > 0 && l.nsrIn! > 0 && l.rmsIn > 0 && l.gammaSigma.mean > 0, `${l.layer}: ${JSON.stringify(l)}`);
  assert.equal(model.bn1.taps.length, 0, 'probes detached between sampled steps');
  const sum = mon.epochSummary()!;
  assert.match(sum.line, /^bn-diag \(1 sampled steps, every 3\): \|γ\|\/σ mean [\d.]+ max [\d.]+ \(bn[12]\)/);
  assert.ok(sum.metrics.bn_nsr_in > 0 && sum.metrics.bn_nsr_out > 0 && sum.metrics.bn_samples === 1);
  assert.equal(mon.epochSummary(), null, 'reset after the summary');
});

test('a gradient that grows 100× between sampled steps triggers a step-growth warning naming the layer (fp32: no NSR)', () => {
  const model = new TinyBnNet(33);
  const mon = new BnMonitor(model, null, null, 1, 10);
  const { x, labels } = tinyBatch(34, 16);
  let calls = 0;
  for (const scale of [1, 1.5, 100]) {
    mon.begin(() => { calls++; return crossEntropy(model.forward(x), labels); });
    grad(mul(crossEntropy(model.forward(x), labels), scale));
    const rec = mon.finish(1, calls);
    assert.ok(rec.layers.every((l) => l.nsrIn === null), 'no reference without gradient quantization');
    if (scale < 100) assert.deepEqual(rec.warnings, []);
    else {
      const w = rec.warnings.filter((v) => v.kind === 'step-growth');
      assert.deepEqual(w.map((v) => v.layer).sort(), ['bn1', 'bn2']);
      assert.match(w[0].message, /gradient explosion across steps: the gradient RMS at the input of BN 'bn\d' is 100\.0× its smallest value so far/);
    }
  }
  assert.equal(calls, 0, 'no reference pass for an fp32 model');
  const sum = mon.epochSummary()!;
  assert.match(sum.line, /no NSR \(no gradient quantization\).*2 warning\(s\)/);
  assert.equal(sum.warnings.length, 2);
  assert.equal(sum.metrics.bn_nsr_in, undefined);
  assertFqtError(() => new BnMonitor(model, null, null, 0), '--bn-diagnostics-every', '0');
});
