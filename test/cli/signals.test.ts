/**
 * Graceful stop (issue 18): SIGINT during training finishes the step, writes a loadable checkpoint, prints the resume
 * command and exits 130; the resumed run ends with exactly the metrics of an uninterrupted one. SIGTERM exits 143.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT, runFqt } from './run-cli.js';
import { nativeAddon } from '../../src/backend/native.js';
import { loadCheckpoint } from '../../src/train/checkpoint.js';

const ARGS = ['train', '--model', 'mlp', '--dataset', 'synthetic', '--epochs', '3', '--batch-size', '16', '--lr', '0.05', '--seed', '7', '--quiet',
  '--checkpoint-seconds', '1000'];

function metrics(runDir: string): unknown[] {
  return readFileSync(path.join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const m = JSON.parse(l) as Record<string, unknown>;
    return [m.epoch, m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.lr];
  });
}

/** Start a run, send `signal` once epoch 1 is done, and return its exit code, signal and stderr. */
async function interrupt(out: string, signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(process.execPath, [BIN, ...ARGS, '--out', out], { cwd: ROOT, env: { ...process.env, FQT_QUIET: '1' } });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null && !existsSync(path.join(out, 'metrics.jsonl'))) await new Promise((r) => setTimeout(r, 5));
  child.kill(signal);
  const [code, sig] = await exited;
  return { code, signal: sig, stderr };
}

test('SIGINT mid-run: checkpoint, resume command, exit 130; the resumed run ends as the uninterrupted one; SIGTERM exits 143',
  { skip: nativeAddon() === null && 'graceful signals need the native addon' }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-signal-'));
    const full = path.join(dir, 'full'), cut = path.join(dir, 'cut');
    assert.equal(runFqt([...ARGS, '--out', full]).status, 0);

    const r = await interrupt(cut, 'SIGINT');
    assert.equal(r.signal, null, r.stderr);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /fqt train: stopped by SIGINT at epoch 2, batch \d+; checkpoint saved in .*cut\/checkpoints\n/);
    const resume = /resume with: fqt train (.*)\n/.exec(r.stderr)![1].split(' ');
    assert.ok(resume.includes('--resume'));
    assert.deepEqual(readdirSync(cut).filter((n) => n.includes('tmp')), [], 'no temporary files');
    assert.ok(loadCheckpoint(path.join(cut, 'checkpoints')).state !== null, 'the checkpoint loads');
    const resumed = runFqt(['train', ...resume]);
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.deepEqual(metrics(cut), metrics(full));

    const t = await interrupt(path.join(dir, 'term'), 'SIGTERM');
    assert.equal(t.code, 143, t.stderr);
    assert.match(t.stderr, /stopped by SIGTERM/);
  });
