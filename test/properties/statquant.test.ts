/**
 * METHODS §8.2: StatQuant gradient quantizers (PTQ, PSQ, per-column, BHQ) — unbiasedness (also after the BHQ
 * inverse), variance ordering on outlier-row gradients, no gain on homogeneous rows, bit scaling.
 */
import assert from 'node:assert/strict';
import { quantizeWith } from '../../src/quant/quantizers/index.js';
import { materialize } from '../../src/quant/gemm/index.js';
import { applyBhq } from '../../src/quant/transforms.js';
import { bhqDense } from '../helpers/bhq-dense.js';
import type { QuantSpec } from '../../src/quant/spec.js';
import { assertUnbiased, codeCoordinate, normals, outlierRows, scaledRows, sqErr, srVariance, Welford, zTest } from '../quant/helpers.js';
import { forEachBackend } from '../helpers/backends.js';

const PTQ = (bits: number): QuantSpec => ({ kind: 'uniform', bits, format: 'zeroAligned', granularity: 'tensor', rounding: 'stochastic' });
const PSQ = (bits: number): QuantSpec => ({ kind: 'uniform', bits, format: 'asymmetric', granularity: 'sample', rounding: 'stochastic' });
const COL = (bits: number): QuantSpec => ({ kind: 'uniform', bits, format: 'asymmetric', granularity: 'feature', rounding: 'stochastic' });
const BHQ = (bits: number): QuantSpec => ({ kind: 'bhq', bits, rounding: 'stochastic' });

/** One draw of Q(G) in fp32 (BHQ: T⁻¹ applied). */
function draw(spec: QuantSpec, g: Float32Array, rows: number, cols: number, rps: number, stream: number): Float32Array {
  const value = quantizeWith(spec, g, rows, cols, { rowsPerSample: rps, draw: { seed: 2024, stream } });
  return materialize({ kind: 'quant', value }, false);
}

function mse(spec: QuantSpec, g: Float32Array, rows: number, cols: number, K: number, rps = 1): number {
  let s = 0;
  for (let k = 0; k < K; k++) s += sqErr(draw(spec, g, rows, cols, rps, k), g);
  return s / K;
}

/**
 * Exact per-element variance of Q(G) (SR variances of the codes, pushed through T⁻¹ for BHQ), and whether an
 * element is "skewed": less than half of its variance comes from codes with f(1−f)·K ≥ 5, i.e. it is driven by
 * rare rounding events that K draws may never see (excluded from the max test, METHODS §8).
 */
function exactVariance(spec: QuantSpec, g: Float32Array, rows: number, cols: number, rps: number, K: number): { v: Float64Array; skewed: (i: number) => boolean } {
  const value = quantizeWith(spec, g, rows, cols, { rowsPerSample: rps, draw: { seed: 1, stream: 0 } });
  const t = value.transform;
  const z = t ? applyBhq(t, g, (rows * cols) / t.n, false) : g;
  const v = Float64Array.from({ length: g.length }, (_, i) => srVariance(value.q, z, i));
  const mixed = Float64Array.from({ length: g.length }, (_, i) => {
    const s = codeCoordinate(value.q, z, i), f = s - Math.floor(s);
    return f * (1 - f) * K >= 5 ? v[i] : 0;
  });
  if (!t) return { v, skewed: (i) => mixed[i] < 0.5 * v[i] };
  const { Tinv } = bhqDense(t);
  const n = t.n, d = (rows * cols) / n, out = new Float64Array(g.length), outMixed = new Float64Array(g.length);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
    const c2 = Tinv[i * n + j] ** 2;
    if (c2 === 0) continue;
    for (let e = 0; e < d; e++) { out[i * d + e] += c2 * v[j * d + e]; outMixed[i * d + e] += c2 * mixed[j * d + e]; }
  }
  return { v: out, skewed: (i) => outMixed[i] < 0.5 * out[i] };
}

forEachBackend('unbiasedness (MC z-test, METHODS §8): PTQ, PSQ, per-column and BHQ after its inverse', { tiers: 'default' }, () => {
  // dY of a conv-like layer: 16 samples × 4 pixels = 64 rows, 64 channels; lognormal sample scales + one outlier.
  const N = 16, HW = 4, C = 64, rows = N * HW, K = 300;
  const sampleScale = Array.from(normals(5, N), (v, n) => Math.exp(v) * (n === 3 ? 30 : 1));
  const g = scaledRows(6, rows, C, (r) => sampleScale[Math.floor(r / HW)]);
  for (const [name, spec] of [['PTQ', PTQ(4)], ['PSQ', PSQ(4)], ['per-column', COL(4)], ['BHQ', BHQ(4)]] as const) {
    const w = new Welford(g.length);
    for (let k = 0; k < K; k++) w.add(draw(spec, g, rows, C, HW, k));
    const { v, skewed } = exactVariance(spec, g, rows, C, HW, K);
    const r = zTest(w, g, { sd: (i) => Math.sqrt(v[i]), skipMax: skewed, tol: (i) => 1e-5 * Math.abs(g[i]) + 1e-12 });
    assertUnbiased(r, name);
  }
});

