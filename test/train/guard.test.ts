/**
 * Divergence guard and validation at the edge (issue 18): a non-finite gradient stops training naming the first
 * layer (or is skipped and counted), no non-finite value reaches a checkpoint, train() without `out` never returns
 * non-finite weights, --init rejects NaN weights, and config / recipe values outside their ranges are errors naming
 * the field and the allowed values.
 */
import '../helpers/backend.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parameter } from '../../src/tensor/tensor.js';
import { add, mul, sqrt } from '../../src/ops/elementwise.js';
import { sum } from '../../src/ops/reduce.js';
import { DivergenceGuard } from '../../src/train/guard.js';
import { train } from '../../src/train/trainer.js';
import { DEFAULT_CONFIG, type TrainConfig, validateConfig } from '../../src/train/config.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';
import { writeSafetensors } from '../../src/train/safetensors.js';
import { recipeFromData } from '../../src/quant/presets.js';
import { assertFqtError } from '../helpers/errors.js';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'fqt-guard-'));
const CONFIG: TrainConfig = { ...DEFAULT_CONFIG, model: 'mlp', dataset: 'synthetic', epochs: 2, batchSize: 32, lr: 0.05, trainLimit: 64, testLimit: 32 };
const quiet = { quiet: true, log: () => {} };

test('a non-finite gradient stops naming the first parameter whose gradient is non-finite; skip drops and counts the step', () => {
  const a = parameter(Float32Array.of(1, 2), [2], 'a'), b = parameter(new Float32Array(3), [3], 'b'), c = parameter(new Float32Array(1), [1], 'c');
  // loss = Σa + Σ sqrt(b)·0 + Σ sqrt(c)·0 = 3, finite; d/db = d/dc = 0·(0.5/√0) = NaN.
  const lossOf = () => add(add(sum(a), sum(mul(sqrt(b), 0))), sum(mul(sqrt(c), 0)));
  const at = { epoch: 1, batch: 4, lr: 0.1 };
  const stop = new DivergenceGuard([['a', a], ['b', b], ['c', c]]);
  assertFqtError(() => stop.gradients(3, lossOf(), at), "training diverged: the gradient of 'b' (NaN at index 0) is non-finite (loss 3) at epoch 2, batch 5 (lr 0.100)");
  assertFqtError(() => stop.gradients(NaN, lossOf(), at), 'training diverged: loss is NaN at epoch 2, batch 5');
  const skip = new DivergenceGuard([['a', a], ['b', b]], 'skip');
  assert.equal(skip.gradients(3, lossOf(), at), null);
  assert.equal(skip.gradients(Infinity, lossOf(), at), null);
  assert.equal(skip.skipped, 2);
  const ok = new DivergenceGuard([['a', a]], 'skip').gradients(2, sum(a), at);
  assert.ok(ok !== null && ok.get(a) !== undefined);
  a.data[1] = Infinity;
  assertFqtError(() => stop.checkWeights(at), "weight 'a' (Infinity at index 1) became non-finite in the update");
});

test('a diverging run stops at the step, train() without out never returns non-finite weights, and no checkpoint holds one', () => {
  assertFqtError(() => train({ ...CONFIG, lr: 1000 }, quiet), /training diverged: .* at epoch \d+, batch \d+/);
  // Diverging inside the first epoch of a fresh run directory: there is no checkpoint to call untouched.
  const fresh = assertFqtError(() => train({ ...CONFIG, lr: 1000, trainLimit: 0 }, { ...quiet, out: tmp(), checkpointSeconds: 0 }), /training diverged: .* at epoch 1,/);
  assert.ok(!fresh.message.includes('untouched'), fresh.message);
  const out = tmp();
  assertFqtError(() => train({ ...CONFIG, epochs: 4, lr: 1000 }, { ...quiet, out, checkpointSeconds: 1e-9 }), /training diverged/);
  const ckpts = path.join(out, 'checkpoints');
  for (const d of fs.readdirSync(ckpts).filter((n) => n.startsWith('ckpt-'))) {
    const ck = loadCheckpoint(path.join(ckpts, d));
    for (const [name, t] of ck.model) assert.ok(t.data.every(Number.isFinite), `${d}: ${name} is finite`);
  }
});

test('--on-nonfinite skip reports the skipped steps in the metrics', () => {
  const r = train({ ...CONFIG, onNonFinite: 'skip' }, quiet);
  assert.equal(r.final!.skipped_steps, 0);
});

test('--init with a NaN weight file is rejected naming the tensor', () => {
  const dir = tmp(), file = path.join(dir, 'bad.safetensors');
  const data = new Float32Array(6);
  data[4] = NaN;
  writeSafetensors(file, [['layers.1.weight', { shape: [2, 3], data }]]);
  assertFqtError(() => train({ ...CONFIG, init: file }, quiet), `--init ${file}: tensor 'layers.1.weight' (NaN at index 4) is non-finite`);
});

test('config and recipe values outside their ranges are errors naming the field and the allowed values', () => {
  const bad: [Partial<TrainConfig>, string][] = [
    [{ batchSize: 1e12 }, 'batchSize (--batch-size) must be an integer in [1, 1048576], got 1000000000000'],
    [{ lr: NaN }, 'lr (--lr) must be a number in (0, 1000], got null'],
    [{ lr: 1e9 }, 'lr (--lr) must be a number in (0, 1000], got 1000000000'],
    [{ epochs: 2.5 }, 'epochs (--epochs) must be an integer in [1, 100000], got 2.5'],
    [{ momentum: 1 }, 'momentum (--momentum) must be a number in [0, 1), got 1'],
    [{ optimizer: 'sgdx' as TrainConfig['optimizer'] }, 'optimizer (--optimizer) must be one of sgd, adam, adamw, got "sgdx"'],
    [{ schedule: 'linear' as TrainConfig['schedule'] }, 'schedule (--schedule) must be one of constant, cosine, step, got "linear"'],
    [{ onNonFinite: 'ignore' as TrainConfig['onNonFinite'] }, 'onNonFinite (--on-nonfinite) must be one of stop, skip, got "ignore"'],
  ];
  for (const [change, msg] of bad) assertFqtError(() => validateConfig({ ...CONFIG, ...change }), msg);
  assertFqtError(() => train({ ...CONFIG, batchSize: 65 }, quiet), 'batchSize (--batch-size) must be at most the 64 training samples (--train-limit 64), got 65');
  assertFqtError(() => recipeFromData({ version: 1, extends: 'ptq4', addons: { bnRectify: { lambda: 1e30 } } }), 'lambda', 'a finite number in [0, 100]');
});
