/**
 * 1-bit FQT GEMMs (METHODS §3.2, §3.6, §8.4.5–6): a binary conv with zero padding through qgemm (forward on
 * gemmB1, grad-input and grad-weight on gemmBitplane) against explicit float64 references built from the
 * unpadded sign(x) (padding contributes 0, sign(0) = +1) and the traced dequantized dY; K not a multiple of
 * 32; clipped STE masks; the output scale a_c and its gradient; pruned rows; fp32-dequant agreement.
 */
import assert from 'node:assert/strict';
import { Tensor, parameter } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { grad } from '../../src/autograd/graph.js';
import { conv2d } from '../../src/ops/conv.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { makeQGemm, qgemm, type QGemmConfig } from '../../src/quant/gemm/index.js';
import { runGemm } from '../../src/quant/gemm/index.js';
import { quantizeWith } from '../../src/quant/quantizers/index.js';
import { dequantize } from '../../src/quant/qtensor.js';
import type { QuantizedOperand } from '../../src/quant/quantize.js';
import type { RecipeSlots } from '../../src/quant/recipe.js';
import type { QuantSpec } from '../../src/quant/spec.js';
import { normals } from './helpers.js';
import { forEachBackend } from '../helpers/backends.js';

const signX: QuantSpec = { kind: 'sign', ste: 'clipped', scale: 'none' };
const signW: QuantSpec = { kind: 'sign', ste: 'clipped', scale: 'channel' };
const agp = (granularity: 'sample' | 'column', bits = 4, keepDivisor = bits): QuantSpec => ({ kind: 'agp', bits, granularity, keepDivisor, rescale: 'none' });
const scq = (granularity: 'sample' | 'column', bits: number): QuantSpec => ({ kind: 'uniform', bits, format: 'asymmetric', granularity, rounding: 'stochastic' });
const sgn = (v: number): number => (v >= 0 ? 1 : -1);

/** Values in (−0.9, 0.9) with exact zeros sprinkled in (so sign(0) = +1 is exercised and every STE mask is 1). */
function inside(seed: number, n: number, zeroEvery = 7): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: n }, (_, i) => (i % zeroEvery === 3 ? 0 : Math.fround((r.int(1 << 20) / (1 << 20)) * 1.8 - 0.9)));
}

interface Traced { dyGi?: QuantizedOperand; dyGw?: QuantizedOperand }

function binaryConvCase(n: number, c: number, h: number, oc: number, k: number, stride: number, pad: number, slots: RecipeSlots) {
  const x = parameter(inside(1, n * c * h * h), [n, c, h, h], 'x');
  const w = parameter(inside(2, oc * c * k * k, 5), [oc, c, k, k], 'w');
  const traced: Traced = {};
  const cfg: QGemmConfig = {
    slots, backwardDraws: 'independent', rng: new Rng(9),
    trace: (g, o, q) => { if (o === 'dy') traced[g === 'gradInput' ? 'dyGi' : 'dyGw'] = q; },
  };
  const y = conv2d(x, w, null, { stride, padding: pad }, makeQGemm(cfg));
  const r = normals(3, y.size);
  const gs = grad(sum(mul(y, new Tensor(r, y.shape))));
  return { x, w, y, gs, traced, r };
}

/** Explicit binary conv: Σ sign(x)·sign(w) over in-bounds taps (padding contributes 0). */
function refConv(x: Tensor, w: Tensor, stride: number, pad: number): { y: Float64Array; oh: number } {
  const [n, c, h] = x.shape, [oc, , k] = w.shape;
  const oh = Math.floor((h + 2 * pad - k) / stride) + 1;
  const y = new Float64Array(n * oc * oh * oh);
  for (let b = 0; b < n; b++) for (let o = 0; o < oc; o++) for (let i = 0; i < oh; i++) for (let j = 0; j < oh; j++) {
    let s = 0;
    for (let ci = 0; ci < c; ci++) for (let u = 0; u < k; u++) for (let v = 0; v < k; v++) {
      const yy = i * stride - pad + u, xx = j * stride - pad + v;
      if (yy < 0 || yy >= h || xx < 0 || xx >= h) continue;
      s += sgn(x.data[((b * c + ci) * h + yy) * h + xx]) * sgn(w.data[((o * c + ci) * k + u) * k + v]);
    }
    y[((b * oc + o) * oh + i) * oh + j] = s;
  }
  return { y, oh };
}

