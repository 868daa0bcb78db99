/**
 * The fused binary layers (quant/gemm/bconv.ts, issue 14) against the rows path they replace (im2col + qgemm on
 * bit.ts), layer by layer with the same seeds: forward Y bit-identical (exact integers times a_c); the dY codes
 * bit-identical (same draws, same group parameters, AGP pruning included); per-channel grad-weight bit-identical (the
 * same integer sums and the same float epilogue); grad-input, per-sample (blocked) grad-weight, fp32 (bin-qat)
 * gradients and da_c within a stated float tolerance (different summation orders). Also: which layers take the
 * fused path, and that a binary layer keeps only bits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grad } from '../../src/autograd/graph.js';
import { conv2d, type LayerGemm } from '../../src/ops/conv.js';
import { mul } from '../../src/ops/elementwise.js';
import { sum } from '../../src/ops/reduce.js';
import { makeQGemm, qgemm, type QGemmConfig } from '../../src/quant/gemm/index.js';
import type { RecipeSlots } from '../../src/quant/recipe.js';
import type { QuantSpec } from '../../src/quant/spec.js';
import type { QuantizedOperand } from '../../src/quant/quantize.js';
import { dequantize } from '../../src/quant/qtensor.js';
import { Rng } from '../../src/tensor/random.js';
import { parameter, Tensor } from '../../src/tensor/tensor.js';
import { normals } from './helpers.js';

const signX: QuantSpec = { kind: 'sign', ste: 'clipped', scale: 'none' };
const signW: QuantSpec = { kind: 'sign', ste: 'clipped', scale: 'channel' };
const agp = (granularity: 'sample' | 'column'): QuantSpec => ({ kind: 'agp', bits: 4, granularity, keepDivisor: 4, rescale: 'none' });
const scq = (granularity: 'sample' | 'column', bits: number): QuantSpec => ({ kind: 'uniform', bits, format: 'asymmetric', granularity, rounding: 'stochastic' });
const slots = (gi: QuantSpec | 'fp32', gw: QuantSpec | 'fp32'): RecipeSlots =>
  ({ forward: { x: signX, w: signW }, gradInput: { dy: gi, w: 'forward' }, gradWeight: { dy: gw, x: 'forward' } });

const feature: QuantSpec = { kind: 'uniform', bits: 4, format: 'asymmetric', granularity: 'feature', rounding: 'stochastic' };
const RECIPES: [string, RecipeSlots, ('independent' | 'shared')?][] = [
  ['fqt1-agp-scq', slots(agp('sample'), agp('column'))],
  ['fqt1-psq', slots(scq('sample', 1), scq('sample', 1))],
  ['scq 2-bit', slots(scq('sample', 2), scq('column', 2))],
  ['bin-qat', slots('fp32', 'fp32')],
  // dY quantizers the bit kernels do not take: quantized and dequantized, then the fp32 backward on ±1 values
  ['agp mass rescaling + per-(column, pixel) grad-weight', slots({ kind: 'agp', bits: 4, granularity: 'sample', keepDivisor: 4, rescale: 'mass' }, feature)],
  ['bhq 4-bit grad-input', slots({ kind: 'bhq', bits: 4, rounding: 'stochastic' }, scq('column', 4))],
  // one draw for both GEMMs: the bit kernels when both quantize alike, else both on the dequantized draw
  ['fqt1-psq, shared draws', slots(scq('sample', 1), scq('sample', 1)), 'shared'],
];

interface Run { y: Tensor; dx: Float32Array; dw: Float32Array; da: Float32Array; dy: Map<string, QuantizedOperand>; op: string }

/** One binary conv (or linear when geo.k = 0) through the fused path or the rows path, with a_c ≠ 1. */
function run(recipe: RecipeSlots, geo: { n: number; c: number; h: number; oc: number; k: number; stride: number; pad: number }, fused: boolean,
  draws: 'independent' | 'shared' = 'independent'): Run {
  const r = new Rng(5);
  const linear = geo.k === 0;
  const xShape = linear ? [geo.n, geo.c] : [geo.n, geo.c, geo.h, geo.h];
  const wShape = linear ? [geo.oc, geo.c] : [geo.oc, geo.c, geo.k, geo.k];
  const xs = normals(11, xShape.reduce((a, b) => a * b)), ws = normals(12, wShape.reduce((a, b) => a * b)).map((v) => v * 0.7);
  for (let i = 0; i < xs.length; i += 9) xs[i] = 0; // sign(0) = +1 and its mask
  const x = parameter(xs, xShape, 'x'), w = parameter(ws, wShape, 'w');
  const a = parameter(Float32Array.from({ length: geo.oc }, (_, i) => 0.5 + 0.25 * (i % 5) - (i === 2 ? 1.5 : 0)), [geo.oc], 'a');
  const dy = new Map<string, QuantizedOperand>();
  const cfg: QGemmConfig = { slots: recipe, backwardDraws: draws, rng: new Rng(r.int(1000)), outputScale: a,
    trace: (g, o, q) => { if (o === 'dy') dy.set(g, q); } };
  let y: Tensor;
  if (linear) {
    // The rows path of a linear layer: qgemm with a 1×1 conv geometry (no padding) takes bit.ts, not bconv.ts.
    y = fused ? qgemm(x, w, cfg) : qgemm(x, w, cfg, 1, { c: geo.c, h: 1, w: 1, kh: 1, kw: 1, stride: 1, pad: 0, oh: 1, ow: 1 });
  } else {
    const rows: LayerGemm = (xx, ww, rps, g) => qgemm(xx, ww, cfg, rps, g);
    y = conv2d(x, w, null, { stride: geo.stride, padding: geo.pad }, fused ? makeQGemm(cfg) : rows);
  }
  const g = normals(13, y.size).map((v, i) => v * (1 + (i % 3)));
  const gs = grad(sum(mul(y, new Tensor(g, y.shape))));
  return { y, dx: gs.get(x)!.data, dw: gs.get(w)!.data, da: gs.get(a)!.data, dy, op: y.node?.op ?? '' };
}

