/**
 * Killing a run (SIGKILL, mid-epoch) and restarting it with --resume ends with exactly the same
 * metrics as an uninterrupted run with the same seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT, runFqt } from './run-cli.js';

const ARGS = ['train', '--model', 'mlp', '--dataset', 'synthetic', '--epochs', '3', '--batch-size', '16', '--lr', '0.05', '--seed', '7', '--quiet'];

/** The metrics that must be identical (timings naturally differ). */
function deterministicMetrics(runDir: string): unknown[] {
  const lines = readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n');
  return lines.map((l) => {
    const m = JSON.parse(l) as Record<string, unknown>;
    return { epoch: m.epoch, train_loss: m.train_loss, train_acc: m.train_acc, test_loss: m.test_loss, test_acc: m.test_acc, lr: m.lr };
  });
}

test('kill -9 mid-run then --resume reproduces the uninterrupted run exactly', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-resume-'));
  const full = path.join(dir, 'full'), killed = path.join(dir, 'killed');
  const r = runFqt([...ARGS, '--out', full]);
  assert.equal(r.status, 0, r.stderr);

  // Checkpoint after every step, and kill as soon as one exists inside the second epoch.
  const child = spawn(process.execPath, [BIN, ...ARGS, '--out', killed, '--checkpoint-seconds', '0.000001'], { cwd: ROOT, stdio: 'ignore', env: { ...process.env, FQT_QUIET: '1' } });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (existsSync(path.join(killed, 'metrics.jsonl'))) break; // epoch 1 finished: we are inside epoch 2
    await new Promise((res) => setTimeout(res, 5));
  }
  child.kill('SIGKILL');
  const signal = await exited;
  assert.equal(signal, 'SIGKILL', 'the run should have been killed before it finished (make the data set larger if this fails)');

  const resumed = runFqt([...ARGS, '--out', killed, '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.deepEqual(deterministicMetrics(killed), deterministicMetrics(full));
});
