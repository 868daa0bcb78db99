/**
 * qgemm: all-fp32 slots reproduce linearRows exactly (linear and conv); the integer paths (int8, int8-blocked,
 * affine zero points, BHQ inverse on the output) agree with the fp32-dequant path; path decisions; draws.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, parameter } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { grad } from '../../src/autograd/graph.js';
import { linearRows } from '../../src/ops/matmul.js';
import { conv2d } from '../../src/ops/conv.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { makeQGemm, planLayer, qgemm, type QGemmConfig } from '../../src/quant/gemm/index.js';
import { planGemm, type GemmPlan } from '../../src/quant/gemm/index.js';
import { runGemm, type GemmOperand } from '../../src/quant/gemm/index.js';
import { quantizeWith } from '../../src/quant/quantizers/index.js';
import type { RecipeSlots } from '../../src/quant/recipe.js';
import type { QuantSpec, UniformSpec } from '../../src/quant/spec.js';
import { preset } from '../../src/quant/presets.js';
import { assertBitEqual, normals } from './helpers.js';
import { forEachBackend } from '../helpers/backends.js';

const FP32: RecipeSlots = { forward: { x: 'fp32', w: 'fp32' }, gradInput: { dy: 'fp32', w: 'forward' }, gradWeight: { dy: 'fp32', x: 'forward' } };
const u = (bits: number, format: UniformSpec['format'], granularity: UniformSpec['granularity'], rounding: UniformSpec['rounding'] = 'nearest'): UniformSpec =>
  ({ kind: 'uniform', bits, format, granularity, rounding });

function cfg(slots: RecipeSlots, seed = 1, backwardDraws: 'independent' | 'shared' = 'independent'): QGemmConfig {
  return { slots, backwardDraws, rng: new Rng(seed) };
}

/** Loss = Σ y ∘ r for a fixed random r, so the upstream gradient is r. */
function lossOf(y: Tensor, seed: number): Tensor {
  return sum(mul(y, new Tensor(normals(seed, y.size), y.shape)));
}

forEachBackend('all-fp32 slots: qgemm equals linearRows exactly (forward, dX, dW)', () => {
  const x = parameter(normals(1, 12 * 20), [12, 20], 'x');
  const w = parameter(normals(2, 7 * 20), [7, 20], 'w');
  const yRef = linearRows(x, w), yQ = qgemm(x, w, cfg(FP32));
  assertBitEqual(yQ.data, yRef.data, 'Y');
  const gRef = grad(lossOf(yRef, 3)), gQ = grad(lossOf(yQ, 3));
  assertBitEqual(gQ.get(x)!.data, gRef.get(x)!.data, 'dX');
  assertBitEqual(gQ.get(w)!.data, gRef.get(w)!.data, 'dW');
});

forEachBackend('all-fp32 slots through conv2d (rowsPerSample = H·W) equal the im2col + linearRows conv exactly', () => {
  const x = parameter(normals(4, 2 * 3 * 6 * 6), [2, 3, 6, 6], 'x');
  const w = parameter(normals(5, 4 * 3 * 3 * 3), [4, 3, 3, 3], 'w');
  let seenRps = 0;
  const q = makeQGemm(cfg(FP32));
  const spy = (a: Tensor, b: Tensor, rps?: number) => { seenRps = rps ?? -1; return q(a, b, rps); };
  // A wrapper around linearRows takes conv2d's im2col path (plain linearRows selects the fused fp32 kernel,
  // whose float sums run in another order).
  const unfused = (a: Tensor, b: Tensor) => linearRows(a, b);
  const yRef = conv2d(x, w, null, { padding: 1 }, unfused), yQ = conv2d(x, w, null, { padding: 1 }, spy);
  assert.equal(seenRps, 36, 'conv2d passes rowsPerSample = oh·ow');
  assertBitEqual(yQ.data, yRef.data, 'Y');
  const gRef = grad(lossOf(yRef, 6)), gQ = grad(lossOf(yQ, 6));
  assertBitEqual(gQ.get(x)!.data, gRef.get(x)!.data, 'dX');
  assertBitEqual(gQ.get(w)!.data, gRef.get(w)!.data, 'dW');
});

/** Run one GEMM on its planned path and on the forced fp32-dequant path; return the relative error. */
function compareToDequant(a: GemmOperand, aT: boolean, b: GemmOperand, bT: boolean, plan: GemmPlan): number {
  const fast = runGemm(a, aT, b, bT, plan);
  const slow = runGemm(a, aT, b, bT, { path: 'fp32-dequant', kBlock: null });
  let err = 0, scale = 0;
  for (let i = 0; i < fast.length; i++) { err = Math.max(err, Math.abs(fast[i] - slow[i])); scale = Math.max(scale, Math.abs(slow[i])); }
  return err / Math.max(scale, 1e-30);
}

