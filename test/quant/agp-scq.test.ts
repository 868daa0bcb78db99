/**
 * SCQ and AGP quantizers (METHODS §3.3, §3.4, §8.4.1–4): top-k selection incl. ties and the G < b guard, exact
 * zeros for pruned groups, unbiased kept groups (z-test), bias = −(pruned part), the 'mass' extension, 1-bit
 * groups taking only {lo_g, hi_g}, unbiased SCQ, the MSE ordering of §8.4.4, and spec validation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { agpKeepCount, agpKeepMask } from '../../src/quant/quantizers/agp.js';
import { parseQuantSpec, quantizeWith } from '../../src/quant/quantizers/index.js';
import { dequantize } from '../../src/quant/qtensor.js';
import { preset } from '../../src/quant/presets.js';
import { recipeFromData } from '../../src/quant/presets.js';
import type { QuantSpec } from '../../src/quant/spec.js';
import { FqtError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/random.js';
import { assertUnbiased, codeCoordinate, scaledRows, srVariance, Welford, zTest } from './helpers.js';
import type { QTensor } from '../../src/quant/qtensor.js';
import { forEachBackend } from '../helpers/backends.js';

/** z-test options with the exact SR sd and the skewed-Bernoulli exclusion of METHODS §8 (p(1−p)·K < 5). */
function srOpts(q: QTensor, x: ArrayLike<number>, K: number, idx: (j: number) => number = (j) => j) {
  const f = (j: number): number => { const s = codeCoordinate(q, x, idx(j)); return s - Math.floor(s); };
  return { sd: (j: number) => Math.sqrt(srVariance(q, x, idx(j))), skipMax: (j: number) => f(j) * (1 - f(j)) * K < 5, tol: (j: number) => 1e-5 * Math.abs(x[idx(j)]) + 1e-7 };
}

const agp = (granularity: 'sample' | 'column', bits = 4, keepDivisor = bits, rescale: 'none' | 'mass' = 'none'): QuantSpec =>
  ({ kind: 'agp', bits, granularity, keepDivisor, rescale });
const scq = (granularity: 'sample' | 'column', bits: number): QuantSpec => ({ kind: 'uniform', bits, format: 'asymmetric', granularity, rounding: 'stochastic' });

test('AGP keep rule: k = max(1, floor(G/b)) top scores; ties at the threshold keep more; G < b keeps one', () => {
  assert.equal(agpKeepCount(128, 4), 32);
  assert.equal(agpKeepCount(10, 4), 2);
  assert.equal(agpKeepCount(3, 4), 1, 'the released int(G/b) = 0 would crash');
  assert.equal(agpKeepCount(1, 8), 1);
  assert.deepEqual([...agpKeepMask(Float32Array.from([0.5, 3, 1, 2, 0.1, 4, 2.5, 0]), 4)], [0, 1, 0, 0, 0, 1, 0, 0]);
  // Ties: k = 2, the 2nd largest score 3 is shared by three groups: all three are kept.
  assert.deepEqual([...agpKeepMask(Float32Array.from([3, 1, 5, 3, 3, 0, 1, 2]), 4)], [1, 0, 1, 1, 1, 0, 0, 0]);
  assert.deepEqual([...agpKeepMask(Float32Array.from([0.2, 0.9, 0.4]), 4)], [0, 1, 0]);
});

forEachBackend('AGP on dY [N·HW, C]: exactly the top-k samples / channels survive; pruned groups are exactly 0', () => {
  const N = 16, HW = 9, C = 12, rows = N * HW;
  const x = scaledRows(3, rows, C, (r) => 1 + Math.floor(r / HW) * 0.37);
  for (const [g, G, score] of [
    ['sample', N, (i: number) => { let m = 0; for (let r = i * HW; r < (i + 1) * HW; r++) for (let c = 0; c < C; c++) m = Math.max(m, Math.abs(x[r * C + c])); return m; }],
    ['column', C, (i: number) => { let m = 0; for (let r = 0; r < rows; r++) m = Math.max(m, Math.abs(x[r * C + i])); return m; }],
  ] as const) {
    const q = quantizeWith(agp(g), x, rows, C, { rowsPerSample: HW, draw: { seed: 1, stream: 2 } }).q;
    assert.equal(q.scale.length, G, `${g}: one scale per group`);
    const scores = Array.from({ length: G }, (_, i) => score(i));
    const order = [...scores.keys()].sort((a, b) => scores[b] - scores[a]);
    const kept = new Set(order.slice(0, G / 4));
    const deq = dequantize(q);
    for (let i = 0; i < G; i++) assert.equal(q.scale[i] !== 0, kept.has(i), `${g} group ${i} kept ⇔ among the top ${G / 4}`);
    for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) {
      const grp = g === 'sample' ? Math.floor(r / HW) : c;
      if (!kept.has(grp)) assert.ok(deq[r * C + c] === 0, `${g}: pruned element (${r}, ${c}) is exactly 0`);
    }
  }
});

