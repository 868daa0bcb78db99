/**
 * Run directories (issue 18): one writer (lock), early one-line errors for a bad --out, --resume of a missing
 * directory, leftovers of killed runs removed, state.json validated with the bad checkpoint skipped, and the recipe
 * compared by contents on resume.
 */
import '../helpers/backend.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { train } from '../../src/train/trainer.js';
import { DEFAULT_CONFIG, type TrainConfig } from '../../src/train/config.js';
import { acquireRunLock, LOCK_FILE } from '../../src/train/lock.js';
import { openRunDir } from '../../src/train/run-dir.js';
import { assertFqtError } from '../helpers/errors.js';
import { ROOT } from '../cli/run-cli.js';
import { createHash } from 'node:crypto';

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'fqt-rundir-'));
const CONFIG: TrainConfig = { ...DEFAULT_CONFIG, model: 'mlp', dataset: 'synthetic', epochs: 2, batchSize: 32, lr: 0.05, trainLimit: 64, testLimit: 32 };
const quiet = (lines: string[] = []) => ({ quiet: true, log: (l: string) => lines.push(l) });

test('a second writer fails at once naming the holder; a lock of a dead process is taken over with a message', () => {
  const dir = tmp();
  const lock = acquireRunLock(dir, () => {});
  // Another process holding it: a child that takes the lock and reports while it still lives.
  lock.release();
  const child = spawnSync(process.execPath, ['--input-type=module', '-e',
    `const { acquireRunLock } = await import(${JSON.stringify(path.join(ROOT, 'dist/src/train/lock.js'))}); acquireRunLock(${JSON.stringify(dir)}, () => {}); process.stdout.write(String(process.pid)); process.kill(process.pid, 'SIGKILL');`],
  { encoding: 'utf8' });
  assert.equal(child.signal, 'SIGKILL');
  const deadPid = Number(child.stdout);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, LOCK_FILE), 'utf8')).pid, deadPid, 'a killed writer leaves its lock');
  const lines: string[] = [];
  const taken = acquireRunLock(dir, (l) => lines.push(l));
  assert.match(lines.join('\n'), new RegExp(`taking over the lock of .* from a run that is gone \\(pid ${deadPid} on `));
  // A live holder (here the test runner, our parent) is never taken over.
  taken.release();
  fs.writeFileSync(path.join(dir, LOCK_FILE), JSON.stringify({ pid: process.ppid, host: os.hostname(), started: 'then' }));
  assertFqtError(() => acquireRunLock(dir, () => {}), `is in use by another run (pid ${process.ppid} on ${os.hostname()}, since then`);
  assertFqtError(() => train(CONFIG, { ...quiet(), out: dir }), 'is in use by another run');
  fs.rmSync(path.join(dir, LOCK_FILE));
});

test('a bad --out fails before any data loads, with one line naming the path', () => {
  const dir = tmp();
  const file = path.join(dir, 'a-file');
  fs.writeFileSync(file, 'x');
  // A data directory that does not exist: if the data loaded first, the error would name it instead.
  const cfg: TrainConfig = { ...CONFIG, dataset: 'mnist', dataDir: path.join(dir, 'no-data') };
  assertFqtError(() => train(cfg, { ...quiet(), out: file }), `run directory (--out) ${file}: is a file, not a directory`);
  assertFqtError(() => train(cfg, { ...quiet(), out: path.join(file, 'run') }), `${file} is a file, not a directory`);
  assertFqtError(() => train(cfg, { ...quiet(), out: path.join(dir, 'typo'), resume: true }), `--resume: there is no run directory ${path.join(dir, 'typo')}`);
  fs.mkdirSync(path.join(dir, 'other'));
  fs.writeFileSync(path.join(dir, 'other', 'notes.txt'), 'not a run');
  assertFqtError(() => train(cfg, { ...quiet(), out: path.join(dir, 'other'), resume: true }), 'is not a run directory');
  // An empty directory is what a run killed right after creating it leaves: resumable (from scratch).
  fs.mkdirSync(path.join(dir, 'empty'));
  const lines: string[] = [];
  train(CONFIG, { ...quiet(lines), out: path.join(dir, 'empty'), resume: true });
  assert.match(lines.join('\n'), /no checkpoint in .*empty\/checkpoints; starting from scratch/);
  let sysErr: string | undefined;
  try { fs.mkdirSync('/sys/fqt-probe'); fs.rmdirSync('/sys/fqt-probe'); } catch (e) { sysErr = (e as NodeJS.ErrnoException).code; }
  if (sysErr === 'EPERM' || sysErr === 'EROFS' || sysErr === 'EACCES') {
    assertFqtError(() => train(cfg, { ...quiet(), out: '/sys/fqt-run' }), 'run directory (--out) /sys/fqt-run is not writable');
  }
});

