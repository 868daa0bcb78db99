/** `fqt variance` end to end on a small model: table, JSON, a self-contained HTML report, falling bias. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runFqt } from './run-cli.js';

test('fqt variance writes per-layer statistics whose bias falls with the number of draws', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'fqt-var-'));
  const r = runFqt(['variance', '--model', 'mlp', '--dataset', 'synthetic', '--recipes', 'ptq4,psq4', '--draws', '16',
    '--batches', '3', '--batch-size', '32', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /ptq4\s+layers\.3/);
  const json = JSON.parse(readFileSync(path.join(out, 'variance.json'), 'utf8')) as {
    reports: { recipe: string; rows: { layer: string; quantVar: number; samplingVar: number | null; bias: { k: number; bias: number }[] }[] }[];
  };
  assert.deepEqual(json.reports.map((x) => x.recipe), ['ptq4', 'psq4']);
  for (const rep of json.reports) {
    for (const row of rep.rows) {
      assert.ok(row.samplingVar !== null && row.samplingVar > 0, `${rep.recipe} ${row.layer}: sampling variance`);
      if (row.quantVar === 0) continue; // a layer whose gradient passes no quantizer (fp32 last layer)
      const first = row.bias[0], last = row.bias[row.bias.length - 1];
      assert.equal(last.k, 16);
      // Unbiased quantizers: the bias of the mean of k draws falls like 1/√k (here 4× from k=1 to 16); allow noise.
      assert.ok(last.bias < first.bias / 2, `${rep.recipe} ${row.layer}: bias ${first.bias} → ${last.bias}`);
    }
  }
  const html = readFileSync(path.join(out, 'variance.html'), 'utf8');
  assert.match(html, /new Chart\(/);
  assert.doesNotMatch(html, /<script src=/, 'the chart library is embedded, not linked');
});

test('fqt train --recipe runs a quantized recipe and records it in the metrics', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'fqt-qtrain-'));
  const r = runFqt(['train', '--model', 'mlp', '--dataset', 'synthetic', '--epochs', '2', '--batch-size', '32', '--lr', '0.05',
    '--recipe', 'psq4', '--quiet', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  const lines = readFileSync(path.join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { recipe: string; test_acc: number });
  assert.equal(lines.length, 2);
  assert.equal(lines[1].recipe, 'psq4');
  assert.ok(lines[1].test_acc > 0.5, `psq4 should learn the synthetic task, got ${lines[1].test_acc}`);
  const run = JSON.parse(readFileSync(path.join(out, 'run.json'), 'utf8')) as { gemmPaths: { gemms: { forward: { path: string } } }[] };
  assert.ok(run.gemmPaths.some((l) => l.gemms.forward.path !== 'fp32'), 'run.json records the GEMM paths');
});

test('an unknown recipe is one clear line', () => {
  const r = runFqt(['train', '--recipe', 'int3-magic', '--epochs', '1']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /int3-magic/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('reports: one variance unit (terminal = HTML = JSON), an environment block, no absolute paths', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fqt-env-'));
  const run = path.join(dir, 'run'), out = path.join(dir, 'var');
  assert.equal(runFqt(['train', '--model', 'mlp', '--dataset', 'synthetic', '--epochs', '1', '--quiet', '--out', run]).status, 0);
  const meta = JSON.parse(readFileSync(path.join(run, 'run.json'), 'utf8')) as { environment: Record<string, unknown> };
  assert.deepEqual(Object.keys(meta.environment), ['fqt', 'node', 'backend', 'isa', 'threads', 'date', 'commit']);
  assert.match(String(meta.environment.date), /^\d{4}-\d\d-\d\dT/);
  const r = runFqt(['variance', '--model', 'mlp', '--dataset', 'synthetic', '--recipes', 'ptq4', '--draws', '4', '--batches', '2',
    '--batch-size', '32', '--checkpoint', run, '--no-bn-diagnostics', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /sampling var\s+quant var/);
  assert.match(r.stdout, /^environment: fqt \d+\.\d+\.\d+ · node v\d+/m);
  const json = JSON.parse(readFileSync(path.join(out, 'variance.json'), 'utf8')) as { reports: { rows: { layer: string; quantVar: number }[] }[] };
  const row = json.reports[0].rows.find((x) => x.quantVar > 0)!;
  // The terminal prints the same number (summed E‖·‖²) the JSON and the HTML chart carry.
  assert.match(r.stdout, new RegExp(`${row.layer.replace('.', '\\.')}\\s.*\\s${row.quantVar.toExponential(2).replace('+', '\\+')}\\s`));
  const html = readFileSync(path.join(out, 'variance.html'), 'utf8');
  assert.match(html, /Environment: fqt \d/);
  assert.ok(!html.includes(dir), 'no absolute path in the report');
  assert.doesNotMatch(html, /\{&quot;model/, 'no raw JSON subtitle');
});
