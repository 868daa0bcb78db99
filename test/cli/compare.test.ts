/**
 * `fqt compare` and `fqt report` end to end: files and columns, a repeated command that trains
 * nothing, exact resume after SIGKILL, a diverged run recorded as failed while the others finish,
 * a rebuilt report identical to the original, and bad flags that name the flag.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BIN, ROOT, runFqt } from './run-cli.js';
import { RUN_CSV_COLUMNS } from '../../src/report/results.js';
import { compareCommand } from '../../src/cli/compare.js';
import { reportCommand } from '../../src/cli/report.js';
import { FqtError } from '../../src/tensor/errors.js';

const TINY = ['compare', '--model', 'mlp', '--dataset', 'mnist', '--train-limit', '256', '--test-limit', '256', '--epochs', '1',
  '--recipes', 'fp32,psq4', '--seeds', '1,2', '--quiet'];

function csvRows(file: string): Record<string, string>[] {
  const [head, ...rows] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [cols[i], v])));
}

function tableOf(stdout: string): string {
  return stdout.split('\n').filter((l) => !l.startsWith('wrote ')).join('\n');
}

test('compare writes every run, results.json/csv and a self-contained report; a repeat trains nothing; report rebuilds the same table', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'fqt-compare-'));
  const r = runFqt([...TINY, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  for (const run of ['fp32-s1', 'fp32-s2', 'psq4-s1', 'psq4-s2']) {
    for (const f of ['run.json', 'metrics.jsonl', 'status.json', 'steps.jsonl']) assert.ok(existsSync(path.join(out, 'runs', run, f)), `${run}/${f}`);
  }
  assert.equal(r.stderr.match(/: training → /g)?.length, 4, 'one start line per run');
  assert.equal(r.stderr.match(/: done, test acc/g)?.length, 4, 'one end line per run');

  const csvText = readFileSync(path.join(out, 'results.csv'), 'utf8');
  assert.equal(csvText.split('\n')[0], RUN_CSV_COLUMNS.join(','));
  const rows = csvRows(path.join(out, 'results.csv'));
  assert.deepEqual(rows.map((x) => `${x.recipe}-s${x.seed}:${x.status}`), ['fp32-s1:done', 'fp32-s2:done', 'psq4-s1:done', 'psq4-s2:done']);
  // The summary is the mean and sample std of the per-run numbers.
  const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as {
    summary: { recipe: string; testAcc: { mean: number; std: number; n: number }; gapToFp32: number; gemmPaths: unknown[] | null }[];
  };
  for (const s of json.summary) {
    const acc = rows.filter((x) => x.recipe === s.recipe).map((x) => Number(x.test_acc));
    const mean = (acc[0] + acc[1]) / 2;
    assert.ok(Math.abs(s.testAcc.mean - mean) < 1e-12);
    assert.ok(Math.abs(s.testAcc.std - Math.abs(acc[0] - acc[1]) / Math.SQRT2) < 1e-12);
    assert.ok(acc.every((a) => a > 0.3), `${s.recipe} should learn something in one epoch: ${acc.join(', ')}`);
  }
  const psq = json.summary.find((s) => s.recipe === 'psq4')!;
  assert.ok(Math.abs(psq.gapToFp32 - 100 * (psq.testAcc.mean - json.summary[0].testAcc.mean)) < 1e-9);
  assert.ok(psq.gemmPaths && psq.gemmPaths.length === 3, 'GEMM paths of the three mlp layers');
  const html = readFileSync(path.join(out, 'report.html'), 'utf8');
  assert.match(html, /fqtChartsRendered/);
  assert.doesNotMatch(html, /<script src=|<link [^>]*href="http/, 'nothing is loaded from outside the file');
  assert.match(html, /\d+\.\d\d ± \d+\.\d\d/, 'mean ± std in the table');

  // Repeat: nothing is retrained (status files and metrics untouched, one "skipped" line per run).
  const stamp = (run: string) => [readFileSync(path.join(out, 'runs', run, 'status.json'), 'utf8'), statSync(path.join(out, 'runs', run, 'metrics.jsonl')).mtimeMs];
  const before = ['fp32-s1', 'psq4-s2'].map(stamp);
  const again = runFqt([...TINY, '--out', out]);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stderr.match(/finished earlier .*skipped/g)?.length, 4, again.stderr);
  assert.doesNotMatch(again.stderr, /training →|resuming/);
  assert.deepEqual(['fp32-s1', 'psq4-s2'].map(stamp), before);
  assert.equal(readFileSync(path.join(out, 'results.csv'), 'utf8'), csvText);

  // fqt report rebuilds the same table and CSV from the saved runs.
  const rebuilt = runFqt(['report', out]);
  assert.equal(rebuilt.status, 0, rebuilt.stderr);
  assert.equal(tableOf(rebuilt.stdout), tableOf(r.stdout));
  assert.equal(readFileSync(path.join(out, 'results.csv'), 'utf8'), csvText);

  // --variance measures each quantized recipe's final model (fp32 has no gradient quantizer) and charts it.
  const withVar = runFqt(['report', out, '--variance', '--variance-draws', '4', '--quiet']);
  assert.equal(withVar.status, 0, withVar.stderr);
  const v = JSON.parse(readFileSync(path.join(out, 'variance.json'), 'utf8')) as { draws: number; reports: { recipe: string; draws: number; rows: { layer: string; quantVar: number; samplingVar: number }[] }[] };
  assert.deepEqual(v.reports.map((x) => [x.recipe, x.draws, x.rows.length]), [['psq4', 4, 3]]);
  const middle = v.reports[0].rows[1];
  assert.ok(middle.quantVar > 0 && middle.samplingVar > 0, `psq4 ${middle.layer}: quantization and sampling variance`);
  assert.match(readFileSync(path.join(out, 'report.html'), 'utf8'), /Gradient variance per layer/);
  assert.equal(readFileSync(path.join(out, 'results.csv'), 'utf8'), csvText);

  // The same directory with another configuration is refused, naming the key.
  const other = runFqt([...TINY, '--out', out, '--epochs', '2']);
  assert.equal(other.status, 1);
  assert.match(other.stderr, /epochs = 1, not 2/);
});

const SYN = ['compare', '--model', 'mlp', '--dataset', 'synthetic', '--train-limit', '256', '--epochs', '3', '--batch-size', '16', '--lr', '0.05',
  '--recipes', 'fp32', '--seeds', '1,2', '--quiet'];

function deterministic(out: string, run: string): unknown[] {
  return readFileSync(path.join(out, 'runs', run, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => {
    const m = JSON.parse(l) as Record<string, unknown>;
    return [m.epoch, m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.lr];
  });
}

test('compare killed (SIGKILL) inside its second run resumes it from the checkpoint and ends with the uninterrupted numbers', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-compare-kill-'));
  const full = path.join(dir, 'full'), killed = path.join(dir, 'killed');
  const r = runFqt([...SYN, '--out', full]);
  assert.equal(r.status, 0, r.stderr);

  const child = spawn(process.execPath, [BIN, ...SYN, '--out', killed, '--checkpoint-seconds', '0.000001'], { cwd: ROOT, stdio: 'ignore' });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline && child.exitCode === null) {
    if (existsSync(path.join(killed, 'runs', 'fp32-s2', 'metrics.jsonl'))) break; // second run, inside its epoch 2
    await new Promise((res) => setTimeout(res, 5));
  }
  child.kill('SIGKILL');
  assert.equal(await exited, 'SIGKILL', 'compare should have been killed before it finished');
  assert.equal(JSON.parse(readFileSync(path.join(killed, 'runs', 'fp32-s2', 'status.json'), 'utf8')).status, 'running');

  const resumed = runFqt([...SYN, '--out', killed]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stderr, /\[1\/2\] fp32 seed 1: finished earlier/);
  assert.match(resumed.stderr, /\[2\/2\] fp32 seed 2: resuming/);
  for (const run of ['fp32-s1', 'fp32-s2']) assert.deepEqual(deterministic(killed, run), deterministic(full, run), run);
  // The per-step log keeps one loss per step after the overlap of the resumed part is deduplicated.
  const { readStepLosses } = await import('../../src/train/step-log.js');
  const spe = (JSON.parse(readFileSync(path.join(killed, 'runs', 'fp32-s2', 'run.json'), 'utf8')) as { stepsPerEpoch: number }).stepsPerEpoch;
  const full2 = readStepLosses(path.join(full, 'runs', 'fp32-s2'), spe);
  const killed2 = readStepLosses(path.join(killed, 'runs', 'fp32-s2'), spe);
  assert.equal(full2.length, 3 * spe);
  const byStep = new Map(full2.map((s) => [s.step, s.loss]));
  for (const s of killed2) assert.equal(s.loss, byStep.get(s.step), `step ${s.step}`);
});

test('a diverging run is recorded as failed with its message, the next run still trains, and the exit code is 2', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'fqt-compare-fail-'));
  // lr 1000: fp32 overflows to NaN within the first epoch (so would ptq4: its NaN propagates since issue 18);
  // bin-qat's Adam steps and ±1 forward weights stay finite.
  const r = runFqt(['compare', '--model', 'mlp', '--dataset', 'synthetic', '--epochs', '1', '--lr', '1000', '--recipes', 'fp32,bin-qat', '--quiet', '--out', out]);
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /fp32 seed 1: FAILED: training diverged/);
  assert.match(r.stderr, /1 of 2 runs failed/);
  const rows = csvRows(path.join(out, 'results.csv'));
  assert.equal(rows[0].status, 'failed');
  assert.equal(rows[1].status, 'done');
  const json = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as { runs: { status: string; message: string | null }[] };
  assert.match(json.runs[0].message!, /diverged: loss is (NaN|Infinity)/);
  assert.match(readFileSync(path.join(out, 'report.html'), 'utf8'), /Runs not finished/);
});

test('bad flags and arguments name the flag', () => {
  const cases: [(argv: string[]) => number, string[], RegExp][] = [
    [compareCommand, ['--seeds', '1,x'], /--seeds: 'x' is not a seed/],
    [compareCommand, ['--seeds', '1,1'], /--seeds: seed 1 is given twice/],
    [compareCommand, ['--recipes', 'fp32,psq3x'], /--recipes: unknown preset 'psq3x'/],
    [compareCommand, ['--recipes', 'fp32,,psq4'], /--recipes: empty entry/],
    [compareCommand, ['--recipes', 'psq4,psq4'], /--recipes: two recipes have the label 'psq4'/],
    [compareCommand, ['--recipes', '/nonexistent/r.json'], /--recipes: cannot read recipe file '\/nonexistent\/r.json'/],
    [compareCommand, ['--epochs', '0'], /--epochs must be at least 1/],
    [compareCommand, ['--recipe', 'fp32'], /unknown flag --recipe for 'fqt compare'/],
    [compareCommand, ['fp32'], /no positional arguments/],
    [compareCommand, ['--variance-draws', '1'], /--variance-draws must be at least 2/],
    [reportCommand, [], /fqt report takes one directory/],
    [reportCommand, [path.join(os.tmpdir(), 'fqt-no-such-dir')], /does not exist/],
    [reportCommand, [os.tmpdir(), '--variance-batches', 'x'], /--variance-batches takes an integer/],
    [reportCommand, [mkdtempSync(path.join(os.tmpdir(), 'fqt-report-empty-'))], /holds no runs/],
  ];
  for (const [command, args, pattern] of cases) {
    assert.throws(() => command(args), (err: unknown) => err instanceof FqtError && pattern.test(err.message), args.join(' '));
  }
  // Through the launcher: exit code 1 and one line, no stack.
  for (const args of [['compare', '--recpies', 'fp32'], ['report']]) {
    const r = runFqt(args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^fqt (compare: unknown flag --recpies|report: fqt report takes one directory)/);
  }
});
