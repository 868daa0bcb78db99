/** `fqt variance` on a model with BatchNorm: the BN noise-amplification table, JSON and HTML section; `--bn-diagnostics=false`. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runFqt } from './run-cli.js';
import type { BnNoiseReport } from '../../src/stats/bn-noise.js';

const ARGS = ['variance', '--model', 'resnet20', '--dataset', 'synthetic', '--recipes', 'ptq4-bnr', '--draws', '3', '--batches', '2', '--batch-size', '16'];

test('fqt variance reports γ/σ and noise-to-signal before/after every BN layer', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'fqt-var-bn-'));
  const r = runFqt([...ARGS, '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /BN layer\s+C\s+\|γ\|\/σ mean\s+max\s+\(γ\/σ\)²>1\s+NSR out\s+NSR in/);
  assert.match(r.stdout, /ptq4-bnr-recon\s+layer1\.0\.bn1\s+16\s/);
  const json = JSON.parse(readFileSync(path.join(out, 'variance.json'), 'utf8')) as { bn: BnNoiseReport[] };
  assert.equal(json.bn.length, 1);
  assert.equal(json.bn[0].layers.length, 21);
  const mid = json.bn[0].layers.find((l) => l.layer === 'layer2.0.bn1')!;
  assert.ok(mid.nsrOut! > 0 && mid.nsrIn! > 0 && mid.gammaSigma.mean > 0, 'quantized gradients reach the middle BN layers');
  const html = readFileSync(path.join(out, 'variance.html'), 'utf8');
  assert.match(html, /BatchNorm noise amplification: ptq4-bnr-recon/);
  assert.match(html, /BN rectification \(reconstructed, not the paper&#39;s published formula\)/);
});

test('fqt variance --bn-diagnostics=false skips the BN part', () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'fqt-var-nobn-'));
  const r = runFqt([...ARGS, '--bn-diagnostics=false', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stdout, /BN layer/);
  assert.deepEqual((JSON.parse(readFileSync(path.join(out, 'variance.json'), 'utf8')) as { bn: unknown[] }).bn, []);
});
