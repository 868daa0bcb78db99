/**
 * PyTorch interop against tools/golden/gen.py (torch 1.13):
 *  - dtypes.safetensors: a file with F16, BF16, F64, F32, I64, I32, I16, U8 and BOOL tensors written from torch
 *    tensors; fqt reads every value as torch converts it to float32 (F64: rounded to nearest), integers exactly.
 *  - torch_resnet20.json: a PyTorch CIFAR ResNet-20 in torchvision's names (downsample, fc) with an int64
 *    num_batches_tracked per BatchNorm. Its weights come from fqt's counter RNG, so this test regenerates the state
 *    dict and the safetensors bytes; their sha256 equals that of the file gen.py wrote from the torch state dict,
 *    i.e. the file loaded here is byte for byte the PyTorch-saved one. It loads through --init (name map, dtype
 *    handling), `fqt convert` both ways, and gives torch's eval-mode logits on a fixed batch.
 * Tolerance of the logits: torch computed in float64 from the same float32 weights; fqt runs float32 through 20
 * layers. Measured |fqt − torch| ≤ 4·10⁻⁷ × max|logit| on this fixture; allowed: 1·10⁻⁵ × max|logit| + rtol 1·10⁻⁵.
 */
import '../helpers/backend.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createModel } from '../../src/nn/models/index.js';
import { noGrad } from '../../src/autograd/mode.js';
import { Rng, streamKey, uniformAt } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { encodeSafetensors, readSafetensors, type AnyTensorLike } from '../../src/train/safetensors.js';
import { initFromWeights } from '../../src/train/init-weights.js';
import { loadWeights } from '../../src/train/checkpoint.js';
import { fixturePath, loadFixture, type TensorJson } from './fixtures.js';
import { runFqt } from '../cli/run-cli.js';
import { assertClose } from '../helpers/approx.js';

interface DtypesFixture { tensors: Record<string, { dtype: string; shape: number[]; f32?: (number | string)[]; int?: string[] }> }

/** A float32 of the fixture: 9 significant digits (Math.fround restores the exact value) or 'inf' / '-inf'. */
const fromJson = (v: number | string): number => (v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : Math.fround(Number(v)));

test('every dtype of a torch-written file reads as torch converts it (floats to float32, integers exactly)', () => {
  const fx = loadFixture<DtypesFixture>('dtypes.json');
  const content = readSafetensors(fixturePath('dtypes.safetensors'));
  assert.deepEqual([...content.tensors.keys()].sort(), Object.keys(fx.tensors).sort());
  for (const [name, want] of Object.entries(fx.tensors)) {
    const got = content.tensors.get(name)!;
    assert.equal(got.dtype, want.dtype, name);
    assert.deepEqual(got.shape, want.shape, name);
    if (want.f32) {
      assert.ok(got.data instanceof Float32Array, `${name}: read as Float32Array`);
      assert.deepEqual(Array.from(got.data), want.f32.map(fromJson), name);
    } else {
      assert.deepEqual(Array.from(got.data as ArrayLike<number | bigint>, (v) => String(v)), want.int, name);
    }
  }
  // As weights: every float tensor, num_batches_tracked skipped, any other integer tensor refused by name.
  assert.throws(() => loadWeights(fixturePath('dtypes.safetensors')), /tensor 'i64' has dtype I64; fqt loads weights from float tensors/);
});

interface ResnetFixture {
  seed: number; inChannels: number; inputSize: number; classes: number; metadata: Record<string, string>;
  sha256: string; bytes: number; tensors: { name: string; shape: number[]; fill: string; fanIn: number }[];
  x: { stream: number; shape: number[]; scale: number }; logits: TensorJson;
}

function uniforms(seed: number, stream: number, n: number): Float64Array {
  const key = streamKey(seed, stream);
  return Float64Array.from({ length: n }, (_, i) => uniformAt(key, i));
}

/** The torch state dict of the fixture, regenerated exactly as gen.py's fill() makes it. */
function torchState(fx: ResnetFixture): [string, AnyTensorLike][] {
  return fx.tensors.map((t, index): [string, AnyTensorLike] => {
    if (t.fill === 'count') return [t.name, { shape: t.shape, data: BigInt64Array.of(BigInt(1000 + index)) }];
    const n = t.shape.reduce((a, b) => a * b, 1);
    const f: Record<string, (u: number) => number> = {
      he: (u) => (u - 0.5) * Math.sqrt(24 / t.fanIn), bias: (u) => (u - 0.5) * 0.2, gamma: (u) => 0.5 + u,
      beta: (u) => (u - 0.5) * 0.4, mean: (u) => (u - 0.5) * 0.4, var: (u) => 0.5 + u,
    };
    return [t.name, { shape: t.shape, data: Float32Array.from(uniforms(fx.seed, index, n), f[t.fill]) }];
  });
}