forEachBackend('AGP: kept groups unbiased (z-test), mean error = −pruned part (the bias); mass rescale restores Σ|g|', { tiers: 'default' }, () => {
  const rows = 32, cols = 64;
  const x = scaledRows(5, rows, cols, (r) => Math.exp(1.5 * Math.sin(r * 1.7)));
  const K = 400;
  const w = new Welford(rows * cols);
  let keep: boolean[] = [];
  let q0!: QTensor;
  for (let d = 0; d < K; d++) {
    const q = quantizeWith(agp('sample'), x, rows, cols, { rowsPerSample: 1, draw: { seed: 11, stream: d } }).q;
    keep = Array.from(q.scale, (s) => s !== 0);
    q0 = q;
    w.add(dequantize(q));
  }
  assert.equal(keep.filter(Boolean).length, 8);
  const keptIdx = [...x.keys()].filter((i) => keep[Math.floor(i / cols)]);
  const sub = new Welford(keptIdx.length);
  keptIdx.forEach((i, j) => { sub.mean[j] = w.mean[i]; sub.m2[j] = w.m2[i]; });
  sub.k = K;
  assertUnbiased(zTest(sub, keptIdx.map((i) => x[i]), srOpts(q0, x, K, (j) => keptIdx[j])), 'AGP kept groups');
  for (let i = 0; i < x.length; i++) if (!keep[Math.floor(i / cols)]) assert.equal(w.mean[i] - x[i], -x[i], 'bias = −pruned part');
  // 'mass' (labelled extension): kept groups scaled by Σ|g| / Σ|g·keep|.
  const qm = quantizeWith(agp('sample', 4, 4, 'mass'), x, rows, cols, { rowsPerSample: 1, draw: { seed: 11, stream: 0 } }).q;
  let all = 0, kept = 0;
  for (let i = 0; i < x.length; i++) { all += Math.abs(x[i]); if (keep[Math.floor(i / cols)]) kept += Math.abs(x[i]); }
  for (let g = 0; g < rows; g++) if (keep[g]) assert.ok(Math.abs(qm.scale[g] / q0.scale[g] - all / kept) < 1e-5 * (all / kept), `mass factor on group ${g}`);
});

forEachBackend('SCQ per-sample / per-channel SR is unbiased; 1-bit groups take only {lo_g, hi_g}', { tiers: 'default' }, () => {
  const rows = 24, cols = 40, K = 400;
  const x = scaledRows(8, rows, cols, (r) => 0.1 + (r % 5));
  for (const g of ['sample', 'column'] as const) {
    for (const bits of [1, 4]) {
      const w = new Welford(rows * cols);
      let q0!: QTensor;
      for (let d = 0; d < K; d++) {
        const q = quantizeWith(scq(g, bits), x, rows, cols, { rowsPerSample: 3, draw: { seed: 4, stream: d } }).q;
        q0 = q;
        const deq = dequantize(q);
        if (bits === 1 && d === 0) {
          for (let i = 0; i < deq.length; i++) {
            const grp = g === 'sample' ? Math.floor(i / cols / 3) : i % cols;
            const lo = q.offset[grp], hi = Math.fround(q.offset[grp] + q.scale[grp]);
            assert.ok(deq[i] === lo || deq[i] === hi, `1-bit ${g}: element ${i} = ${deq[i]} ∉ {${lo}, ${hi}}`);
          }
        }
        w.add(deq);
      }
      assertUnbiased(zTest(w, x, srOpts(q0, x, K)), `SCQ ${g} ${bits}-bit`);
    }
  }
});

