/**
 * --init (train/init-weights.ts): fine-tuning starts from saved weights; a head with another class count keeps
 * its fresh init; binary output scales absent from an fp32 file start at 1; errors name the file / tensor; the
 * trainer applies it (bin-qat weights → fqt1-agp-scq fine-tuning on another class count) and the model trains.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createModel } from '../../src/nn/models/index.js';
import { applyRecipe, preset } from '../../src/quant/index.js';
import { saveWeights } from '../../src/train/checkpoint.js';
import { headPrefix, initFromWeights } from '../../src/train/init-weights.js';
import { train } from '../../src/train/trainer.js';
import { DEFAULT_CONFIG, type TrainConfig } from '../../src/train/config.js';
import { flagRecipe, TRAIN_FLAGS, trainConfigFromFlags } from '../../src/cli/train.js';
import { parseFlags } from '../../src/cli/args.js';
import { FqtError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'fqt-init-'));
const spec = (classes: number) => ({ inChannels: 1, inputSize: 28, classes });

function saved(model: ReturnType<typeof createModel>, file: string, edit?: (m: Map<string, Tensor>) => void): string {
  const sd = new Map(model.stateDict());
  edit?.(sd);
  saveWeights(file, sd);
  return file;
}

test('--init copies every tensor, re-initialises a head with another class count, starts missing output scales at 1', () => {
  const dir = tmp();
  const src = createModel('preact-resnet18-w16', spec(10), new Rng(1));
  const file = saved(src, path.join(dir, 'w.safetensors'));
  const dst = createModel('preact-resnet18-w16', spec(5), new Rng(2));
  applyRecipe(dst, preset('fqt1-agp-scq'), { seed: 0 });
  const head = headPrefix(dst);
  assert.equal(head, 'fc');
  const headBefore = Float32Array.from(dst.stateDict().get('fc.weight')!.data);
  const r = initFromWeights(dst, file);
  assert.deepEqual(r.headReplaced.sort(), ['fc.bias', 'fc.weight']);
  assert.ok(r.defaulted.length > 0 && r.defaulted.every((n) => n.endsWith('.out_scale')), 'binary layers got output scales at 1');
  const srcSd = src.stateDict();
  for (const [name, t] of dst.stateDict()) {
    if (name.startsWith('fc.')) continue;
    if (name.endsWith('.out_scale')) { assert.ok(t.data.every((v) => v === 1), name); continue; }
    assert.deepEqual(t.data, srcSd.get(name)!.data, `${name} copied`);
  }
  assert.deepEqual(dst.stateDict().get('fc.weight')!.data, headBefore, 'head keeps its fresh init');
  assert.equal(r.loaded, srcSd.size - 2);
});

test('--init errors name the file or the tensor', () => {
  const dir = tmp();
  const src = createModel('lenet', spec(10), new Rng(1));
  const dst = () => createModel('lenet', spec(10), new Rng(3));
  assert.throws(() => initFromWeights(dst(), path.join(dir, 'missing.safetensors')), (e: unknown) => e instanceof FqtError && /missing\.safetensors: no such file/.test(e.message));
  const wrongShape = saved(src, path.join(dir, 'a.safetensors'), (m) => {
    const t = m.get('features.3.weight')!;
    m.set('features.3.weight', { shape: [t.shape[0] * t.shape[1], t.shape[2], t.shape[3]], data: t.data } as unknown as Tensor);
  });
  assert.throws(() => initFromWeights(dst(), wrongShape), (e: unknown) => e instanceof FqtError && /tensor 'features\.3\.weight' has shape \[96, 5, 5\] in the file but the model expects \[16, 6, 5, 5\]/.test(e.message));
  const missing = saved(src, path.join(dir, 'b.safetensors'), (m) => m.delete('features.0.bias'));
  assert.throws(() => initFromWeights(dst(), missing), (e: unknown) => e instanceof FqtError && /'features\.0\.bias' \[6\] is not in the file/.test(e.message));
  const extra = saved(src, path.join(dir, 'c.safetensors'), (m) => m.set('classifier.9.weight', m.get('features.0.bias')!));
  assert.throws(() => initFromWeights(dst(), extra), (e: unknown) => e instanceof FqtError && /file's tensor 'classifier\.9\.weight' does not exist in the model/.test(e.message));
  // The head may only differ in its class count, not in its input width.
  const headWidth = saved(src, path.join(dir, 'd.safetensors'), (m) => m.set('classifier.5.weight', { shape: [10, 83], data: new Float32Array(830) } as unknown as Tensor));
  assert.throws(() => initFromWeights(dst(), headWidth), (e: unknown) => e instanceof FqtError && /'classifier\.5\.weight' has shape \[10, 83\]/.test(e.message));
});

test('trainer: bin-qat pre-training then fqt1-agp-scq fine-tuning with --init on 5 classes; Adam by default from the CLI layer', () => {
  const dir = tmp();
  const base: TrainConfig = { ...DEFAULT_CONFIG, model: 'mlp', dataset: 'mnist', epochs: 1, batchSize: 32, trainLimit: 96, testLimit: 64, optimizer: 'adam', lr: 1e-3 };
  train({ ...base, recipe: 'bin-qat' }, { out: path.join(dir, 'pre'), quiet: true });
  const ckpt = path.join(dir, 'pre', 'checkpoints');
  const lines: string[] = [];
  const res = train({ ...base, recipe: 'fqt1-agp-scq', init: ckpt }, { quiet: true, log: (l) => lines.push(l) });
  assert.ok(lines.some((l) => /initialised \d+ tensors from .*checkpoints/.test(l)), lines.join('\n'));
  assert.ok(Number.isFinite(res.final!.train_loss));
  const scales = res.model.namedParameters().filter(([n]) => n.endsWith('.out_scale'));
  assert.equal(scales.length, 1, 'mlp: one hidden binary layer (first and last stay fp32)');
});

test('CLI: the 1-bit presets default to Adam with lr 1e-3 unless --optimizer / --lr are given', () => {
  const cfg = (...argv: string[]) => { const f = parseFlags('train', TRAIN_FLAGS, argv); return trainConfigFromFlags(f, flagRecipe(f.recipe)); };
  assert.deepEqual([cfg('--recipe', 'fqt1-agp-scq').optimizer, cfg('--recipe', 'fqt1-agp-scq').lr], ['adam', 1e-3]);
  assert.deepEqual([cfg('--recipe', 'bin-qat', '--optimizer', 'sgd').optimizer, cfg('--recipe', 'fqt1-psq', '--lr', '0.01').lr], ['sgd', 0.01]);
  assert.deepEqual([cfg('--recipe', 'psq4').optimizer, cfg('--recipe', 'psq4').lr], [DEFAULT_CONFIG.optimizer, DEFAULT_CONFIG.lr]);
  assert.equal(cfg('--init', 'w.safetensors').init, 'w.safetensors');
});