const SLOTS_AGP: RecipeSlots = { forward: { x: signX, w: signW }, gradInput: { dy: agp('sample'), w: 'forward' }, gradWeight: { dy: agp('column'), x: 'forward' } };

// fqt1-psq: 1-bit per-sample dY on both paths; its grad-weight scales lie along K (bitplane-blocked).
const SLOTS_PSQ: RecipeSlots = { forward: { x: signX, w: signW }, gradInput: { dy: scq('sample', 1), w: 'forward' }, gradWeight: { dy: scq('sample', 1), x: 'forward' } };
const CASES = [[3, 3, 1, 1, 'agp'], [5, 3, 2, 1, 'agp'], [4, 5, 1, 2, 'agp'], [8, 1, 1, 0, 'agp'], [3, 3, 1, 1, 'psq'], [5, 3, 2, 1, 'psq']] as const;

for (const [c, k, stride, pad, kind] of CASES) {
  forEachBackend(`binary conv c=${c} k=${k} stride ${stride} pad ${pad} (K = ${c * k * k}), ${kind} gradients: b1 forward exact incl. padding correction; bit-plane dX, dW match float64 references`, () => {
    const n = 8, h = 7, oc = 6;
    const { x, w, y, gs, traced, r } = binaryConvCase(n, c, h, oc, k, stride, pad, kind === 'agp' ? SLOTS_AGP : SLOTS_PSQ);
    const { y: yRef, oh } = refConv(x, w, stride, pad);
    // a_c is 1 at init: Y equals the integer conv exactly.
    for (let i = 0; i < y.size; i++) assert.equal(y.data[i], yRef[i], `Y[${i}]`);
    // Upstream gradient of the GEMM rows: dYrows[(b, p), o] = r[b, o, p] (a_c = 1).
    const P = oh * oh, K = c * k * k;
    const dyGi = dequantize(traced.dyGi!.q), dyGw = dequantize(traced.dyGw!.q);
    assert.equal(traced.dyGi!.q.scale.length, n, 'grad-input dY scale shape [N]');
    assert.equal(traced.dyGw!.q.scale.length, kind === 'agp' ? oc : n, kind === 'agp' ? 'grad-weight dY scale shape [C]' : 'PSQ baseline: per sample on both paths');
    // dW[o, (ci,u,v)] = Σ_{b,p} dŶ_gw[(b,p), o]·sign(x at the tap) (0 on padding); |W| < 1 so the STE mask is 1.
    const dW = gs.get(w)!.data;
    let maxErr = 0, maxRef = 0;
    for (let o = 0; o < oc; o++) for (let ci = 0; ci < c; ci++) for (let u = 0; u < k; u++) for (let v = 0; v < k; v++) {
      let s = 0;
      for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < oh; j++) {
        const yy = i * stride - pad + u, xx = j * stride - pad + v;
        if (yy < 0 || yy >= h || xx < 0 || xx >= h) continue;
        s += dyGw[(b * P + i * oh + j) * oc + o] * sgn(x.data[((b * c + ci) * h + yy) * h + xx]);
      }
      const idx = ((o * c + ci) * k + u) * k + v;
      maxErr = Math.max(maxErr, Math.abs(dW[idx] - s));
      maxRef = Math.max(maxRef, Math.abs(s));
    }
    assert.ok(maxErr <= 1e-5 * Math.max(1, maxRef), `dW: max error ${maxErr} (max |ref| ${maxRef})`);
    // dX[b, ci, yy, xx] = Σ over taps reading it of Σ_o dŶ_gi[(b,p), o]·sign(w[o, ci, u, v]); |x| < 1 so mask 1.
    const dX = gs.get(x)!.data;
    const dXref = new Float64Array(x.size);
    for (let b = 0; b < n; b++) for (let i = 0; i < oh; i++) for (let j = 0; j < oh; j++) for (let ci = 0; ci < c; ci++) for (let u = 0; u < k; u++) for (let v = 0; v < k; v++) {
      const yy = i * stride - pad + u, xx = j * stride - pad + v;
      if (yy < 0 || yy >= h || xx < 0 || xx >= h) continue;
      let s = 0;
      for (let o = 0; o < oc; o++) s += dyGi[(b * P + i * oh + j) * oc + o] * sgn(w.data[((o * c + ci) * k + u) * k + v]);
      dXref[((b * c + ci) * h + yy) * h + xx] += s;
    }
    maxErr = 0; maxRef = 0;
    for (let i = 0; i < x.size; i++) { maxErr = Math.max(maxErr, Math.abs(dX[i] - dXref[i])); maxRef = Math.max(maxRef, Math.abs(dXref[i])); }
    assert.ok(maxErr <= 1e-5 * Math.max(1, maxRef), `dX: max error ${maxErr} (max |ref| ${maxRef})`);
    assert.ok(K > 0 && r.length === y.size);
  });
}