forEachBackend('MSE ordering on heterogeneous rows (128×512, lognormal σ = 1.5): 1-bit PSQ ≫ AGP(4-bit, keep 1/4) > 4-bit PSQ (METHODS §8.4.4)', { tiers: 'default' }, () => {
  const rows = 128, cols = 512;
  const r = new Rng(21);
  const scales = Array.from({ length: rows }, () => { const z = new Float32Array(1); r.fillNormal(z); return Math.exp(1.5 * z[0]); });
  const x = scaledRows(22, rows, cols, (i) => scales[i]);
  const mse = (spec: QuantSpec): number => {
    let s = 0;
    const D = 8;
    for (let d = 0; d < D; d++) {
      const deq = dequantize(quantizeWith(spec, x, rows, cols, { rowsPerSample: 1, draw: { seed: 3, stream: d } }).q);
      for (let i = 0; i < x.length; i++) s += (deq[i] - x[i]) ** 2;
    }
    return s / D;
  };
  const psq1 = mse(scq('sample', 1)), agp4 = mse(agp('sample')), psq4 = mse(scq('sample', 4));
  assert.ok(psq1 > 20 * agp4, `1-bit PSQ ${psq1.toExponential(2)} ≫ AGP ${agp4.toExponential(2)}`);
  assert.ok(agp4 > psq4, `AGP ${agp4.toExponential(2)} > 4-bit PSQ ${psq4.toExponential(2)}`);
});

test('spec validation names the key; the 1-bit presets validate and default to Adam', () => {
  const bad: [unknown, string, 'x' | 'w' | 'dy', RegExp][] = [
    [{ kind: 'sign' }, 's', 'dy', /s\.kind: 'sign' binarizes forward operands/],
    [{ kind: 'sign', scale: 'channel' }, 's', 'x', /s\.scale: 'channel'/],
    [{ kind: 'sign', ste: 'tanh' }, 's', 'x', /s\.ste: must be one of/],
    [{ kind: 'agp', bits: 4 }, 'g', 'dy', /g\.granularity: missing/],
    [{ kind: 'agp', bits: 9, granularity: 'sample' }, 'g', 'dy', /g\.bits: must be an integer from 1 to 8/],
    [{ kind: 'agp', bits: 4, granularity: 'sample', keepDivisor: 0 }, 'g', 'dy', /g\.keepDivisor/],
    [{ kind: 'agp', bits: 4, granularity: 'sample', rescale: 'yes' }, 'g', 'dy', /g\.rescale/],
    [{ kind: 'agp', bits: 4, granularity: 'sample' }, 'g', 'w', /g\.kind: 'agp' prunes/],
  ];
  for (const [raw, path, role, re] of bad) assert.throws(() => parseQuantSpec(raw, path, role), (e: unknown) => e instanceof FqtError && re.test(e.message), JSON.stringify(raw));
  assert.deepEqual(parseQuantSpec({ kind: 'agp', bits: 4, granularity: 'column' }, 'g', 'dy'), { kind: 'agp', bits: 4, granularity: 'column', keepDivisor: 4, rescale: 'none' });
  assert.deepEqual(parseQuantSpec({ kind: 'sign' }, 'w', 'w'), { kind: 'sign', ste: 'clipped', scale: 'channel' });
  for (const name of ['bin-qat', 'fqt1-psq', 'fqt1-agp-scq'] as const) {
    const r = preset(name);
    assert.equal(r.label, name);
    assert.deepEqual(recipeFromData(JSON.parse(JSON.stringify(r))), r, `${name} round-trips through JSON validation`);
    assert.deepEqual(r.training, { optimizer: 'adam', lr: 1e-3 }, `${name}: training defaults are recipe data`);
  }
  assert.equal(preset('psq4').training, undefined);
  // A JSON recipe extending a 1-bit preset inherits its training defaults, key by key.
  assert.deepEqual(recipeFromData({ version: 1, extends: 'fqt1-psq', training: { lr: 0.01 } }).training, { optimizer: 'adam', lr: 0.01 });
  assert.deepEqual(preset('fqt1-agp-scq').gradWeight.dy, { kind: 'agp', bits: 4, granularity: 'column', keepDivisor: 4, rescale: 'none' });
});
