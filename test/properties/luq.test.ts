/**
 * METHODS §8.3 Monte Carlo properties of LUQ with fixed seeds: unbiasedness (z-test), the element variance
 * formula, SMP variance ∝ 1/s (quantizer and qgemm level), ≥ 5× lower MSE than uniform INT4 SR on heavy-tailed
 * gradients, unbiasedness on the degenerate all-negative input, and one shared draw for both backward GEMMs.
 */
import assert from 'node:assert/strict';
import { quantizeWith } from '../../src/quant/quantizers/index.js';
import { dequantize } from '../../src/quant/qtensor.js';
import type { QuantSpec, LuqSpec } from '../../src/quant/spec.js';
import { qgemm, type QGemmConfig } from '../../src/quant/gemm/index.js';
import { preset } from '../../src/quant/presets.js';
import { parameter, Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { grad } from '../../src/autograd/graph.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { assertUnbiased, normals, sqErr, Welford, zTest } from '../quant/helpers.js';
import { forEachBackend } from '../helpers/backends.js';

const LUQ: LuqSpec = { kind: 'luq', bits: 4 };
const INT4_SR: QuantSpec = { kind: 'uniform', bits: 4, format: 'symmetric', granularity: 'tensor', rounding: 'stochastic' };

/** METHODS §8.3 data: N(0,1)·exp(2·N(0,1)). */
function heavyTailed(seed: number, n: number): Float32Array {
  const a = normals(seed, n), b = normals(seed + 1, n);
  return Float32Array.from(a, (v, i) => v * Math.exp(2 * b[i]));
}

function draw(spec: QuantSpec, g: Float32Array, stream: number): Float32Array {
  return dequantize(quantizeWith(spec, g, 1, g.length, { rowsPerSample: 1, draw: { seed: 31, stream } }).q);
}

/**
 * Skewed Bernoulli elements (METHODS §8: p(1−p)·K < 5) are dropped from the max test; we use 20 so that an element
 * whose rare rounding event may not occur at all in K draws (P = (1−p)^K ≈ e^−pK) is not asserted to vary.
 */
const skewed = (p: number, K: number): boolean => p * (1 - p) * K < 20;

/** Exact LUQ variance of element g (METHODS §2.3) and its rounding probability (for the skewness rule). */
function luqMoments(g: number, alpha: number): { v: number; p: number } {
  const a = Math.abs(g);
  if (a === 0) return { v: 0, p: 0 };
  if (a < alpha) return { v: a * (alpha - a), p: a / alpha };
  const lo = alpha * 2 ** Math.floor(Math.log2(a / alpha));
  return { v: (a - lo) * (2 * lo - a), p: a / lo - 1 };
}

function alphaOf(g: Float32Array): number {
  return Math.fround(g.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 64);
}

forEachBackend('LUQ is unbiased (z-test, heavy-tailed g, n = 4096, 2000 draws) and its variance matches Σ|g|(α−|g|) + (|g|−lo)(2lo−|g|)', { tiers: 'default' }, () => {
  const n = 4096, K = 2000;
  const g = heavyTailed(1, n), alpha = alphaOf(g);
  const w = new Welford(n);
  let mcSq = 0;
  for (let k = 0; k < K; k++) {
    const q = draw(LUQ, g, k);
    w.add(q);
    mcSq += sqErr(q, g);
  }
  const mom = Array.from(g, (v) => luqMoments(v, alpha));
  const r = zTest(w, g, {
    sd: (i) => Math.sqrt(mom[i].v),
    skipMax: (i) => skewed(mom[i].p, K),
    tol: (i) => 1e-6 * Math.abs(g[i]),
  });
  assertUnbiased(r, 'LUQ');
  const formula = mom.reduce((s, m) => s + m.v, 0), mc = mcSq / K;
  assert.ok(Math.abs(mc / formula - 1) < 0.02, `MC variance ${mc.toExponential(4)} vs formula ${formula.toExponential(4)}`);
});

forEachBackend('LUQ on all-negative gradients (the reference code gives NaN): finite and unbiased', { tiers: 'default' }, () => {
  const n = 1024, K = 1500;
  const g = Float32Array.from(heavyTailed(3, n), (v) => -Math.abs(v));
  const alpha = alphaOf(g);
  const w = new Welford(n);
  for (let k = 0; k < K; k++) {
    const q = draw(LUQ, g, k);
    assert.ok(q.every((v) => Number.isFinite(v) && v <= 0));
    w.add(q);
  }
  const mom = Array.from(g, (v) => luqMoments(v, alpha));
  assertUnbiased(zTest(w, g, { sd: (i) => Math.sqrt(mom[i].v), skipMax: (i) => skewed(mom[i].p, K) }), 'LUQ all-negative');
});

forEachBackend('SMP: the MSE of the average of s draws is ∝ 1/s (s = 1, 2, 4), and LUQ beats uniform INT4 SR by ≥ 5×', { tiers: 'default' }, () => {
  const n = 4096, K = 400;
  const g = heavyTailed(1, n);
  const mse = (spec: QuantSpec, s: number): number => {
    let tot = 0;
    for (let k = 0; k < K; k++) {
      const avg = new Float64Array(n);
      for (let j = 0; j < s; j++) draw(spec, g, 10_000 + k * s + j).forEach((v, i) => { avg[i] += v / s; });
      tot += sqErr(avg, g);
    }
    return tot / K;
  };
  const m1 = mse(LUQ, 1), m2 = mse(LUQ, 2), m4 = mse(LUQ, 4);
  assert.ok(Math.abs(m1 / m2 - 2) < 0.2 && Math.abs(m1 / m4 - 4) < 0.4, `MSE s=1,2,4: ${m1.toExponential(3)}, ${m2.toExponential(3)}, ${m4.toExponential(3)}`);
  const u = mse(INT4_SR, 1);
  assert.ok(u / m1 >= 5, `uniform INT4 SR MSE ${u.toExponential(3)} vs LUQ ${m1.toExponential(3)}: ratio ${(u / m1).toFixed(1)}`);
});

function lossOf(y: Tensor, seed: number): Tensor {
  return sum(mul(y, new Tensor(heavyTailed(seed, y.size), y.shape)));
}

forEachBackend('qgemm with LUQ + SMP: dX and dW unbiased for the QAT gradient; variance halves with 2 samples; one draw serves both GEMMs', { tiers: 'default' }, () => {
  const rows = 16, inF = 24, outF = 12, K = 300;
  const x = parameter(normals(4, rows * inF), [rows, inF], 'x');
  const w = parameter(normals(5, outF * inF, 0.2), [outF, inF], 'w');
  const p = preset('luq4');
  const qat = qgemm(x, w, { slots: { ...p, gradInput: { dy: 'fp32', w: 'forward' }, gradWeight: { dy: 'fp32', x: 'forward' } }, backwardDraws: 'independent', rng: new Rng(0) });
  const gq = grad(lossOf(qat, 6));
  const truthX = gq.get(x)!.data, truthW = gq.get(w)!.data;
  const run = (samples: number, backwardDraws: 'shared' | 'independent') => {
    const wx = new Welford(truthX.length), ww = new Welford(truthW.length);
    let sqX = 0, dys = 0;
    const rng = new Rng(9);
    for (let k = 0; k < K; k++) {
      const cfg: QGemmConfig = { slots: p, backwardDraws, samples, rng, trace: (_g, o) => { if (o === 'dy') dys++; } };
      const gr = grad(lossOf(qgemm(x, w, cfg), 6));
      wx.add(gr.get(x)!.data);
      ww.add(gr.get(w)!.data);
      sqX += sqErr(gr.get(x)!.data, truthX);
    }
    return { wx, ww, mseX: sqX / K, dysPerStep: dys / K };
  };
  const s1 = run(1, 'shared'), s2 = run(2, 'shared'), ind = run(2, 'independent');
  assert.deepEqual([s1.dysPerStep, s2.dysPerStep, ind.dysPerStep], [1, 2, 4], 'dY quantizations per backward pass');
  // The forward codes are identical in every run, so the integer GEMM's float rounding is a tiny fixed offset.
  const floor = (t: Float32Array) => (i: number) => 1e-5 * Math.abs(t[i]) + 1e-6;
  for (const [name, r] of [['s=1', s1], ['s=2', s2], ['independent', ind]] as const) {
    assertUnbiased(zTest(r.wx, truthX, { floor: floor(truthX) }), `dX ${name}`, [0.75, 1.25]);
    assertUnbiased(zTest(r.ww, truthW, { floor: floor(truthW) }), `dW ${name}`, [0.75, 1.25]);
  }
  const ratio = s1.mseX / s2.mseX;
  assert.ok(ratio > 1.7 && ratio < 2.3, `dX MSE s=1 / s=2 = ${ratio.toFixed(2)}`);
});