forEachBackend('gemmI8 paths equal the fp32-dequant path within float tolerance (formats, bits, granularities, K-blocks)', () => {
  const rows = 48, rps = 16, inF = 40, outF = 24;
  const x = normals(7, rows * inF).map((v) => Math.max(v, 0) + 0.3); // positive, far-ish from zero: large zero points
  const w = normals(8, outF * inF);
  const dy = normals(9, rows * outF);
  const cases: [string, QuantSpec, QuantSpec, 'forward' | 'gradWeight'][] = [
    ['a8·z8 tensor (StatQuant forward)', u(8, 'asymmetric', 'tensor'), u(8, 'zeroAligned', 'tensor'), 'forward'],
    ['s8·s8 row', u(8, 'symmetric', 'row'), u(8, 'symmetric', 'row'), 'forward'],
    ['a4 row · z6 row', u(4, 'asymmetric', 'row'), u(6, 'zeroAligned', 'row'), 'forward'],
    ['a7 sample · a1 tensor', u(7, 'asymmetric', 'sample'), u(1, 'asymmetric', 'tensor'), 'forward'],
    ['a8 block16 · s5 block32 (int8-blocked, K = 40: partial last block)', u(8, 'asymmetric', { block: 16 }), u(5, 'symmetric', { block: 32 }), 'forward'],
    ['grad-weight: dY per-sample (K-blocks of H·W) · X a8 tensor', u(4, 'asymmetric', 'sample', 'stochastic'), u(8, 'asymmetric', 'tensor'), 'gradWeight'],
    ['grad-weight: dY z8 per-column · X a8 per-sample', u(8, 'zeroAligned', 'column', 'stochastic'), u(8, 'asymmetric', 'sample'), 'gradWeight'],
  ];
  for (const [name, sa, sb, gemm] of cases) {
    const ctx = { rowsPerSample: rps, draw: { seed: 3, stream: 1 } };
    let a: GemmOperand, b: GemmOperand, plan: GemmPlan;
    if (gemm === 'forward') {
      a = { kind: 'quant', value: quantizeWith(sa, x, rows, inF, ctx) };
      b = { kind: 'quant', value: quantizeWith(sb, w, outF, inF, ctx) };
      plan = planGemm({ spec: sa, cols: inF, transposed: false, rowsPerSample: rps }, { spec: sb, cols: inF, transposed: false, rowsPerSample: rps });
    } else {
      a = { kind: 'quant', value: quantizeWith(sa, dy, rows, outF, ctx) };
      b = { kind: 'quant', value: quantizeWith(sb, x, rows, inF, ctx) };
      plan = planGemm({ spec: sa, cols: outF, transposed: true, rowsPerSample: rps }, { spec: sb, cols: inF, transposed: true, rowsPerSample: rps });
    }
    assert.ok(plan.path === 'int8' || plan.path === 'int8-blocked', `${name}: expected an integer path, got ${plan.path} (${plan.reason})`);
    const t = gemm === 'gradWeight'; // the grad-weight GEMM consumes dYᵀ and Xᵀ
    const rel = compareToDequant(a, t, b, t, plan);
    assert.ok(rel < 2e-5, `${name}: relative error ${rel}`);
  }
});

forEachBackend('BHQ on grad-input: integer GEMM on T·dY codes, T⁻¹ applied to dX, equals dequantize-then-GEMM', () => {
  const rows = 32, rps = 4, inF = 24, outF = 16;
  const dy = normals(10, rows * outF).map((v, i) => v * (Math.floor(i / (rps * outF)) === 2 ? 50 : 1));
  const w = normals(11, outF * inF);
  const a: GemmOperand = { kind: 'quant', value: quantizeWith({ kind: 'bhq', bits: 5, rounding: 'stochastic' }, dy, rows, outF, { rowsPerSample: rps, draw: { seed: 1, stream: 2 } }) };
  const b: GemmOperand = { kind: 'quant', value: quantizeWith(u(8, 'zeroAligned', 'tensor'), w, outF, inF, { rowsPerSample: rps, draw: null }) };
  const plan = planGemm({ spec: { kind: 'bhq', bits: 5, rounding: 'stochastic' }, cols: outF, transposed: false, rowsPerSample: rps },
    { spec: u(8, 'zeroAligned', 'tensor'), cols: inF, transposed: true, rowsPerSample: rps });
  assert.equal(plan.path, 'int8');
  assert.ok(compareToDequant(a, false, b, true, plan) < 2e-5);
});

