/**
 * Data-parallel training end to end over loopback (`fqt train --workers N` and torchrun-style workers):
 *   - fp32 all-reduce: 2 and 3 processes end with the weights of one process (same global batch, same seed)
 *     within 1e-6 after 32 SGD steps — not bit for bit, because the batch sum is split differently (each rank's
 *     GEMM sums its shard, the ring adds the shards in its own order): float sums in another order, a few ulps;
 *   - a killed worker makes the other fail within seconds with one line naming the all-reduce, and `--resume` with
 *     another worker count finishes the run where one process would have ended;
 *   - a language model (one target per token, not per sample) likewise: each rank's gradient is weighted by its
 *     share of the batch's samples;
 *   - a compressed all-reduce sends ≥ 7× fewer bytes at 4 bits and still trains;
 *   - workers started with different options, and a missing gloo addon, fail with one clear line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadDistAddon } from '../../src/distributed/native.js';
import { loadWeights } from '../../src/train/checkpoint.js';
import { BIN, ROOT, runFqt } from '../cli/run-cli.js';
import { NO_GLOO, startWorkers } from './workers.js';

const ARGS = ['train', '--model', 'mlp', '--dataset', 'synthetic', '--batch-size', '32', '--seed', '3', '--quiet'];

function maxWeightDifference(a: string, b: string): number {
  const wa = loadWeights(a), wb = loadWeights(b);
  let d = 0;
  for (const [name, t] of wa) t.data.forEach((v, i) => { d = Math.max(d, Math.abs(v - wb.get(name)!.data[i])); });
  return d;
}

function metrics(dir: string): Record<string, number | string>[] {
  return readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
}

const tmp = (): string => mkdtempSync(path.join(os.tmpdir(), 'fqt-dist-'));

test('fp32 all-reduce: 2 and 3 processes train the weights of one process (same global batch) within 1e-6', { skip: NO_GLOO, timeout: 120_000 }, () => {
  const dir = tmp();
  for (const workers of [1, 2, 3]) {
    const r = runFqt([...ARGS, '--epochs', '2', '--out', path.join(dir, `w${workers}`), '--workers', String(workers)]);
    assert.equal(r.status, 0, r.stderr);
  }
  const one = metrics(path.join(dir, 'w1'));
  for (const workers of [2, 3]) {
    const run = path.join(dir, `w${workers}`);
    const d = maxWeightDifference(path.join(dir, 'w1'), run);
    assert.ok(d <= 1e-6, `${workers} workers: max |Δw| = ${d}`);
    const m = metrics(run);
    assert.equal(m.length, one.length);
    m.forEach((e, i) => {
      assert.equal(e.test_acc, one[i].test_acc);
      assert.equal(e.train_acc, one[i].train_acc);
      assert.ok(Math.abs((e.train_loss as number) - (one[i].train_loss as number)) < 1e-6, `${e.train_loss} vs ${one[i].train_loss}`);
      assert.equal(e.workers, workers);
      assert.equal(e.comm_bytes_per_step, e.comm_fp32_bytes_per_step);
    });
    assert.ok(!existsSync(path.join(run, 'rank-1')) && readdirSync(run).sort().join(',') === readdirSync(path.join(dir, 'w1')).sort().join(','),
      'rank 0 alone writes the run directory, with the files of a one-process run');
  }
});

test('a language model (gpt-tiny, one target per token) trains alike on 1 and 2 processes: shards weighted by samples', { skip: NO_GLOO, timeout: 60_000 }, () => {
  // SGD, not Adam: Adam's step hardly depends on the gradient's scale, and the scale is what a wrong shard weight changes.
  const dir = tmp(), corpus = path.join(dir, 'corpus');
  mkdirSync(corpus);
  copyFileSync(path.join(ROOT, 'README.md'), path.join(corpus, 'readme.txt'));
  const args = ['train', '--model', 'gpt-tiny', '--dataset', 'fortunes', '--data', corpus, '--train-limit', '48', '--test-limit', '8',
    '--batch-size', '16', '--epochs', '1', '--optimizer', 'sgd', '--lr', '0.1', '--seed', '3', '--quiet'];
  for (const workers of [1, 2]) {
    const r = runFqt([...args, '--out', path.join(dir, `w${workers}`), '--workers', String(workers)]);
    assert.equal(r.status, 0, r.stderr);
  }
  const d = maxWeightDifference(path.join(dir, 'w1'), path.join(dir, 'w2'));
  assert.ok(d <= 1e-5, `max |Δw| = ${d}`);
  const [one] = metrics(path.join(dir, 'w1')), [two] = metrics(path.join(dir, 'w2'));
  for (const k of ['train_loss', 'test_loss']) assert.ok(Math.abs((one[k] as number) - (two[k] as number)) < 1e-5, `${k}: ${one[k]} vs ${two[k]}`);
  // perplexity = exp(loss): the loss tolerance is a relative one on it (the corpus is README.md, whose edits move ppl)
  const [p1, p2] = [one.test_ppl as number, two.test_ppl as number];
  assert.ok(Math.abs(p1 - p2) <= 1e-5 * p1, `test_ppl: ${p1} vs ${p2}`);
});

test('a killed worker stops the other within seconds; --resume with 3 workers ends where one process ends', { skip: NO_GLOO, timeout: 120_000 }, async () => {
  const dir = tmp();
  const full = path.join(dir, 'full'), killed = path.join(dir, 'killed');
  const args = [...ARGS, '--epochs', '4', '--batch-size', '16'];
  assert.equal(runFqt([...args, '--out', full]).status, 0);
  const w = await startWorkers(2, [BIN, ...args, '--out', killed, '--checkpoint-seconds', '0.000001', '--dist-timeout', '30']);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !existsSync(path.join(killed, 'metrics.jsonl'))) await new Promise((r) => setTimeout(r, 5));
  w.children[1].kill('SIGKILL');
  const killedAt = Date.now();
  const [rank0, rank1] = await w.exits;
  assert.equal(rank1.signal, 'SIGKILL', 'rank 1 finished before the kill (make the run longer)');
  assert.equal(rank0.code, 1);
  assert.ok(Date.now() - killedAt < 10_000, `rank 0 took ${Date.now() - killedAt} ms to notice`);
  assert.match(rank0.stderr.trim(), /^fqt train: rank 0 of 2: all-reduce failed: .*(closed|reset).* — a worker died, was killed or did not answer within 30 s/);
  assert.equal(rank0.stderr.trim().split('\n').length, 1, rank0.stderr);

  const resumed = runFqt([...args, '--out', killed, '--resume', '--workers', '3']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.ok(maxWeightDifference(full, killed) <= 1e-6);
  assert.deepEqual(metrics(killed).map((m) => m.test_acc), metrics(full).map((m) => m.test_acc));
});

test('compressed all-reduce (psq4) sends ≥ 7× fewer bytes per step and trains', { skip: NO_GLOO, timeout: 60_000 }, () => {
  const out = path.join(tmp(), 'psq4');
  const r = runFqt([...ARGS, '--epochs', '2', '--out', out, '--workers', '2', '--allreduce', 'psq4']);
  assert.equal(r.status, 0, r.stderr);
  const last = metrics(out).at(-1)!;
  assert.equal(last.allreduce, 'psq4');
  assert.ok((last.comm_fp32_bytes_per_step as number) / (last.comm_bytes_per_step as number) >= 7, JSON.stringify(last));
  assert.ok((last.test_acc as number) > 0.9, JSON.stringify(last));
});

test('workers started with different options fail at the rendezvous, naming the option; file:// rendezvous works', { skip: NO_GLOO, timeout: 60_000 }, async () => {
  const dir = tmp();
  const w = await startWorkers(2, (rank) => [BIN, ...ARGS, '--epochs', '1', '--out', path.join(dir, 'bad'), '--lr', rank === 0 ? '0.02' : '0.05', '--dist-timeout', '20']);
  for (const e of await w.exits) {
    assert.equal(e.code, 1);
    assert.match(e.stderr.trim(), /rendezvous: rank 1 was started with lr = 0\.05, rank 0 with 0\.02; every worker needs the same training options$/);
  }
  const rdzv = path.join(dir, 'rendezvous');
  const ok = await startWorkers(2, [BIN, ...ARGS, '--epochs', '1', '--out', path.join(dir, 'file'), '--dist-init', `file://${rdzv}`]);
  for (const e of await ok.exits) assert.equal(e.code, 0, e.stderr);
  assert.deepEqual(readdirSync(rdzv), [], 'rank 0 removes the rendezvous files');
});

test('without the gloo addon, data-parallel training fails with one line naming the Debian package', () => {
  const r = loadDistAddon(path.join(tmp(), 'missing', 'fqt_dist.node'));
  assert.equal(r.addon, null);
  assert.match(r.reason, /gloo addon was not built .*apt-get install libgloo-dev/);
  assert.doesNotMatch(r.reason, /\n/);
});

test('--workers inside a worker (WORLD_SIZE set) is refused with one line', () => {
  const r = runFqt([...ARGS, '--workers', '2', '--out', path.join(tmp(), 'x')], { WORLD_SIZE: '2', RANK: '0' });
  assert.equal(r.status, 1);
  assert.match(r.stderr.trim(), /^fqt train: --workers 2 starts workers, but this process already is one \(WORLD_SIZE=2, RANK=0 in its environment\): drop one of them$/);
});

test('Ctrl-C stops every worker after the same step: one checkpoint, exit 130, a resume hint with --workers that finishes the run', { skip: NO_GLOO, timeout: 120_000 }, async () => {
  const dir = tmp();
  const full = path.join(dir, 'full'), stopped = path.join(dir, 'stopped');
  const args = [...ARGS, '--epochs', '4', '--batch-size', '16'];
  assert.equal(runFqt([...args, '--out', full]).status, 0);
  // Its own process group, as a terminal's foreground job: SIGINT reaches the launcher and both workers.
  const launcher = spawn(process.execPath, [BIN, ...args, '--out', stopped, '--workers', '2'], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, FQT_QUIET: '1' } });
  let stderr = '';
  launcher.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const exited = new Promise<number | null>((resolve) => launcher.on('close', (code) => resolve(code)));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && !existsSync(path.join(stopped, 'metrics.jsonl'))) await new Promise((r) => setTimeout(r, 5));
  process.kill(-launcher.pid!, 'SIGINT');
  assert.equal(await exited, 130, stderr);
  const lines = stderr.trim().split('\n');
  assert.match(lines[0], /^fqt train: stopped by SIGINT at epoch \d+, batch \d+; checkpoint saved in /);
  assert.match(lines[1], /^resume with: fqt train .* --workers 2 --resume$/);
  assert.equal(lines.length, 2, 'the other worker stops silently');
  const resumed = runFqt([...args, '--out', stopped, '--workers', '2', '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.ok(maxWeightDifference(full, stopped) <= 1e-6);
});