forEachBackend('BHQ on a matrix of identical rows is still unbiased', { tiers: 'default' }, () => {
  const N = 32, D = 64, K = 300;
  const row = normals(8, D);
  const g = new Float32Array(N * D);
  for (let n = 0; n < N; n++) g.set(row, n * D);
  const w = new Welford(g.length);
  for (let k = 0; k < K; k++) w.add(draw(BHQ(4), g, N, D, 1, k));
  const { v, skewed } = exactVariance(BHQ(4), g, N, D, 1, K);
  assertUnbiased(zTest(w, g, { sd: (i) => Math.sqrt(v[i]), skipMax: skewed, tol: (i) => 1e-5 * Math.abs(g[i]) }), 'BHQ identical rows');
});

forEachBackend('variance ordering on outlier rows (128×256, 4 of scale 1 among 1e-2): PTQ/PSQ ≥ 3, PSQ/BHQ ≥ 8 at 4 bits', { tiers: 'default' }, (t) => {
  const g = outlierRows(7);
  const table: string[] = ['bits  PTQ        PSQ        BHQ        PTQ/PSQ  PSQ/BHQ   (METHODS 4b: 169, 26.2, 1.40, 6.5, 18.6)'];
  for (const bits of [8, 6, 5, 4, 2]) {
    const K = bits === 4 ? 16 : 6;
    const p = mse(PTQ(bits), g, 128, 256, K), s = mse(PSQ(bits), g, 128, 256, K), b = mse(BHQ(bits), g, 128, 256, K);
    table.push(`${String(bits).padEnd(5)} ${p.toExponential(3)}  ${s.toExponential(3)}  ${b.toExponential(3)}  ${(p / s).toFixed(1).padStart(7)}  ${(s / b).toFixed(1).padStart(7)}`);
    assert.ok(p > s && s > b, `${bits} bits: PTQ ${p} > PSQ ${s} > BHQ ${b}`);
    if (bits === 4) {
      assert.ok(p / s >= 3, `PTQ/PSQ = ${p / s} < 3`);
      assert.ok(s / b >= 8, `PSQ/BHQ = ${s / b} < 8`);
    }
  }
  t.diagnostic(`\n${table.join('\n')}`);
});

forEachBackend('other shapes (64×256, 4 bits): lognormal(σ=1.5) rows and one ×100 outlier keep PTQ > PSQ > BHQ', { tiers: 'default' }, (t) => {
  const ln = Array.from(normals(9, 64), (v) => Math.exp(1.5 * v));
  const shapes: [string, Float32Array][] = [
    ['lognormal σ=1.5', scaledRows(10, 64, 256, (r) => ln[r])],
    ['one ×100 outlier', scaledRows(11, 64, 256, (r) => (r === 5 ? 100 : 1))],
  ];
  for (const [name, g] of shapes) {
    const p = mse(PTQ(4), g, 64, 256, 6), s = mse(PSQ(4), g, 64, 256, 6), b = mse(BHQ(4), g, 64, 256, 6);
    t.diagnostic(`${name}: PTQ ${p.toExponential(3)}, PSQ ${s.toExponential(3)}, BHQ ${b.toExponential(3)}`);
    assert.ok(p > s && s > b, `${name}: PTQ ${p} > PSQ ${s} > BHQ ${b}`);
  }
});

forEachBackend('homogeneous rows: BHQ gives no gain, |BHQ/PSQ − 1| < 5%', { tiers: 'default' }, (t) => {
  const g = normals(12, 64 * 256);
  const s = mse(PSQ(4), g, 64, 256, 12), b = mse(BHQ(4), g, 64, 256, 12);
  t.diagnostic(`homogeneous 64×256 4b: PSQ ${s.toFixed(1)}, BHQ ${b.toFixed(1)} (METHODS 392.7 / 399.1)`);
  assert.ok(Math.abs(b / s - 1) < 0.05, `BHQ/PSQ = ${b / s}`);
});

forEachBackend('bit scaling (PSQ, Gaussian rows 64×256): MSE(b)/MSE(b+1) within 3% of ((2^(b+1)−1)/(2^b−1))² for b ≥ 2', { tiers: 'default' }, (t) => {
  const g = normals(13, 64 * 256);
  const m = new Map<number, number>();
  for (let b = 2; b <= 8; b++) m.set(b, mse(PSQ(b), g, 64, 256, 8));
  const lines: string[] = [];
  for (let b = 2; b <= 7; b++) {
    const ratio = m.get(b)! / m.get(b + 1)!, want = ((2 ** (b + 1) - 1) / (2 ** b - 1)) ** 2;
    lines.push(`${b + 1}→${b}: ${ratio.toFixed(3)} vs ${want.toFixed(3)}`);
    assert.ok(Math.abs(ratio / want - 1) < 0.03, `${b + 1}→${b}: ${ratio} vs ${want}`);
  }
  t.diagnostic(lines.join(', '));
});
