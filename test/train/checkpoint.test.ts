/** Checkpoints: layout, rotation, crash safety, corruption errors, NaN refusal and exact resume. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GradStore } from '../../src/autograd/graph.js';
import { FqtError } from '../../src/tensor/errors.js';
import { Tensor, parameter } from '../../src/tensor/tensor.js';
import { createOptimizer, type NamedParams } from '../../src/optim/index.js';
import { latestCheckpoint, latestCheckpointPath, loadCheckpoint, loadWeights, saveCheckpoint, saveWeights, type CheckpointData, type SaveStep } from '../../src/train/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../../src/train/safetensors.js';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fqt-ckpt-'));
}

function makeParams(seed: number): NamedParams {
  const mk = (name: string, shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    return [name, parameter(Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 13 + i)), shape, name)] as [string, Tensor];
  };
  return [mk('conv.weight', [2, 3, 3, 3]), mk('bn.weight', [2]), mk('fc.bias', [5])];
}

function stepAll(params: NamedParams, opt: ReturnType<typeof createOptimizer>, step: number): void {
  const g = new GradStore();
  params.forEach(([, p], k) => g.set(p, new Tensor(Float32Array.from(p.data, (_, j) => Math.cos(step * 7 + k * 3 + j)), p.shape)));
  opt.setLr(0.01 * (1 + Math.cos(step)));
  opt.step(g);
}

function checkpointOf(params: NamedParams, opt: ReturnType<typeof createOptimizer>, state: Record<string, unknown>): CheckpointData {
  return { model: new Map(params), optimizer: opt.stateDict(), state };
}

function setup(): { dir: string; params: NamedParams; opt: ReturnType<typeof createOptimizer> } {
  const params = makeParams(1);
  const opt = createOptimizer('adamw', params, { lr: 0.01 });
  stepAll(params, opt, 0);
  return { dir: path.join(tmpDir(), 'checkpoints'), params, opt };
}

function entries(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}

test('save and load: layout, weights, optimizer state and run state', () => {
  const { dir, params, opt } = setup();
  assert.equal(latestCheckpoint(dir), null, 'no checkpoint yet (directory absent)');
  const state = { epoch: 3, iteration: 120, rng: { seed: 7, stream: 42 }, recipe: 'w8a8g8', metrics: [{ loss: 1.25, acc: null }] };
  const written = saveCheckpoint(dir, checkpointOf(params, opt, state));
  assert.equal(written, path.join(dir, 'ckpt-000001'));
  assert.deepEqual(entries(dir), ['ckpt-000001', 'latest.json']);
  assert.deepEqual(entries(written), ['model.safetensors', 'optimizer.safetensors', 'state.json']);
  const ck = latestCheckpoint(dir)!;
  assert.equal(ck.path, written);
  assert.deepEqual(ck.state, state);
  for (const [name, p] of params) {
    assert.deepEqual(ck.model.get(name)!.shape, p.shape);
    assert.deepEqual([...ck.model.get(name)!.data], [...p.data], name);
  }
  const sd = opt.stateDict();
  assert.deepEqual(ck.optimizer.meta, sd.meta);
  assert.deepEqual([...ck.optimizer.tensors.keys()].sort(), [...sd.tensors.keys()].sort());
  for (const [k, v] of sd.tensors) assert.deepEqual([...ck.optimizer.tensors.get(k)!], [...v], k);
  // model.safetensors stands alone (e.g. --init); loadWeights accepts the file, a checkpoint directory or the
  // run directory that holds checkpoints/.
  for (const p of [path.join(written, 'model.safetensors'), dir, written, path.dirname(dir)]) {
    assert.deepEqual([...loadWeights(p).get('fc.bias')!.data], [...params[2][1].data], p);
  }
  assert.deepEqual(readSafetensors(path.join(written, 'model.safetensors')).metadata, { format: 'pt', producer: 'fqt' });
  assert.deepEqual(loadCheckpoint(written).state, state, 'a ckpt directory loads directly');
});

test('keeps the last two checkpoints and numbers them in order', () => {
  const { dir, params, opt } = setup();
  for (let i = 1; i <= 4; i++) saveCheckpoint(dir, checkpointOf(params, opt, { i }));
  assert.deepEqual(entries(dir), ['ckpt-000003', 'ckpt-000004', 'latest.json']);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')).history, ['ckpt-000004', 'ckpt-000003']);
  assert.deepEqual(latestCheckpoint(dir)!.state, { i: 4 });
  saveCheckpoint(dir, checkpointOf(params, opt, { i: 5 }), { keep: 1 });
  assert.deepEqual(entries(dir), ['ckpt-000005', 'latest.json']);
});

for (const step of ['files-written', 'renamed', 'pointer-written'] as SaveStep[]) {
  test(`a crash after '${step}' leaves a loadable checkpoint and the next save cleans up`, () => {
    const { dir, params, opt } = setup();
    saveCheckpoint(dir, checkpointOf(params, opt, { n: 1 }));
    saveCheckpoint(dir, checkpointOf(params, opt, { n: 2 }));
    const crash = () => { throw new Error('simulated crash'); };
    const hook = (s: SaveStep) => { if (s === step) crash(); };
    assert.throws(() => saveCheckpoint(dir, checkpointOf(params, opt, { n: 3 }), { onStep: hook }), /simulated crash/);
    const expected = step === 'pointer-written' ? 3 : 2;
    assert.deepEqual(latestCheckpoint(dir)!.state, { n: expected });
    assert.ok(!entries(dir).some((e) => e.startsWith('.tmp')), 'a failed save removes its temporary directory');
    saveCheckpoint(dir, checkpointOf(params, opt, { n: 4 }));
    assert.deepEqual(latestCheckpoint(dir)!.state, { n: 4 });
    const names = entries(dir).filter((e) => e.startsWith('ckpt-'));
    assert.equal(names.length, 2, `only two checkpoints remain: ${names}`);
    assert.deepEqual(loadCheckpoint(path.join(dir, names[0])).state, { n: expected }, 'the previous published one is kept');
  });
}

test('leftovers of a killed save (stale tmp dir, stale pointer tmp, orphan ckpt) are ignored, then removed', () => {
  const { dir, params, opt } = setup();
  saveCheckpoint(dir, checkpointOf(params, opt, { n: 1 }));
  fs.mkdirSync(path.join(dir, '.tmp-ckpt-99999-deadbeef'));
  fs.writeFileSync(path.join(dir, '.tmp-ckpt-99999-deadbeef', 'model.safetensors'), 'half a fi');
  fs.writeFileSync(path.join(dir, '.tmp-latest.json-99999-deadbeef'), '{"format":');
  fs.mkdirSync(path.join(dir, 'ckpt-000002'));
  fs.writeFileSync(path.join(dir, 'ckpt-000002', 'state.json'), '{');
  assert.deepEqual(latestCheckpoint(dir)!.state, { n: 1 });
  const written = saveCheckpoint(dir, checkpointOf(params, opt, { n: 3 }));
  assert.equal(path.basename(written), 'ckpt-000003', 'never reuses the name of an orphan');
  assert.deepEqual(entries(dir), ['ckpt-000001', 'ckpt-000003', 'latest.json']);
});

test('a checkpoint failing a check is skipped for the previous one with a warning naming the file, never loaded', () => {
  const { dir, params, opt } = setup();
  saveCheckpoint(dir, checkpointOf(params, opt, { n: 1 }));
  const latest = saveCheckpoint(dir, checkpointOf(params, opt, { n: 2 }));
  const files = Object.fromEntries(['model.safetensors', 'optimizer.safetensors', 'state.json'].map((f) => [f, fs.readFileSync(path.join(latest, f))]));
  const restore = () => { for (const [f, b] of Object.entries(files)) fs.writeFileSync(path.join(latest, f), b); };
  const expectFallback = (re: RegExp, opts: Parameters<typeof latestCheckpoint>[1] = {}) => {
    const warnings: string[] = [];
    const ck = latestCheckpoint(dir, { ...opts, warn: (l) => warnings.push(l) })!;
    assert.deepEqual(ck.state, { n: 1 }, `${re}: the previous checkpoint is loaded`);
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], re);
    assert.match(warnings[0], /using the previous checkpoint .*ckpt-000001/);
  };

  fs.truncateSync(path.join(latest, 'model.safetensors'), files['model.safetensors'].length - 10);
  expectFallback(/ckpt-000002\/model\.safetensors: corrupt checkpoint file: \d+ bytes, expected \d+ \(truncated\)/);
  restore();
  const flipped = Buffer.from(files['optimizer.safetensors']);
  flipped[flipped.length - 3] ^= 0x40;
  fs.writeFileSync(path.join(latest, 'optimizer.safetensors'), flipped);
  expectFallback(/optimizer\.safetensors: corrupt checkpoint file: sha256/);
  restore();
  fs.writeFileSync(path.join(latest, 'state.json'), files['state.json'].subarray(0, 50));
  expectFallback(/ckpt-000002\/state\.json: corrupt checkpoint state: not valid JSON/);
  fs.writeFileSync(path.join(latest, 'state.json'), '{"format": "other"}');
  expectFallback(/state\.json: corrupt checkpoint state/);
  // Valid JSON with one field changed: the content hash catches it.
  fs.writeFileSync(path.join(latest, 'state.json'), files['state.json'].toString().replace('"n": 2', '"n": 7'));
  expectFallback(/state\.json: corrupt checkpoint state: its content hash .* does not match/);
  restore();
  fs.rmSync(path.join(latest, 'model.safetensors'));
  expectFallback(/model\.safetensors: missing from the checkpoint/);
  restore();
  // The caller's validation of the run state: a failing state is skipped too.
  expectFallback(/state n = 2 is bad/, { validate: (st) => { if (st.n === 2) throw new FqtError('state n = 2 is bad'); } });
  assert.deepEqual(latestCheckpoint(dir)!.state, { n: 2 });
  // Nothing good at all: the error names the newest checkpoint's problem.
  assert.throws(() => latestCheckpoint(dir, { validate: () => { throw new FqtError('never good'); } }), /never good/);

  const warnings: string[] = [];
  fs.writeFileSync(path.join(dir, 'latest.json'), '{"format": "fqt-checkpoint-pointer", "vers');
  assert.deepEqual(latestCheckpoint(dir, { warn: (l) => warnings.push(l) })!.state, { n: 2 }, 'newest complete directory');
  assert.match(warnings[0], /latest\.json: corrupt checkpoint pointer: not valid JSON/);
  fs.writeFileSync(path.join(dir, 'latest.json'), JSON.stringify({ format: 'fqt-checkpoint-pointer', version: 1, latest: '../../etc', history: ['../../etc'] }));
  assert.deepEqual(latestCheckpoint(dir, { warn: (l) => warnings.push(l) })!.state, { n: 2 });
  assert.match(warnings[1], /latest\.json: corrupt checkpoint pointer/);
  // A save with an unreadable pointer publishes a new checkpoint but deletes nothing.
  saveCheckpoint(dir, checkpointOf(params, opt, { n: 3 }));
  assert.deepEqual(latestCheckpoint(dir)!.state, { n: 3 });
  assert.deepEqual(entries(dir), ['ckpt-000001', 'ckpt-000002', 'ckpt-000003', 'latest.json']);
  assert.throws(() => loadCheckpoint(path.join(dir, 'nothing')), /nothing: no checkpoint here/);
});

test('refuses to save non-finite weights or optimizer buffers, leaving the previous checkpoint in place', () => {
  const { dir, params, opt } = setup();
  saveCheckpoint(dir, checkpointOf(params, opt, { n: 1 }));
  const before = entries(dir);
  params[1][1].data[1] = NaN;
  assert.throws(() => saveCheckpoint(dir, checkpointOf(params, opt, { n: 2 })), (e: unknown) =>
    e instanceof FqtError && /refusing to save: weight 'bn.weight' has a non-finite value \(NaN\) at index 1/.test(e.message));
  params[1][1].data[1] = 1;
  const sd = opt.stateDict();
  sd.tensors.get('fc.bias.exp_avg_sq')![2] = Infinity;
  assert.throws(() => saveCheckpoint(dir, { model: new Map(params), optimizer: sd, state: {} }), /optimizer buffer 'fc.bias.exp_avg_sq' has a non-finite value \(Infinity\)/);
  assert.throws(() => saveCheckpoint(dir, checkpointOf(params, opt, { big: 1n })), /run state is not JSON-serialisable/);
  assert.deepEqual(entries(dir), before);
  assert.deepEqual(latestCheckpoint(dir)!.state, { n: 1 });

  const file = path.join(tmpDir(), 'w.safetensors');
  saveWeights(file, new Map(params), { recipe: 'fp32' });
  const good = params[0][1].data[5];
  params[0][1].data[5] = -Infinity;
  assert.throws(() => saveWeights(file, new Map(params)), /weight 'conv.weight' has a non-finite value \(-Infinity\) at index 5/);
  assert.equal(loadWeights(file).get('conv.weight')!.data[5], good, 'the good file is untouched');
  assert.deepEqual(readSafetensors(file).metadata, { format: 'pt', producer: 'fqt', recipe: 'fp32' });
});

test('loadWeights rejects non-F32 tensors, naming the entry and the file', () => {
  const file = path.join(tmpDir(), 'q.safetensors');
  writeSafetensors(file, [['codes', { shape: [2], data: Int8Array.of(1, 2) }]]);
  assert.throws(() => loadWeights(file), /q\.safetensors: tensor 'codes' has dtype I8; fqt loads weights from float tensors \(F32, F16, BF16, F64\)/);
  assert.throws(() => loadWeights(path.dirname(file)), /a directory without a checkpoint/);
});

for (const kind of ['sgd', 'adamw'] as const) {
  test(`${kind}: resuming from a checkpoint gives bit-identical next steps`, () => {
    const dir = path.join(tmpDir(), 'ck');
    const a = makeParams(2);
    const optA = createOptimizer(kind, a, { lr: 0.01, weightDecay: 1e-4, ...(kind === 'sgd' ? { momentum: 0.9 } : {}) });
    for (let s = 0; s < 3; s++) stepAll(a, optA, s);
    saveCheckpoint(dir, checkpointOf(a, optA, { iteration: 3 }));
    for (let s = 3; s < 6; s++) stepAll(a, optA, s);

    const ck = loadCheckpoint(dir);
    const b = makeParams(99); // different initial values: everything must come from the checkpoint
    for (const [name, p] of b) p.data.set(ck.model.get(name)!.data);
    const optB = createOptimizer(kind, b, { lr: 0.5, weightDecay: 1e-4, ...(kind === 'sgd' ? { momentum: 0.9 } : {}) });
    optB.loadStateDict(ck.optimizer);
    for (let s = (ck.state.iteration as number); s < 6; s++) stepAll(b, optB, s);
    a.forEach(([name, p], i) => assert.deepEqual([...b[i][1].data], [...p.data], name));
    assert.equal(latestCheckpointPath(dir), path.join(dir, 'ckpt-000001'));
  });
}
