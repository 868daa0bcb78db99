/**
 * `fit()`: the caller's own Module and data set object get the same trainer as the named models — recipes (by
 * name or value, with their training defaults), checkpoints, a hook that stops the run (as a signal handler or a
 * guard would), and an exact resume from that stop.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fit, type FitOptions } from '../../src/train/trainer.js';
import { Module } from '../../src/nn/module.js';
import { Flatten, Linear } from '../../src/nn/layers.js';
import { syntheticBlobs } from '../../src/data/synthetic.js';
import { Rng } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { relu } from '../../src/ops/elementwise.js';
import { preset } from '../../src/quant/presets.js';
import type { TrainHook } from '../../src/train/hooks.js';

class TinyNet extends Module {
  private readonly flat = new Flatten();
  private readonly l1: Linear;
  private readonly l2: Linear;
  private readonly l3: Linear;
  constructor(inFeatures: number, classes: number, seed: number) {
    super();
    const rng = new Rng(seed);
    this.l1 = this.addModule('l1', new Linear(inFeatures, 24, rng));
    this.l2 = this.addModule('l2', new Linear(24, 24, rng));
    this.l3 = this.addModule('l3', new Linear(24, classes, rng));
  }
  forward(x: Tensor): Tensor {
    return this.l3.forward(relu(this.l2.forward(relu(this.l1.forward(this.flat.forward(x))))));
  }
}

const data = { ...syntheticBlobs({ trainSize: 192, testSize: 64, classes: 4, channels: 1, size: 6, seed: 3 }), name: 'blobs' };
const net = (): TinyNet => new TinyNet(36, 4, 11);
const opts: FitOptions = { epochs: 2, batchSize: 32, lr: 0.1, seed: 4, quiet: true };
const numbers = (h: { train_loss: number; test_loss: number; test_acc: number; lr: number }[]) => h.map((m) => [m.train_loss, m.test_loss, m.test_acc, m.lr]);

test('fit trains a custom Module on a data set object, with a recipe by name, and records them', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'fqt-fit-'));
  const r = fit(net(), data, { ...opts, recipe: 'psq8', out });
  assert.equal(r.history.length, 2);
  assert.ok(r.final!.test_acc > 0.5, `learns the blobs: ${r.final!.test_acc}`);
  assert.ok(r.history[1].train_loss < r.history[0].train_loss);
  assert.equal(r.final!.recipe, 'psq8');
  const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { config: { model: string; dataset: string; recipe: string }; gemmPaths: unknown[] };
  assert.deepEqual([run.config.model, run.config.dataset, run.config.recipe, run.gemmPaths.length], ['TinyNet', 'blobs', 'psq8', 3]);
  assert.ok(existsSync(path.join(out, 'checkpoints', 'latest.json')));
});

test("fit takes a recipe value and applies its training defaults (bin-qat: Adam, lr 1e-3) unless given", () => {
  assert.deepEqual([fit(net(), data, { ...opts, epochs: 1, lr: undefined, recipe: preset('bin-qat') }).config].map((c) => [c.optimizer, c.lr]), [['adam', 1e-3]]);
  assert.deepEqual([fit(net(), data, { ...opts, epochs: 1, recipe: 'bin-qat', optimizer: 'sgd' }).config].map((c) => [c.optimizer, c.lr]), [['sgd', 0.1]]);
});

test("an onStep 'stop' ends the run at a checkpoint; resume ends with the uninterrupted numbers", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-fit-stop-'));
  const full = fit(net(), data, { ...opts, out: path.join(dir, 'full') });
  const out = path.join(dir, 'stopped');
  const stopped = fit(net(), data, { ...opts, out, onStep: (e, b) => (e === 1 && b === 2 ? 'stop' : undefined) });
  assert.equal(stopped.stopped, true);
  assert.equal(stopped.history.length, 1);
  const resumed = fit(net(), data, { ...opts, out, resume: true });
  assert.equal(resumed.stopped, false);
  assert.deepEqual(numbers(resumed.history), numbers(full.history));
});

test('a user hook sees every epoch start and end and adds a metric', () => {
  const seen: string[] = [];
  const hook: TrainHook = {
    key: 'probe',
    beforeStep: (s) => { if (s.batch === 0) seen.push(`e${s.epoch}`); },
    onEpochEnd: () => ({ metrics: { probe: seen.length } }),
  };
  const r = fit(net(), data, { ...opts, hooks: [hook] });
  assert.deepEqual(seen, ['e0', 'e1']);
  assert.deepEqual(r.history.map((m) => m.probe), [1, 2]);
});
