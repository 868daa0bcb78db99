/**
 * LUQ (METHODS §2, §8.3): SAWB forward codes and constants, LUQ level set / max / zeros / rounding
 * probabilities, degenerate inputs, recipe and add-on validation, the integer GEMM path.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { quantizeWith, specCodeBits, specLabel } from '../../src/quant/quantizers/index.js';
import { dequantize } from '../../src/quant/qtensor.js';
import { luqAlpha, luqKmax } from '../../src/quant/quantizers/luq.js';
import { sawbClip } from '../../src/quant/quantizers/sawb.js';
import type { LuqSpec, QuantSpec, SawbSpec } from '../../src/quant/spec.js';
import { parseRecipe } from '../../src/quant/recipe.js';
import { preset, recipeFromData } from '../../src/quant/presets.js';
import { planLayer } from '../../src/quant/gemm/index.js';
import { runGemm } from '../../src/quant/gemm/index.js';
import { uniform } from '../../src/tensor/random.js';
import { roundUpF32 } from '../../src/quant/rounding.js';
import { assertFqtError } from '../helpers/errors.js';
import { syntheticBlobs } from '../../src/data/synthetic.js';
import { createModel } from '../../src/nn/models/index.js';
import { fit } from '../../src/train/trainer.js';
import { applyRecipe } from '../../src/quant/apply.js';
import { Rng } from '../../src/tensor/random.js';
import { normals } from './helpers.js';
import { forEachBackend } from '../helpers/backends.js';

const LUQ: LuqSpec = { kind: 'luq', bits: 4 };
const SAWB_X: SawbSpec = { kind: 'sawb', bits: 4, c1: 12.1, c2: 12.2, range: 'auto', paperCompat: false };
const SAWB_W: SawbSpec = { ...SAWB_X, range: 'signed' };

function heavyTailed(seed: number, n: number): Float32Array {
  const a = normals(seed, n), b = normals(seed + 1, n);
  return Float32Array.from(a, (v, i) => v * Math.exp(2 * b[i]));
}

function luqDraw(g: Float32Array, stream: number, spec: QuantSpec = LUQ) {
  return quantizeWith(spec, g, 1, g.length, { rowsPerSample: 1, draw: { seed: 77, stream } }).q;
}

forEachBackend('LUQ level set: codes are 0 or ±2^k, k = 0..6 (8 magnitude codes), α = max|g|/2^6, dequantized = code·α', () => {
  const g = heavyTailed(1, 4096);
  const q = luqDraw(g, 0);
  const maxAbs = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.equal(luqKmax(4), 6);
  assert.equal(q.scale[0], Math.fround(maxAbs / 64));
  const mags = new Set<number>();
  const deq = dequantize(q);
  for (let i = 0; i < g.length; i++) {
    const c = q.codes[i], m = Math.abs(c);
    assert.ok(m === 0 || (Number.isInteger(Math.log2(m)) && Math.log2(m) <= 6), `code ${c}`);
    mags.add(m);
    assert.equal(deq[i], Math.fround(c * q.scale[0]));
    if (c !== 0) assert.equal(Math.sign(c), Math.sign(g[i]), 'sign kept');
  }
  assert.equal(mags.size, 8, `magnitude codes seen: ${[...mags].sort((a, b) => a - b).join(',')}`);
  // Smaller formats: e = 1 → {0, ±1}; e = 2 → up to ±4.
  assert.deepEqual([luqKmax(2), luqKmax(3)], [0, 2]);
  assert.deepEqual([specCodeBits(LUQ), specCodeBits({ kind: 'luq', bits: 2 })], [8, 2]);
  const q3 = luqDraw(g, 1, { kind: 'luq', bits: 3 });
  assert.ok(q3.codes.every((c) => [0, 1, 2, 4].includes(Math.abs(c))));
});

forEachBackend('LUQ keeps the max element exactly (every draw) and exact zeros stay zero', () => {
  const g = heavyTailed(2, 2048);
  for (let i = 0; i < g.length; i += 3) g[i] = 0;
  let arg = 0;
  for (let i = 0; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[arg])) arg = i;
  for (let s = 0; s < 20; s++) {
    const q = luqDraw(g, s);
    const deq = dequantize(q);
    assert.equal(deq[arg], g[arg], 'max reproduced exactly');
    assert.equal(Math.abs(q.codes[arg]), 64);
    for (let i = 0; i < g.length; i += 3) assert.ok(Object.is(deq[i], 0) || deq[i] === 0, `zero at ${i}`);
  }
});

forEachBackend('LUQ rounding probabilities (METHODS §8.3.4): P(up) = x/2^k − 1 in linear space; underflow P(α) = x/α', { tiers: 'default' }, () => {
  // One tensor holding many copies of x·α plus the max 64·α (α = 1): the frequency of each level is binomial.
  const copies = 20000;
  for (const [x, lo, p] of [[1.2, 1, 0.2], [1.5, 1, 0.5], [1.99, 1, 0.99], [5.5, 4, 0.375], [40, 32, 0.25], [0.3, 0, 0.3], [0.01, 0, 0.01]]) {
    const g = new Float32Array(copies + 1).fill(x);
    g[copies] = 64;
    const q = luqDraw(g, 3);
    assert.equal(q.scale[0], 1);
    let up = 0;
    for (let i = 0; i < copies; i++) {
      const c = q.codes[i];
      assert.ok(c === (lo === 0 ? 0 : lo) || c === (lo === 0 ? 1 : 2 * lo), `x=${x}: code ${c}`);
      if (c === (lo === 0 ? 1 : 2 * lo)) up++;
    }
    const pTrue = lo === 0 ? Math.fround(x) : Math.fround(x) / lo - 1;
    assert.ok(Math.abs(pTrue - p) < 1e-6);
    const se = Math.sqrt((pTrue * (1 - pTrue)) / copies);
    assert.ok(Math.abs(up / copies - pTrue) < 5 * se, `x=${x}: P(up) ${up / copies} vs ${pTrue} (5·se = ${5 * se})`);
  }
});

forEachBackend('LUQ degenerate inputs: all-zero → exact zeros and a finite scale; all-negative → finite codes, max kept; NaN propagates', () => {
  const z = luqDraw(new Float32Array(64), 0);
  assert.equal(z.scale[0], 0);
  assert.ok(dequantize(z).every((v) => v === 0));
  const neg = Float32Array.from(heavyTailed(4, 512), (v) => -Math.abs(v) - 1e-3);
  const q = luqDraw(neg, 0);
  const deq = dequantize(q);
  assert.ok(deq.every((v) => Number.isFinite(v) && v <= 0));
  const mn = neg.reduce((a, b) => Math.min(a, b), 0);
  assert.ok(deq.includes(mn), 'most negative element reproduced exactly (the signed-max quirk of the code gives NaN here)');
  const bad = Float32Array.of(1, NaN, 2);
  assert.ok(Number.isNaN(dequantize(luqDraw(bad, 0))[0]));
  assert.equal(luqAlpha(Infinity, 6), NaN);
});

forEachBackend('SAWB constants (METHODS §8.3.8): N(0,σ²) → clip/σ = 2.366 ± 0.01; U(−1,1) → clip = 0.887', () => {
  const n = 1 << 21;
  for (const sigma of [1, 0.03]) {
    const x = normals(11, n, sigma);
    const { clip } = sawbClip(SAWB_W, x);
    assert.ok(Math.abs(clip / sigma - 2.366) < 0.01, `σ=${sigma}: clip/σ = ${clip / sigma}`);
  }
  const u = Float32Array.from({ length: n }, (_, i) => 2 * uniform(12, 0, i) - 1);
  const { clip } = sawbClip(SAWB_W, u);
  assert.ok(Math.abs(clip - 0.887) < 0.005, `U(−1,1): clip = ${clip}`);
});

forEachBackend('SAWB codes use strict 4-bit ranges; paperCompat restores [−8, 8] (weights) and [−8, 15] (signed activations)', () => {
  const x = normals(5, 4096);
  const relu = Float32Array.from(heavyTailed(5, 4096), (v) => Math.max(0, v)); // heavy tail: saturates at 15
  const range = (spec: SawbSpec, data: Float32Array) => {
    const q = quantizeWith(spec, data, 64, 64, { rowsPerSample: 1, draw: null }).q;
    let lo = Infinity, hi = -Infinity;
    for (const c of q.codes) { lo = Math.min(lo, c); hi = Math.max(hi, c); }
    return { lo, hi, q };
  };
  const w = range(SAWB_W, x);
  assert.deepEqual([w.lo, w.hi, w.q.qmin, w.q.qmax], [-7, 7, -7, 7]); // clip ≈ 2.37σ: both ends saturate
  const a = range(SAWB_X, relu);
  assert.deepEqual([a.lo, a.hi, a.q.qmin, a.q.qmax, a.q.signed], [0, 15, 0, 15, false]);
  assert.equal(a.q.scale[0], roundUpF32((2 * sawbClip(SAWB_X, relu).clip) / 15), 'Δ = 2·clip/(Qp − Qn)');
  const as = range(SAWB_X, x);
  assert.deepEqual([as.q.qmin, as.q.qmax], [-7, 7]);
  const pw = range({ ...SAWB_W, paperCompat: true }, x);
  assert.deepEqual([pw.lo, pw.hi], [-8, 8]);
  const pa = range({ ...SAWB_X, paperCompat: true }, x);
  assert.deepEqual([pa.lo, pa.hi], [-8, 15]);
  assert.equal(specCodeBits({ ...SAWB_X, paperCompat: true }), 5, 'the paper activation range is not 4-bit');
  // Nearest rounding of x/Δ inside the range: dequantized error ≤ Δ/2 where not clipped.
  const deq = dequantize(w.q), d = w.q.scale[0];
  for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) < 6.5 * d) assert.ok(Math.abs(deq[i] - x[i]) <= d / 2 + 1e-6 * d);
});

forEachBackend('SAWB degenerate inputs: all-zero → zeros; constant ±a (clip ≤ 0 in the formula) → finite, falls back to max|x|', () => {
  const z = quantizeWith(SAWB_W, new Float32Array(16), 4, 4, { rowsPerSample: 1, draw: null }).q;
  assert.ok(dequantize(z).every((v) => v === 0) && Number.isFinite(z.scale[0]));
  const pm = Float32Array.from({ length: 16 }, (_, i) => (i % 2 ? 0.5 : -0.5));
  assert.ok(sawbClip(SAWB_W, pm).clip === 0.5);
  const q = quantizeWith(SAWB_W, pm, 4, 4, { rowsPerSample: 1, draw: null }).q;
  assert.ok(dequantize(q).every((v, i) => Math.abs(v - pm[i]) <= q.scale[0] / 2));
});

test('recipe validation names the key: luq/sawb slots, bits, add-ons', () => {
  const base = { version: 1, forward: { x: SAWB_X, w: SAWB_W } };
  assertFqtError(() => parseRecipe({ ...base, forward: { x: LUQ } }), 'recipe.forward.x.kind', "'luq'");
  assertFqtError(() => parseRecipe({ ...base, gradInput: { dy: SAWB_X } }), 'recipe.gradInput.dy.kind', "'sawb'");
  assertFqtError(() => parseRecipe({ ...base, gradInput: { dy: { kind: 'luq', bits: 5 } } }), 'recipe.gradInput.dy.bits');
  assertFqtError(() => parseRecipe({ ...base, gradInput: { dy: { kind: 'luq', paperCompat: 'yes' } } }), 'recipe.gradInput.dy.paperCompat', 'true or false');
  assertFqtError(() => parseRecipe({ ...base, forward: { w: { kind: 'sawb', bits: 3 } } }), 'recipe.forward.w.c1');
  assertFqtError(() => parseRecipe({ ...base, forward: { w: { kind: 'sawb', c1: 3 } } }), 'recipe.forward.w.c2');
  assertFqtError(() => parseRecipe({ ...base, forward: { w: { kind: 'sawb', range: 'unsigned' } } }), 'recipe.forward.w.range');
  assertFqtError(() => parseRecipe({ ...base, addons: { smp: { samples: 0 } } }), 'recipe.addons.smp.samples');
  assertFqtError(() => parseRecipe({ ...base, addons: { smp: { samples: 2 } } }), 'recipe.addons.smp', 'stochastic');
  assertFqtError(() => parseRecipe({ ...base, addons: { smp: { n: 2 } } }), 'recipe.addons.smp.n');
  assertFqtError(() => parseRecipe({ ...base, addons: { fnt: { fromEpoch: 2, lastEpochs: 1 } } }), 'recipe.addons.fnt', 'exactly one');
  assertFqtError(() => parseRecipe({ ...base, addons: { fnt: {} } }), 'recipe.addons.fnt');
  assertFqtError(() => parseRecipe({ ...base, addons: { fnt: { lastEpochs: 1, lr: -1 } } }), 'recipe.addons.fnt.lr');
  assertFqtError(() => parseRecipe({ ...base, addons: { fnt: { lastEpochs: 1, lr: 0.1, lrScale: 0.1 } } }), 'recipe.addons.fnt.lrScale');
  assertFqtError(() => parseRecipe({ ...base, addons: { bn: {} } }), 'recipe.addons.bn', 'valid: smp, fnt');
  assertFqtError(() => parseRecipe({ ...base, gradInput: { dy: LUQ }, gradWeight: { dy: { kind: 'luq', bits: 3 } }, backwardDraws: 'shared' }), 'recipe.backwardDraws');
  // extends keeps the preset's add-ons unless given; a derived label names them.
  const r = recipeFromData({ version: 1, extends: 'luq4-smp2', addons: { fnt: { fromEpoch: 3 } } });
  assert.deepEqual(r.addons, { smp: { samples: 2 }, fnt: { fromEpoch: 3 } });
  const d = parseRecipe({ version: 1, gradInput: { dy: LUQ }, gradWeight: { dy: LUQ }, backwardDraws: 'shared', addons: { smp: { samples: 4 } } });
  assert.match(d.label, /_smp4$/);
});

test('presets luq4 / luq4-smp2 / luq4-smp2-fnt: slots, shared draw, add-ons; every quantized GEMM is int8', () => {
  const p = preset('luq4');
  assert.deepEqual([p.forward.x, p.forward.w, p.gradInput.dy, p.gradWeight.dy], [SAWB_X, SAWB_W, LUQ, LUQ]);
  assert.equal(p.backwardDraws, 'shared');
  assert.deepEqual(p.overrides, [{ match: '@first', fp32: true }, { match: '@last', fp32: true }]);
  assert.deepEqual(preset('luq4-smp2').addons, { smp: { samples: 2 } });
  assert.deepEqual(preset('luq4-smp2-fnt').addons, { smp: { samples: 2 }, fnt: { lastEpochs: 1, lrScale: 0.1 } });
  for (const rps of [1, 64]) {
    const plans = planLayer(p, 72, 16, rps);
    assert.deepEqual([plans.forward.path, plans.gradInput.path, plans.gradWeight.path], ['int8', 'int8', 'int8']);
  }
});

forEachBackend('integer path: LUQ × SAWB codes on gemmI8 equal the exact integer dot products times αΔ', () => {
  const rows = 48, outF = 24, inF = 40;
  const g = heavyTailed(8, rows * outF);
  const w = normals(9, outF * inF, 0.1);
  const dy = luqDraw(g, 5);
  const dyq = quantizeWith(LUQ, g, rows, outF, { rowsPerSample: 1, draw: { seed: 77, stream: 5 } }).q;
  assert.deepEqual(Array.from(dyq.codes), Array.from(dy.codes));
  const wq = quantizeWith(SAWB_W, w, outF, inF, { rowsPerSample: 1, draw: null }).q;
  const plan = planLayer(preset('luq4'), inF, outF, 1).gradInput;
  assert.equal(plan.path, 'int8');
  const c = runGemm({ kind: 'quant', value: { q: dyq, transform: null } }, false, { kind: 'quant', value: { q: wq, transform: null } }, true, plan);
  const s = dyq.scale[0] * wq.scale[0];
  for (let i = 0; i < rows; i++) for (let j = 0; j < inF; j++) {
    let acc = 0;
    for (let k = 0; k < outF; k++) acc += dyq.codes[i * outF + k] * wq.codes[k * inF + j];
    const want = acc * s;
    assert.ok(Math.abs(c[i * inF + j] - want) <= 2 ** -22 * Math.abs(want) + 1e-30, `dX[${i},${j}] ${c[i * inF + j]} vs ${want}`);
  }
});

forEachBackend('LUQ paperCompat: α = max(g)/2^7 from the SIGNED max, hand values, no top level, log codes, fp32-dequant GEMMs', () => {
  const PAPER: LuqSpec = { kind: 'luq', bits: 4, paperCompat: true };
  // max(g) = 1 (the signed max; max|g| = 3): α = 1/128. Values on a level are exact in every draw; −3 lies between
  // the levels 2 (= α·2^8) and 4 (α·2^9): beyond the top level α·2^7 = 1, which the released code does not clip.
  const g = Float32Array.of(1, 0.5, 1 / 128, 0, -0.25, -3, 1 / 256, -1 / 1024);
  const seen = new Map<number, Set<number>>();
  let sumNeg3 = 0;
  const draws = 4000;
  for (let stream = 0; stream < draws; stream++) {
    const q = luqDraw(g, stream, PAPER);
    assert.equal(q.scale[0], 1 / 128);
    assert.equal(q.levels, 'log2');
    const v = dequantize(q);
    assert.deepEqual(Array.from(v.slice(0, 5)), [1, 0.5, 1 / 128, 0, -0.25], 'levels are exact');
    v.forEach((x, i) => { if (!seen.has(i)) seen.set(i, new Set()); seen.get(i)!.add(x); });
    sumNeg3 += v[5];
    if (stream === 0) assert.deepEqual(Array.from(q.codes.slice(0, 5)), [8, 7, 1, 0, -6], 'log codes sign·(k + 1)');
  }
  assert.deepEqual([...seen.get(5)!].sort((a, b) => a - b), [-4, -2], '−3 → −2 or −4 (beyond the top level 1)');
  assert.ok(Math.abs(sumNeg3 / draws + 3) < 0.05, `unbiased: mean ${sumNeg3 / draws}`); // sd of the mean 1/√4000·1 ≈ 0.016
  assert.deepEqual([...seen.get(6)!].sort((a, b) => a - b), [0, 1 / 128], 'stochastic underflow to α');
  assert.deepEqual([...seen.get(7)!].sort((a, b) => a - b), [-1 / 128, 0]);
  // The strict default uses max|g| = 3: α = 3/64, and −3 is the top level.
  const strict = luqDraw(g, 0);
  assert.equal(strict.scale[0], Math.fround(3 / 64));
  assert.equal(dequantize(strict)[5], -3);
  // All-negative input: the released code's α would be ≤ 0 (NaN); paperCompat falls back to max|g|.
  const neg = luqDraw(Float32Array.of(-1, -0.5), 0, PAPER);
  assert.equal(neg.scale[0], 1 / 128);
  assert.deepEqual(Array.from(dequantize(neg)), [-1, -0.5]);
  // Not a 4-bit format: 9-bit codes, so both backward GEMMs run fp32-dequant and say why.
  assert.equal(specCodeBits(PAPER), 9);
  const recipe = recipeFromData({ version: 1, extends: 'luq4', gradInput: { dy: PAPER }, gradWeight: { dy: PAPER } });
  const plans = planLayer(recipe, 72, 16, 1);
  assert.deepEqual([plans.forward.path, plans.gradInput.path, plans.gradWeight.path], ['int8', 'fp32-dequant', 'fp32-dequant']);
  assert.match(plans.gradInput.reason ?? '', /wider than 8 bits/);
  assert.match(specLabel(PAPER), /paper-compat \(not a 4-bit format\)/, 'reports and fqt info say so');
});

forEachBackend('LUQ paperCompat trains a conv net end to end; its backward GEMMs are reported as fp32-dequant', { tiers: 'default' }, () => {
  const recipe = recipeFromData({ version: 1, extends: 'luq4', label: 'luq4-paper', gradInput: { dy: { kind: 'luq', paperCompat: true } }, gradWeight: { dy: { kind: 'luq', paperCompat: true } } });
  const data = syntheticBlobs({ trainSize: 64, testSize: 32, classes: 4, channels: 1, size: 28, seed: 2 });
  const model = createModel('lenet', { inChannels: 1, inputSize: 28, classes: 4 }, new Rng(1));
  const r = fit(model, data, { recipe, epochs: 1, batchSize: 16, lr: 0.02, quiet: true });
  assert.ok(Number.isFinite(r.final!.train_loss));
  const resolved = applyRecipe(createModel('lenet', { inChannels: 1, inputSize: 28, classes: 4 }, new Rng(1)), recipe, { sampleShape: [1, 28, 28] });
  const hidden = resolved.layers.filter((l) => l.slots.gradInput.dy !== 'fp32');
  assert.ok(hidden.length > 0);
  for (const l of hidden) assert.deepEqual([l.gemms.gradInput.path, l.gemms.gradWeight.path], ['fp32-dequant', 'fp32-dequant'], l.name);
});