/** |got − want| ≤ tol·max|want| elementwise. */
function assertNear(got: Float32Array, want: Float32Array, tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < got.length; i++) {
    assert.ok(Math.abs(got[i] - want[i]) <= tol * Math.max(scale, 1e-30), `${what}[${i}]: ${got[i]} vs ${want[i]} (tolerance ${tol}·${scale})`);
  }
}

const GEOS = [
  { n: 6, c: 5, h: 7, oc: 6, k: 3, stride: 1, pad: 1 }, { n: 8, c: 3, h: 9, oc: 5, k: 3, stride: 2, pad: 1 },
  { n: 4, c: 16, h: 5, oc: 9, k: 3, stride: 1, pad: 0 }, { n: 5, c: 7, h: 6, oc: 4, k: 1, stride: 1, pad: 0 },
  { n: 9, c: 40, h: 0, oc: 13, k: 0, stride: 1, pad: 0 }, // linear
];

for (const [name, recipe, draws] of RECIPES) {
  test(`${name}: the fused binary layer matches the rows path (Y and dequantized dY codes exact, gradients within 1e-5 of the largest)`, () => {
    for (const geo of GEOS) {
      const what = `${name} ${JSON.stringify(geo)}`;
      const f = run(recipe, geo, true, draws), r = run(recipe, geo, false, draws);
      assert.equal(f.op, 'binaryConv', `${what}: the fused path runs`);
      assert.notEqual(r.op, 'binaryConv', `${what}: the reference runs the rows path`);
      assert.deepEqual([...f.y.data], [...r.y.data], `${what}: Y`);
      for (const gemm of ['gradInput', 'gradWeight']) {
        const qf = f.dy.get(gemm)?.q, qr = r.dy.get(gemm)?.q;
        assert.equal(qf === undefined, qr === undefined, `${what} ${gemm}: both quantize dY or neither`);
        if (!qf || !qr) continue;
        // Pruned groups' codes are never read (AGP zeroes their scale and offset): compare what the codes stand for.
        assert.deepEqual([...dequantize(qf)], [...dequantize(qr)], `${what} ${gemm}: dequantized dY codes`);
        assert.deepEqual([...qf.scale], [...qr.scale], `${what} ${gemm}: dY scales (pruned groups 0)`);
        assert.deepEqual([...qf.offset], [...qr.offset], `${what} ${gemm}: dY offsets`);
      }
      const perChannelDw = name === 'fqt1-agp-scq' || name === 'scq 2-bit';  // (shared draws: dequantized, within tolerance)
      if (perChannelDw) assert.deepEqual([...f.dw], [...r.dw], `${what}: per-channel dW is bit-identical`);
      else assertNear(f.dw, r.dw, 1e-5, `${what}: dW`);
      assertNear(f.dx, r.dx, 1e-5, `${what}: dX`);
      assertNear(f.da, r.da, 1e-5, `${what}: da_c`);
    }
  });
}

test('shared draws with different dY specs: the grad-weight GEMM takes the grad-input draw (float64 check)', () => {
  // (The rows path plans that GEMM for its own spec and misreads the shared draw's groups: a float64 reference here.)
  const geo = { n: 6, c: 5, h: 7, oc: 6, k: 3, stride: 1, pad: 1 };
  const f = run(slots(scq('sample', 2), scq('column', 2)), geo, true, 'shared');
  assert.equal(f.op, 'binaryConv');
  const dy = dequantize(f.dy.get('gradInput')!.q), x = normals(11, geo.n * geo.c * 49), w = normals(12, geo.oc * geo.c * 9).map((v) => v * 0.7);
  for (let i = 0; i < x.length; i += 9) x[i] = 0;
  let scale = 0;
  const want = new Float64Array(geo.oc * geo.c * 9);
  for (let o = 0; o < geo.oc; o++) for (let ch = 0; ch < geo.c; ch++) for (let t = 0; t < 9; t++) {
    let s = 0;
    for (let n = 0; n < geo.n; n++) for (let p = 0; p < 49; p++) {
      const y = Math.floor(p / 7) - 1 + Math.floor(t / 3), xx = (p % 7) - 1 + (t % 3);
      if (y < 0 || y >= 7 || xx < 0 || xx >= 7) continue;
      s += dy[(n * 49 + p) * geo.oc + o] * (x[((n * geo.c + ch) * 7 + y) * 7 + xx] >= 0 ? 1 : -1);
    }
    const at = (o * geo.c + ch) * 9 + t;
    want[at] = Math.abs(w[at]) < 1 ? s : 0;
    scale = Math.max(scale, Math.abs(want[at]));
  }
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(f.dw[i] - want[i]) <= 1e-5 * scale, `dW[${i}]: ${f.dw[i]} vs ${want[i]}`);
});

test('a binary layer whose grad-weight GEMM reads X in fp32 runs the rows path (the fused path keeps only bits)', () => {
  const geo = { n: 4, c: 3, h: 6, oc: 5, k: 3, stride: 1, pad: 1 };
  const fp32X: RecipeSlots = { ...slots(agp('sample'), agp('column')), gradWeight: { dy: agp('column'), x: 'fp32' } };
  assert.notEqual(run(fp32X, geo, true).op, 'binaryConv');
});
