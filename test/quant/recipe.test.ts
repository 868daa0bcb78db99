/** Recipes: presets, labels, JSON round trips and files, `extends`, validation errors that name the key path. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FqtError } from '../../src/tensor/errors.js';
import { loadRecipeFile, preset, presetNames, recipeFromData, resolveRecipe } from '../../src/quant/presets.js';
import { deriveLabel, parseRecipe, qatOf, RECIPE_VERSION } from '../../src/quant/recipe.js';
import { assertFqtError } from '../helpers/errors.js';

test('every preset validates, has its short label and survives a JSON round trip', () => {
  const names = presetNames();
  for (const n of ['fp32', 'qat8', 'ptq8', 'ptq6', 'ptq5', 'ptq4', 'psq8', 'psq4', 'bhq8', 'bhq5', 'bhq4', 'statquant-compat'] as const) assert.ok(names.includes(n), n);
  for (const name of [...names, 'statquant-compat-bhq5'] as const) {
    const r = preset(name);
    assert.equal(r.version, RECIPE_VERSION);
    assert.deepEqual(recipeFromData(JSON.parse(JSON.stringify(r))), r, `${name} round trip`);
  }
  assert.equal(preset('bhq5').label, 'bhq5');
  assert.equal(preset('statquant-compat').label, 'sqc-ptq8');
  assert.equal(preset('statquant-compat-bhq5').label, 'sqc-bhq5');
  assert.deepEqual(preset('statquant-compat').overrides, [], 'first and last layers quantized too');
  assert.deepEqual(preset('psq4').overrides.map((o) => o.match), ['@first', '@last']);
});

test('presets follow METHODS §1.3 / §11: two independent draws, PSQ per-sample / per-column, BHQ on grad-input only', () => {
  const bhq = preset('bhq4');
  assert.equal(bhq.backwardDraws, 'independent');
  assert.deepEqual(bhq.gradInput.dy, { kind: 'bhq', bits: 4, rounding: 'stochastic' });
  assert.deepEqual(bhq.gradWeight.dy, { kind: 'uniform', bits: 4, format: 'asymmetric', granularity: 'feature', rounding: 'stochastic' });
  assert.equal(bhq.gradInput.w, 'forward');
  assert.deepEqual(preset('psq6').gradInput.dy, { kind: 'uniform', bits: 6, format: 'asymmetric', granularity: 'sample', rounding: 'stochastic' });
  assert.deepEqual(preset('ptq5').gradWeight.dy, { kind: 'uniform', bits: 5, format: 'zeroAligned', granularity: 'tensor', rounding: 'stochastic' });
  const qat = preset('qat8');
  assert.equal(qat.gradInput.dy, 'fp32');
  assert.deepEqual(qat.forward.x, { kind: 'uniform', bits: 8, format: 'asymmetric', granularity: 'tensor', rounding: 'nearest' });
  assert.deepEqual(qat.forward.w, { kind: 'uniform', bits: 8, format: 'zeroAligned', granularity: 'tensor', rounding: 'nearest' });
  assert.deepEqual(qatOf(bhq).forward, bhq.forward);
  assert.equal(qatOf(bhq).gradInput.dy, 'fp32');
  assert.equal(qatOf(bhq).label, 'bhq4-qat');
});

function rejects(raw: unknown, pattern: RegExp): void {
  assert.throws(() => recipeFromData(raw), (err: unknown) => {
    assert.ok(err instanceof FqtError, `expected FqtError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

test('validation names the key path of unknown keys and impossible combinations', () => {
  const v = { version: 1 };
  rejects({}, /^recipe\.version: missing/);
  rejects({ version: 2 }, /^recipe\.version: unsupported version 2/);
  rejects({ ...v, foo: 1 }, /^recipe\.foo: unknown key/);
  rejects({ ...v, gradInput: { dy: 'fp32', x: 'fp32' } }, /^recipe\.gradInput\.x: unknown key \(valid: dy, w\)/);
  rejects({ ...v, gradInput: { dy: { kind: 'uniform', bits: 9 } } }, /^recipe\.gradInput\.dy\.bits: must be an integer from 1 to 8, got 9/);
  rejects({ ...v, gradInput: { dy: { kind: 'nope', bits: 4 } } }, /^recipe\.gradInput\.dy\.kind: must be one of 'uniform', 'bhq'/);
  rejects({ ...v, forward: { x: { kind: 'uniform', bits: 4, sharpness: 2 } } }, /^recipe\.forward\.x\.sharpness: unknown key/);
  rejects({ ...v, forward: { x: { kind: 'bhq', bits: 4 } } }, /^recipe\.forward\.x\.kind: 'bhq' quantizes gradients/);
  rejects({ ...v, forward: { w: { kind: 'uniform', bits: 8, granularity: 'sample' } } }, /^recipe\.forward\.w\.granularity: 'sample' needs sample rows/);
  rejects({ ...v, forward: { x: { kind: 'uniform', bits: 1, format: 'symmetric' } } }, /^recipe\.forward\.x\.bits: a symmetric format needs at least 2 bits/);
  rejects({ ...v, forward: { x: { kind: 'uniform', bits: 4, granularity: { block: 0 } } } }, /^recipe\.forward\.x\.granularity\.block: must be an integer/);
  rejects({ ...v, forward: { x: 'forward' } }, /^recipe\.forward\.x: 'forward' \(reuse the forward operand\) is only valid/);
  rejects({ ...v, gradWeight: { x: 'int8' } }, /^recipe\.gradWeight\.x: must be 'fp32', 'forward' or a quantizer object/);
  rejects({ ...v, backwardDraws: 'shared', gradInput: { dy: { kind: 'bhq', bits: 4 } }, gradWeight: { dy: { kind: 'uniform', bits: 4 } } },
    /^recipe\.backwardDraws: 'shared' uses one draw/);
  rejects({ ...v, overrides: [{ match: '@first', fp32: true, forward: { x: 'fp32' } }] }, /^recipe\.overrides\[0\]\.fp32: cannot be combined/);
  rejects({ ...v, overrides: [{ match: '@last', gradInput: { dy: { kind: 'uniform', bits: 12 } } }] }, /^recipe\.overrides\[0\]\.gradInput\.dy\.bits/);
  rejects({ ...v, overrides: [{ fp32: true }] }, /^recipe\.overrides\[0\]\.match: must be/);
  rejects({ ...v, addons: { smp: 2 } }, /^recipe\.addons\.smp: must be an object/);
  rejects({ ...v, addons: { foo: {} } }, /^recipe\.addons\.foo: unknown key \(valid: smp, fnt, bnRectify\)/);
  rejects({ ...v, label: 'has spaces' }, /^recipe\.label: must be a short label/);
  rejects({ ...v, extends: 'nope' }, /^recipe\.extends: unknown preset 'nope'/);
});

test('defaults: absent slots are fp32 / forward, first and last layers fp32, SR for gradients, nearest elsewhere', () => {
  const r = parseRecipe({ version: 1, forward: { x: { kind: 'uniform', bits: 4 } }, gradInput: { dy: { kind: 'uniform', bits: 4 } } });
  assert.deepEqual(r.forward.x, { kind: 'uniform', bits: 4, format: 'asymmetric', granularity: 'tensor', rounding: 'nearest' });
  assert.equal((r.gradInput.dy as { rounding: string }).rounding, 'stochastic');
  assert.equal(r.gradWeight.x, 'forward');
  assert.deepEqual(r.overrides.map((o) => o.match), ['@first', '@last']);
  assert.equal(r.label, deriveLabel(r));
  assert.equal(parseRecipe({ version: 1 }).label, 'fp32');
});

test('"extends" starts from a preset; files load with validation and readable errors', () => {
  const r = recipeFromData({ version: 1, extends: 'psq4', gradInput: { dy: { kind: 'bhq', bits: 4 } } });
  assert.equal(r.label, 'psq4+');
  assert.deepEqual(r.gradWeight, preset('psq4').gradWeight);
  assert.deepEqual(r.gradInput.dy, { kind: 'bhq', bits: 4, rounding: 'stochastic' });
  const dir = mkdtempSync(path.join(tmpdir(), 'fqt-recipe-'));
  const good = path.join(dir, 'mine.json');
  writeFileSync(good, JSON.stringify({ version: 1, extends: 'bhq5', label: 'mine', overrides: [] }));
  const loaded = resolveRecipe(good);
  assert.equal(loaded.label, 'mine');
  assert.deepEqual(loaded.overrides, []);
  const bad = path.join(dir, 'bad.json');
  writeFileSync(bad, '{"version": 1, "forward": {"x": {"kind": "uniform", "bits": 0}}}');
  assert.throws(() => loadRecipeFile(bad), /recipe file '.*bad\.json'\.forward\.x\.bits: must be an integer from 1 to 8, got 0/);
  writeFileSync(bad, '{"version": 1,');
  assert.throws(() => loadRecipeFile(bad), /is not valid JSON/);
  assert.throws(() => loadRecipeFile(path.join(dir, 'missing.json')), /cannot read recipe file .*ENOENT/);
  assert.throws(() => resolveRecipe('bhq3'), /unknown preset 'bhq3'/);
});

test('recipe.training: validated strictly, inherited key by key through extends, not part of the label', () => {
  assertFqtError(() => recipeFromData({ version: 1, training: { optimiser: 'adam' } }), 'recipe.training.optimiser', 'unknown key');
  assertFqtError(() => recipeFromData({ version: 1, training: { optimizer: 'lion' } }), 'recipe.training.optimizer', "'sgd'");
  assertFqtError(() => recipeFromData({ version: 1, training: { lr: 0 } }), 'recipe.training.lr', 'positive');
  assertFqtError(() => recipeFromData({ version: 1, training: { schedule: 'linear' } }), 'recipe.training.schedule');
  const r = recipeFromData({ version: 1, extends: 'fqt1-agp-scq', label: 'mine', training: { weightDecay: 1e-5, schedule: 'constant' } });
  assert.deepEqual(r.training, { optimizer: 'adam', lr: 1e-3, weightDecay: 1e-5, schedule: 'constant' });
  assert.equal(recipeFromData({ version: 1, extends: 'psq4' }).training, undefined);
  assert.deepEqual(recipeFromData(JSON.parse(JSON.stringify(r))), r, 'JSON round trip');
});