test('path decisions follow the scale placement rule (METHODS §0.1, DESIGN "Scales")', () => {
  const bhq5 = preset('bhq5');
  const conv = planLayer(bhq5, 27, 16, 64); // conv, 8×8 output
  assert.equal(conv.forward.path, 'int8');
  assert.equal(conv.gradInput.path, 'int8');
  assert.equal(conv.gradWeight.path, 'fp32-dequant', 'StatQuant per-(column, pixel) scales vary along K = rows');
  const lin = planLayer(bhq5, 100, 10, 1);
  assert.equal(lin.gradWeight.path, 'int8', 'for a linear layer per-column = per output channel = per row of dYᵀ');
  const perSampleGW: RecipeSlots = { ...bhq5, gradWeight: { dy: u(4, 'asymmetric', 'sample', 'stochastic'), x: 'forward' } };
  assert.deepEqual(planLayer(perSampleGW, 27, 16, 64).gradWeight, { path: 'int8-blocked', kBlock: 64 });
  assert.equal(planLayer(perSampleGW, 27, 16, 4).gradWeight.path, 'fp32-dequant', 'H·W = 4 is below the minimum K-block');
  assert.equal(planLayer(perSampleGW, 27, 16, 1).gradWeight.path, 'fp32-dequant');
  const perChannelW: RecipeSlots = { ...bhq5, forward: { x: bhq5.forward.x, w: u(8, 'symmetric', 'row') } };
  const pc = planLayer(perChannelW, 27, 16, 64);
  assert.equal(pc.forward.path, 'int8', 'per-output-channel W scales are per row in the forward GEMM');
  assert.equal(pc.gradInput.path, 'fp32-dequant', '…but lie along K in the grad-input GEMM');
  const qat = planLayer(preset('qat8'), 27, 16, 64);
  assert.equal(qat.gradInput.path, 'fp32-dequant');
  assert.equal(qat.gradInput.reason, 'the first operand is fp32');
  assert.equal(planLayer(FP32, 27, 16, 64).forward.path, 'fp32');
});

forEachBackend('two backward GEMMs draw independently; "shared" reuses one draw; same seed ⇒ same gradients', () => {
  const slots: RecipeSlots = { ...FP32, gradInput: { dy: u(4, 'asymmetric', 'row', 'stochastic'), w: 'forward' }, gradWeight: { dy: u(4, 'asymmetric', 'row', 'stochastic'), x: 'forward' } };
  const run = (seed: number, draws: 'independent' | 'shared') => {
    const x = parameter(normals(12, 16 * 8), [16, 8], 'x');
    const w = parameter(normals(13, 6 * 8), [6, 8], 'w');
    const seen: { gemm: string; stream: number | undefined; codes: Uint8Array | Int8Array }[] = [];
    const c = { ...cfg(slots, seed, draws), trace: (gemm: string, _o: string, q: { q: { draw: { stream: number } | null; codes: Uint8Array | Int8Array } }) => seen.push({ gemm, stream: q.q.draw?.stream, codes: q.q.codes }) };
    const g = grad(lossOf(qgemm(x, w, c), 14));
    return { dx: g.get(x)!.data, dw: g.get(w)!.data, seen };
  };
  const a = run(5, 'independent');
  const dys = a.seen.filter((s) => s.gemm !== 'forward');
  assert.equal(dys.length, 2);
  assert.notEqual(dys[0].stream, dys[1].stream, 'separate streams');
  assert.notDeepEqual(dys[0].codes, dys[1].codes, 'different codes');
  const b = run(5, 'independent');
  assertBitEqual(a.dx, b.dx, 'same seed dX');
  assertBitEqual(a.dw, b.dw, 'same seed dW');
  assert.notDeepEqual(run(6, 'independent').dw, a.dw, 'another seed');
  assert.equal(run(5, 'shared').seen.filter((s) => s.gemm !== 'forward').length, 1, 'one draw when shared');
});

forEachBackend('a quantized grad-weight X keeps codes, not the fp32 activation', () => {
  const slots: RecipeSlots = { ...FP32, gradWeight: { dy: 'fp32', x: u(4, 'asymmetric', 'tensor', 'stochastic') } };
  const x = parameter(normals(15, 10 * 6), [10, 6], 'x');
  const w = parameter(normals(16, 3 * 6), [3, 6], 'w');
  let kept: Uint8Array | Int8Array | null = null;
  const y = qgemm(x, w, { ...cfg(slots), trace: (g, _o, q) => { if (g === 'gradWeight') kept = q.q.codes; } });
  assert.ok(kept !== null, 'X was quantized for the backward pass during the forward');
  x.data.fill(NaN); // the fp32 activation is not used any more
  const gw = grad(lossOf(y, 17)).get(w)!.data;
  assert.ok(gw.every(Number.isFinite));
});

test('qgemm rejects a row count that is not a whole number of samples', () => {
  const x = new Tensor(new Float32Array(10 * 4), [10, 4]), w = new Tensor(new Float32Array(8), [2, 4]);
  assert.throws(() => qgemm(x, w, cfg(FP32), 3), /not a whole number of samples/);
});

forEachBackend('an empty batch (zero rows) runs every path without error', () => {
  for (const name of ['bhq4', 'psq4', 'ptq8', 'qat8'] as const) {
    const slots = preset(name);
    const x = parameter(new Float32Array(0), [0, 5], 'x'), w = parameter(normals(18, 3 * 5), [3, 5], 'w');
    const y = qgemm(x, w, cfg(slots), 1);
    assert.deepEqual(y.shape, [0, 3]);
    const g = grad(sum(y));
    assert.deepEqual(Array.from(g.get(w)!.data), new Array(15).fill(0));
  }
});