test('a PyTorch ResNet-20 state dict (torchvision names, int64 buffers) loads with --init and gives torch\'s logits', () => {
  const fx = loadFixture<ResnetFixture>('torch_resnet20.json');
  const bytes = Buffer.concat(encodeSafetensors(torchState(fx), fx.metadata));
  assert.equal(bytes.length, fx.bytes);
  assert.equal(createHash('sha256').update(bytes).digest('hex'), fx.sha256, 'byte for byte the file gen.py wrote from the torch state dict');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-torch-'));
  const file = path.join(dir, 'resnet20-torch.safetensors');
  writeFileSync(file, bytes);

  const model = createModel('resnet20', { inChannels: fx.inChannels, inputSize: fx.inputSize, classes: fx.classes }, new Rng(3));
  const r = initFromWeights(model, file);
  assert.equal(r.loaded, model.stateDict().size, 'every fqt tensor came from the file');
  assert.equal(r.renamed, 10, 'two downsample blocks × (conv weight + 4 BN tensors) renamed to shortcut');
  model.eval();
  const x = new Tensor(Float32Array.from(uniforms(fx.seed, fx.x.stream, 2 * 3 * 32 * 32), (u) => (u - 0.5) * fx.x.scale), fx.x.shape);
  const logits = noGrad(() => model.forward(x));
  const scale = Math.max(...fx.logits.data.map(Math.abs));
  assertClose(logits.data, fx.logits.data, { atol: 1e-5 * scale, rtol: 1e-5 }, 'logits');

  // fqt convert: to fqt's names (checked against the model), and back to PyTorch's (the same names as torch's).
  const fqtFile = path.join(dir, 'resnet20-fqt.safetensors'), back = path.join(dir, 'resnet20-back.safetensors');
  const c1 = runFqt(['convert', file, fqtFile, '--model', 'resnet20', '--dataset', 'cifar10']);
  assert.equal(c1.status, 0, c1.stderr);
  assert.match(c1.stdout, /wrote .*: \d+ tensors in fqt's names \(\d+ renamed\)/);
  assert.deepEqual([...loadWeights(fqtFile).keys()].sort(), [...model.stateDict().keys()].sort());
  const c2 = runFqt(['convert', fqtFile, back, '--to', 'torch']);
  assert.equal(c2.status, 0, c2.stderr);
  assert.deepEqual([...readSafetensors(back).tensors.keys()].sort(), fx.tensors.map((t) => t.name).sort());
  const bad = runFqt(['convert', file, path.join(dir, 'x.safetensors'), '--model', 'resnet32', '--dataset', 'cifar10']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /--model resnet32: its tensor 'layer1\.3\.conv1\.weight' \[16, 16, 3, 3\] is not in the file/);
});

test('fqt train --init takes the PyTorch file as it is (CIFAR-10 layout, a few records)', () => {
  const fx = loadFixture<ResnetFixture>('torch_resnet20.json');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-torch-init-'));
  const file = path.join(dir, 'w.safetensors');
  writeFileSync(file, Buffer.concat(encodeSafetensors(torchState(fx), fx.metadata)));
  const data = path.join(dir, 'cifar');
  mkdirSync(data);
  const record = (i: number) => Buffer.concat([Buffer.of(i % 10), Buffer.alloc(3072, (i * 37) % 256)]);
  const batch = Buffer.concat(Array.from({ length: 8 }, (_, i) => record(i)));
  for (const name of ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin', 'test_batch.bin']) writeFileSync(path.join(data, name), batch);
  const r = runFqt(['train', '--model', 'resnet20', '--dataset', 'cifar10', '--data', data, '--init', file, '--epochs', '1', '--batch-size', '8',
    '--train-limit', '8', '--test-limit', '8', '--out', path.join(dir, 'run')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /initialised \d+ tensors from .*w\.safetensors \(\d+ PyTorch names mapped to fqt's\)/);
});
