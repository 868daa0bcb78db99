/**
 * FNT (METHODS §2.5, recipe add-on `fnt`): the trainer switches to full precision at the right epoch with its
 * own constant lr, records the phase in the epoch metrics, logs the switch, and a run interrupted inside the
 * FNT phase resumes to exactly the uninterrupted numbers (the phase follows from the epoch number).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { train } from '../../src/train/trainer.js';
import { DEFAULT_CONFIG, type TrainConfig } from '../../src/train/config.js';
import { assertFqtError } from '../helpers/errors.js';

function recipeFile(dir: string, fnt: Record<string, unknown>): string {
  const file = path.join(dir, 'luq-fnt.json');
  writeFileSync(file, JSON.stringify({ version: 1, extends: 'luq4-smp2', label: 'luq4-fnt-test', addons: { fnt } }));
  return file;
}

function config(recipe: string, epochs = 3): TrainConfig {
  return { ...DEFAULT_CONFIG, model: 'mlp', dataset: 'synthetic', epochs, batchSize: 32, lr: 0.05, schedule: 'cosine', seed: 5, recipe };
}

const numbers = (h: { epoch: number; train_loss: number; test_acc: number; test_loss: number; lr: number }[]) =>
  h.map((m) => [m.epoch, m.train_loss, m.test_loss, m.test_acc, m.lr]);

test('FNT from epoch 3: epochs 1–2 quantized, epoch 3 fp32 at lrScale × lr; the switch is logged once', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-fnt-'));
  const lines: string[] = [];
  const r = train(config(recipeFile(dir, { fromEpoch: 3, lrScale: 0.5 })), { quiet: true, log: (l) => lines.push(l) });
  assert.deepEqual(r.history.map((m) => m.phase), ['quant', 'quant', 'fnt']);
  assert.equal(r.history[2].lr, 0.025);
  assert.notEqual(r.history[1].lr, 0.025);
  assert.equal(lines.filter((l) => l.includes('FNT phase')).length, 1);
  assert.match(lines.find((l) => l.includes('FNT phase'))!, /epoch 3/);
  // After the run the model is full precision: its layers run the fp32 GEMM.
  const gemms = r.model.namedModules().map(([, m]) => (m as { gemm?: { name: string } }).gemm?.name).filter((n) => n !== undefined);
  assert.ok(gemms.length > 0 && gemms.every((n) => n === 'linearRows'), `layer GEMMs after FNT: ${gemms.join(', ')}`);
  // lastEpochs: 1 of 3 is the same switch point.
  const last = train(config(recipeFile(dir, { lastEpochs: 1, lr: 0.01 })), { quiet: true });
  assert.deepEqual(last.history.map((m) => [m.phase, m.lr === 0.01]), [['quant', false], ['quant', false], ['fnt', true]]);
});

test('FNT resume: a run interrupted inside the FNT epoch ends with exactly the uninterrupted numbers', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-fnt-resume-'));
  const file = recipeFile(dir, { lastEpochs: 1, lrScale: 0.1 });
  const full = train(config(file), { quiet: true, out: path.join(dir, 'full') });
  const out = path.join(dir, 'killed');
  assert.throws(() => train(config(file), {
    quiet: true, out, checkpointSeconds: 1e-9,
    onStep: (epoch, batch) => { if (epoch === 2 && batch === 3) throw new Error('simulated crash'); },
  }), /simulated crash/);
  const lines: string[] = [];
  const resumed = train(config(file), { quiet: true, out, resume: true, log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => l.includes('resumed')) && lines.some((l) => l.includes('FNT phase')), lines.join('\n'));
  assert.deepEqual(resumed.history.map((m) => m.phase), ['quant', 'quant', 'fnt']);
  assert.deepEqual(numbers(resumed.history), numbers(full.history));
});

test('FNT covering every epoch is rejected naming the key', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-fnt-bad-'));
  assertFqtError(() => train(config(recipeFile(dir, { lastEpochs: 2 }), 2), { quiet: true }), 'recipe.addons.fnt.lastEpochs', 'all 2 epoch');
  assertFqtError(() => train(config(recipeFile(dir, { fromEpoch: 1 }), 2), { quiet: true }), 'recipe.addons.fnt.fromEpoch');
});
