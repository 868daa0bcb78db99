/** Aggregation, CSV, band charts and step logs of the comparison report, on hand-made runs. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { integerGemms, loadResults, resultsCsv, stat, summarize, type RunResult } from '../../src/report/results.js';
import { bandChart } from '../../src/report/html.js';
import { compareHtml } from '../../src/report/compare-html.js';
import { readStepLosses, StepLog } from '../../src/train/step-log.js';
import { DEFAULT_CONFIG } from '../../src/train/config.js';
import { COMPARE_FLAGS, parseRecipes, planRuns } from '../../src/cli/compare.js';
import { parseFlags } from '../../src/cli/args.js';

test('stat: mean, sample standard deviation (n − 1), min, max; none for one value', () => {
  const s = stat([0.9, 0.92, 0.94])!;
  assert.ok(Math.abs(s.mean - 0.92) < 1e-15);
  assert.ok(Math.abs(s.std! - 0.02) < 1e-15);
  assert.deepEqual([s.min, s.max, s.n], [0.9, 0.94, 3]);
  assert.equal(stat([0.5])!.std, null);
  assert.equal(stat([]), null);
});

function run(recipe: string, seed: number, status: RunResult['status'], acc: number | null): RunResult {
  return {
    recipe, seed, dir: `runs/${recipe}-s${seed}`, status, message: status === 'failed' ? 'training diverged: loss is NaN, "really"' : null,
    epochs: acc === null ? 0 : 1, train_loss: null, train_acc: null, test_loss: acc === null ? null : 1 - acc, test_acc: acc,
    ms_per_step: acc === null ? null : 10, images_per_s: null, train_seconds: null, history: [], gemmPaths: null,
  };
}

test('integerGemms counts int8 and the bit paths, never fp32 or fp32-dequant', () => {
  const binary = { layer: 'conv', forward: 'b1', gradInput: 'bitplane', gradWeight: 'bitplane-blocked' } as const;
  const int8 = { layer: 'fc', forward: 'int8', gradInput: 'fp32-dequant', gradWeight: 'int8-blocked' } as const;
  const fp32 = { layer: 'stem', forward: 'fp32', gradInput: 'fp32', gradWeight: 'fp32' } as const;
  assert.equal(integerGemms([binary, int8, fp32]), '5/9');
  assert.equal(integerGemms(null), '–');
});

test('summarize: only finished runs count, and the gap to fp32 is in percentage points', () => {
  const runs = [run('fp32', 1, 'done', 0.9), run('fp32', 2, 'done', 0.92), run('psq4', 1, 'done', 0.88), run('psq4', 2, 'failed', null), run('bhq4', 1, 'missing', null)];
  const [fp32, psq4, bhq4] = summarize(['fp32', 'psq4', 'bhq4'], runs);
  assert.ok(Math.abs(fp32.gapToFp32!) < 1e-12);
  assert.equal(psq4.done, 1);
  assert.equal(psq4.failed, 1);
  // Paired by seed: only seed 1 finished for psq4, so the gap is 88 − 90 on that seed (no std from one pair).
  assert.ok(Math.abs(psq4.gapToFp32! - (88 - 90)) < 1e-9);
  assert.deepEqual([psq4.gapToFp32Std, psq4.gapSeeds], [null, 1]);
  const paired = summarize(['fp32', 'psq4'], [...runs.slice(0, 3), run('psq4', 2, 'done', 0.9)])[1];
  assert.ok(Math.abs(paired.gapToFp32! - ((88 - 90) + (90 - 92)) / 2) < 1e-9 && paired.gapToFp32Std! < 1e-9, 'both seeds 2 pp below: std 0');
  assert.equal(bhq4.testAcc, null);
  assert.equal(bhq4.gapToFp32, null);
  const noFp32 = summarize(['psq4'], runs);
  assert.equal(noFp32[0].gapToFp32, null);
});

test('results.csv quotes messages with commas and quotes (RFC 4180)', () => {
  const runs = [run('fp32', 1, 'failed', null)];
  const csv = resultsCsv({ format: 'fqt-compare-results', version: 1, recipes: ['fp32'], seeds: [1], config: null, environments: [], runs, summary: summarize(['fp32'], runs) });
  const line = csv.trim().split('\n')[1];
  assert.equal(line, 'fp32,1,failed,0,,,,,,,,"training diverged: loss is NaN, ""really"""');
});

test('bandChart: a mean line plus two legend-less edges per series, the upper one filled to the lower', () => {
  const c = bandChart([{ label: 'psq4', color: '#1f77b4', points: [{ x: 1, mean: 2, lo: 1, hi: 3 }] }], { xTitle: 'epoch', yTitle: 'loss' }) as {
    data: { datasets: { label: string; data: { x: number; y: number }[]; fill: unknown; fqtHideInLegend?: boolean }[] };
  };
  const [mean, lo, hi] = c.data.datasets;
  assert.deepEqual([mean.data[0].y, lo.data[0].y, hi.data[0].y], [2, 1, 3]);
  assert.equal(mean.fqtHideInLegend, undefined);
  assert.equal(lo.fqtHideInLegend, true);
  assert.equal(hi.fill, '-1');
});

test('step log: last value of a repeated step wins, a line cut by a kill is skipped', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-steps-'));
  const log = new StepLog(dir, 1e9);
  log.record(0, 0, 2.5);
  log.record(0, 1, 2.25);
  log.flush();
  appendFileSync(path.join(dir, 'steps.jsonl'), '{"e":0,"b":1,"loss":2.0}\n{"e":1,"b":0,"lo');
  assert.deepEqual(readStepLosses(dir, 4), [{ step: 0, loss: 2.5 }, { step: 1, loss: 2.0 }]);
});

test('loadResults reads one fqt train directory, and the report bands span the seeds', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fqt-results-'));
  const m = (epoch: number, acc: number) => ({ epoch, train_loss: 1 / epoch, train_acc: acc, test_loss: 1 / epoch, test_acc: acc, lr: 0.1, images_per_s: 100, ms_per_step: 20, seconds: 2, recipe: 'fp32' });
  for (const [seed, accs] of [[1, [0.5, 0.7]], [2, [0.6, 0.9]]] as const) {
    const dir = path.join(root, 'runs', `fp32-s${seed}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'run.json'), JSON.stringify({ config: { ...DEFAULT_CONFIG, epochs: 2, seed }, recipe: 'fp32', gemmPaths: null, stepsPerEpoch: 10 }));
    writeFileSync(path.join(dir, 'metrics.jsonl'), accs.map((a, i) => JSON.stringify(m(i + 1, a))).join('\n') + '\n');
  }
  const r = loadResults(root);
  assert.deepEqual(r.runs.map((x) => [x.recipe, x.seed, x.status, x.test_acc]), [['fp32', 1, 'done', 0.7], ['fp32', 2, 'done', 0.9]]);
  assert.ok(Math.abs(r.runs[0].ms_per_step! - 20) < 1e-9, 'time per step over all epochs');
  const html = compareHtml(r, root);
  const configs = JSON.parse(/const configs = (.*);\n/.exec(html)![1]) as { data: { datasets: { label: string; data: { x: number; y: number }[] }[] } }[];
  const acc = configs[0].data.datasets; // test accuracy in %: mean, low, high
  assert.deepEqual(acc.map((d) => d.data.map((p) => Math.round(p.y * 1e6) / 1e6)), [[55, 80], [50, 70], [60, 90]]);
  // A single train run directory is a report of one run.
  const single = loadResults(path.join(root, 'runs', 'fp32-s2'));
  assert.deepEqual(single.runs.map((x) => [x.dir, x.seed, x.status]), [['.', 2, 'done']]);
});

test('compare plans each run as fqt train would: a 1-bit preset trains with Adam at 1e-3 unless flags say otherwise', () => {
  const recipes = parseRecipes('fp32,fqt1-agp-scq');
  const plain = planRuns(parseFlags('compare', COMPARE_FLAGS, ['--recipes', 'fp32,fqt1-agp-scq']), recipes, [1, 2]);
  assert.deepEqual(plain.map((p) => [p.label, p.seed, p.config.optimizer, p.config.lr, p.config.recipe ?? null]), [
    ['fp32', 1, 'sgd', 0.02, null], ['fp32', 2, 'sgd', 0.02, null],
    ['fqt1-agp-scq', 1, 'adam', 1e-3, 'fqt1-agp-scq'], ['fqt1-agp-scq', 2, 'adam', 1e-3, 'fqt1-agp-scq'],
  ]);
  const forced = planRuns(parseFlags('compare', COMPARE_FLAGS, ['--optimizer', 'sgd', '--lr', '0.1']), recipes, [1]);
  assert.deepEqual(forced.map((p) => [p.config.optimizer, p.config.lr]), [['sgd', 0.1], ['sgd', 0.1]]);
});