forEachBackend('b1 / bitplane paths agree with the fp32-dequant path (linear, K = 70 and 33, pruned rows included)', () => {
  for (const k of [70, 33, 64]) {
    const m = 12, n = 9;
    const a = quantizeWith(agp('sample', 4, 3), normals(k, m * n).map((v, i) => v * (1 + (i % 5))), m, n, { rowsPerSample: 1, draw: { seed: 1, stream: k } });
    const wq = quantizeWith(signW, inside(k + 1, k * n), n, k, { rowsPerSample: 1, draw: null });
    const xq = quantizeWith(signX, inside(k + 2, m * k), m, k, { rowsPerSample: 1, draw: null });
    const dq = { path: 'fp32-dequant' as const, kBlock: null };
    const pairs: [string, Float32Array, Float32Array][] = [
      ['b1 forward', runGemm({ kind: 'quant', value: xq }, false, { kind: 'quant', value: wq }, false, { path: 'b1', kBlock: null }),
        runGemm({ kind: 'quant', value: xq }, false, { kind: 'quant', value: wq }, false, dq)],
      ['bitplane grad-input', runGemm({ kind: 'quant', value: a }, false, { kind: 'quant', value: wq }, true, { path: 'bitplane', kBlock: null }),
        runGemm({ kind: 'quant', value: a }, false, { kind: 'quant', value: wq }, true, dq)],
    ];
    for (const [what, got, want] of pairs) {
      assert.equal(got.length, want.length);
      for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[i]) <= 1e-5 * Math.max(1, Math.abs(want[i])), `${what} K=${k}: C[${i}] ${got[i]} vs ${want[i]}`);
    }
    // Rows of pruned samples are exactly zero on the bit-plane path (computed without them).
    const pruned = [...Array(m).keys()].filter((i) => a.q.scale[i] === 0);
    assert.equal(pruned.length, m - 4, `K=${k}: 12 samples, keep floor(12/3) = 4`);
    const got = pairs[1][1];
    for (const i of pruned) for (let j = 0; j < k; j++) assert.equal(got[i * k + j], 0);
  }
});