test('leftovers of killed runs are removed on the next open, saying so; live ones are kept', () => {
  const dir = tmp();
  fs.mkdirSync(path.join(dir, 'checkpoints'));
  fs.writeFileSync(path.join(dir, 'metrics.jsonl.tmp-999999'), 'partial');
  fs.writeFileSync(path.join(dir, '.tmp-run.json-999998-0123abcd'), '{');
  fs.mkdirSync(path.join(dir, 'checkpoints', '.tmp-ckpt-999997-89abcdef'));
  const live = path.join(dir, 'checkpoints', `.tmp-ckpt-${process.ppid}-00000000`);
  fs.mkdirSync(live);
  const lines: string[] = [];
  openRunDir(dir, { log: (l) => lines.push(l) }).close();
  assert.match(lines.join('\n'), /removed 3 leftover temporary file\(s\) of an interrupted run: .*metrics\.jsonl\.tmp-999999/);
  assert.deepEqual(fs.readdirSync(dir).sort(), ['checkpoints']);
  assert.ok(fs.existsSync(live), "a live process's temporary directory is kept");
});

test('a state.json that fails validation is skipped for the previous checkpoint, naming the field; the resume ends as the uninterrupted run', () => {
  const cfg: TrainConfig = { ...CONFIG, epochs: 3 };
  const ref = train(cfg, quiet()).history.map((m) => m.test_loss);
  const pristine = tmp();
  // A run stopped after epoch 2 (as a kill would): checkpoints after epochs 1 and 2.
  assert.throws(() => train(cfg, { ...quiet(), out: pristine, onEpoch: (m) => { if (m.epoch === 2) throw new Error('stop'); } }), /stop/);
  const cases: [(s: Record<string, any>) => void, RegExp][] = [
    [(s) => { s.state.batch = 99999; }, /state\.batch must be an integer in \[0, 2\], got 99999/],
    [(s) => { s.state.epoch = 'abc'; }, /state\.epoch must be an integer in \[0, 1000000\], got "abc"/],
    [(s) => { s.state.partial.seen = -1; }, /state\.partial\.seen must be an integer in \[0, 0\], got -1/],
    [(s) => { s.state.partial = null; }, /state\.partial must be an object, got null/],
    [(s) => { s.state.rng = null; }, /state\.rng must be an object \{seed, stream\}, got null/],
    [(s) => { s.state.history.pop(); }, /state\.history must be a list of 2 epoch records/],
  ];
  for (const [edit, re] of cases) {
    const cut = tmp();
    fs.cpSync(pristine, cut, { recursive: true });
    const ckpts = path.join(cut, 'checkpoints');
    const stateFile = path.join(ckpts, JSON.parse(fs.readFileSync(path.join(ckpts, 'latest.json'), 'utf8')).latest as string, 'state.json');
    const s = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
    edit(s);
    // Re-hashed, so that the validation (not the content hash) is what rejects it.
    const { sha256: _old, ...content } = s;
    fs.writeFileSync(stateFile, JSON.stringify({ ...content, sha256: createHash('sha256').update(JSON.stringify(content), 'utf8').digest('hex') }));
    const lines: string[] = [];
    const r = train(cfg, { ...quiet(lines), out: cut, resume: true });
    assert.match(lines.join('\n'), re);
    assert.match(lines.join('\n'), /using the previous checkpoint .*ckpt-000001/);
    assert.deepEqual(r.history.map((m) => m.test_loss), ref, 'the resume from epoch 1 ends as the uninterrupted run');
  }
});

test('resume compares the recipe contents, not the recipe file path', () => {
  const dir = tmp(), out = path.join(dir, 'run');
  const recipe = { version: 1, extends: 'ptq8' };
  fs.writeFileSync(path.join(dir, 'a.json'), JSON.stringify(recipe));
  fs.writeFileSync(path.join(dir, 'b.json'), JSON.stringify(recipe));
  train({ ...CONFIG, epochs: 1, recipe: path.join(dir, 'a.json') }, { ...quiet(), out });
  // The same recipe under another path resumes.
  train({ ...CONFIG, recipe: path.join(dir, 'b.json') }, { ...quiet(), out, resume: true });
  // The same path with edited contents is refused.
  fs.writeFileSync(path.join(dir, 'b.json'), JSON.stringify({ version: 1, extends: 'ptq4' }));
  assertFqtError(() => train({ ...CONFIG, epochs: 3, recipe: path.join(dir, 'b.json') }, { ...quiet(), out, resume: true }), 'has other contents than the one it was trained with');
});