forEachBackend('clipped STE: dX is zero where |x| ≥ 1, dW is zero where |W| ≥ 1; identity STE passes everything', () => {
  const x = parameter(Float32Array.from([0.5, -1.5, 1, 0.2, -0.99, 3, 0, -0.3]), [2, 4], 'x');
  const w = parameter(Float32Array.from([0.1, 1.2, -0.4, -1, 0.7, 0.05, -2, 0.3, 0.8, -0.6, 0.2, 0.9]), [3, 4], 'w');
  for (const ste of ['clipped', 'identity'] as const) {
    const slots: RecipeSlots = { forward: { x: { kind: 'sign', ste, scale: 'none' }, w: { kind: 'sign', ste, scale: 'none' } }, gradInput: { dy: 'fp32', w: 'forward' }, gradWeight: { dy: 'fp32', x: 'forward' } };
    const y = qgemm(x, w, { slots, backwardDraws: 'independent', rng: new Rng(1) });
    const gs = grad(sum(mul(y, new Tensor(Float32Array.from([1, 2.5, 4.25, -1.7, 0.5, 2.3]), [2, 3]))));
    const dx = gs.get(x)!.data, dw = gs.get(w)!.data;
    for (let i = 0; i < x.size; i++) {
      if (ste === 'clipped' && Math.abs(x.data[i]) >= 1) assert.ok(dx[i] === 0, `dX[${i}] masked (x = ${x.data[i]})`);
      else assert.notEqual(dx[i], 0, `dX[${i}] passes (x = ${x.data[i]})`);
    }
    for (let i = 0; i < w.size; i++) {
      if (ste === 'clipped' && Math.abs(w.data[i]) >= 1) assert.ok(dw[i] === 0, `dW[${i}] masked (w = ${w.data[i]})`);
      else assert.notEqual(dw[i], 0, `dW[${i}] passes (w = ${w.data[i]})`);
    }
    // sign outputs: Y = sign(x)·sign(W)ᵀ with sign(0) = +1.
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let t = 0; t < 4; t++) s += sgn(x.data[i * 4 + t]) * sgn(w.data[j * 4 + t]);
      assert.equal(y.data[i * 3 + j], s);
    }
  }
});

forEachBackend('output scale a_c multiplies Y per channel and receives dL/da_c = Σ_rows g·(xb·wbᵀ)', () => {
  const x = parameter(inside(5, 6 * 10), [6, 10], 'x');
  const w = parameter(inside(6, 4 * 10), [4, 10], 'w');
  const a = parameter(Float32Array.from([1, 0.5, -2, 3]), [4], 'a');
  const slots: RecipeSlots = { forward: { x: signX, w: signW }, gradInput: { dy: 'fp32', w: 'forward' }, gradWeight: { dy: 'fp32', x: 'forward' } };
  const plain = qgemm(x, w, { slots, backwardDraws: 'independent', rng: new Rng(1) });
  const y = qgemm(x, w, { slots, backwardDraws: 'independent', rng: new Rng(1), outputScale: a });
  const g = normals(7, y.size);
  const gs = grad(sum(mul(y, new Tensor(g, y.shape))));
  const da = gs.get(a)!.data;
  for (let c = 0; c < 4; c++) {
    let want = 0;
    for (let r = 0; r < 6; r++) {
      assert.equal(y.data[r * 4 + c], Math.fround(plain.data[r * 4 + c] * a.data[c]));
      want += g[r * 4 + c] * plain.data[r * 4 + c];
    }
    assert.ok(Math.abs(da[c] - want) < 1e-4 * Math.max(1, Math.abs(want)), `da[${c}] = ${da[c]} vs ${want}`);
  }
});

forEachBackend('SCQ: grad-input scales per sample [N], grad-weight scales per channel [C], two independent draws', () => {
  const slots: RecipeSlots = { forward: { x: signX, w: signW }, gradInput: { dy: scq('sample', 2), w: 'forward' }, gradWeight: { dy: scq('column', 2), x: 'forward' } };
  const { traced } = binaryConvCase(5, 3, 6, 7, 3, 1, 1, slots);
  const gi = traced.dyGi!.q, gw = traced.dyGw!.q;
  assert.equal(gi.scale.length, 5);
  assert.equal(gi.zeroPoint.length, 5);
  assert.equal(gw.scale.length, 7);
  assert.notDeepEqual(gi.draw, gw.draw, 'different (seed, stream)');
  let differ = 0;
  for (let i = 0; i < gi.codes.length; i++) if (gi.codes[i] !== gw.codes[i]) differ++;
  assert.ok(differ > gi.codes.length / 10, `codes of the two draws differ (${differ} of ${gi.codes.length})`);
});
