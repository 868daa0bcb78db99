/**
 * quant/qconv.ts: a conv whose X quantizer is deterministic per tensor / per sample quantizes X before im2col.
 * Oracle: the rows path (im2col + qgemm, ops/conv.ts) on the same layer and seed. Uniform min/max quantizers must
 * give bit-identical Y and dX (the GEMM rows are split by sample only) and dW equal up to the float32 sum of the
 * K-chunks (bit-identical with one chunk); BHQ's T⁻¹ moves after col2im (float rounding only); SAWB takes its
 * clip statistics from X itself (METHODS §2.6), checked against an fp32 conv of the dequantized codes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, parameter } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { grad } from '../../src/autograd/graph.js';
import { conv2d, type LayerGemm } from '../../src/ops/conv.js';
import { linearRows } from '../../src/ops/matmul.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { makeQGemm, type QGemmConfig } from '../../src/quant/qgemm.js';
import { convChunking } from '../../src/quant/qconv.js';
import { dequantize, type QTensor } from '../../src/quant/qtensor.js';
import { quantizeWith } from '../../src/quant/quantizers/index.js';
import type { RecipeSlots } from '../../src/quant/recipe.js';
import type { QuantSpec } from '../../src/quant/spec.js';
import { preset, type PresetName } from '../../src/quant/presets.js';
import { assertBitEqual, normals } from './helpers.js';

interface Geo { n: number; c: number; h: number; oc: number; k: number; stride: number; pad: number }
const GEOS: Geo[] = [
  { n: 5, c: 3, h: 9, oc: 4, k: 3, stride: 1, pad: 1 },
  { n: 4, c: 2, h: 8, oc: 5, k: 3, stride: 2, pad: 1 },
  { n: 3, c: 4, h: 7, oc: 3, k: 1, stride: 1, pad: 0 },
  { n: 3, c: 3, h: 6, oc: 2, k: 3, stride: 1, pad: 0 },
];

function slotsOf(name: PresetName): RecipeSlots {
  const r = preset(name);
  return { forward: r.forward, gradInput: r.gradInput, gradWeight: r.gradWeight } as RecipeSlots;
}

interface Run { y: Float32Array; dx: Float32Array; dw: Float32Array; xTraced: QTensor[] }

/** conv → Σ y∘r on the quantized GEMM of `slots`, with (`convPath`) or without the conv entry. */
function run(slots: RecipeSlots, geo: Geo, convPath: boolean, extra: Partial<QGemmConfig> = {}, xData?: Float32Array): Run {
  const xTraced: QTensor[] = [];
  const cfg: QGemmConfig = {
    slots, backwardDraws: 'independent', rng: new Rng(11), ...extra,
    trace: (g, o, q) => { if (g === 'forward' && o === 'x') xTraced.push(q.q); },
  };
  const q = makeQGemm(cfg);
  const gemm: LayerGemm = convPath ? q : (a, b, rps, geometry) => q(a, b, rps, geometry);
  const data = xData ?? normals(1, geo.n * geo.c * geo.h * geo.h);
  if (!xData) for (let i = 0; i < data.length; i += 3) data[i] = Math.abs(data[i]); // mixed signs, some structure
  const x = parameter(data, [geo.n, geo.c, geo.h, geo.h], 'x');
  const w = parameter(normals(2, geo.oc * geo.c * geo.k * geo.k), [geo.oc, geo.c, geo.k, geo.k], 'w');
  const y = conv2d(x, w, null, { stride: geo.stride, padding: geo.pad }, gemm);
  const g = grad(sum(mul(y, new Tensor(normals(3, y.size), y.shape))));
  return { y: y.data, dx: g.get(x)!.data, dw: g.get(w)!.data, xTraced };
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); s = Math.max(s, Math.abs(b[i])); }
  return d / Math.max(s, 1e-30);
}

test('uniform min/max X quantizers: Y and dX bit-identical to im2col + qgemm, dW identical in one chunk', () => {
  for (const name of ['qat8', 'ptq8', 'ptq4', 'psq4', 'psq8'] as const) {
    for (const geo of GEOS) {
      const what = `${name} ${JSON.stringify(geo)}`;
      const a = run(slotsOf(name), geo, true), b = run(slotsOf(name), geo, false);
      // The conv path quantized X itself: one row per sample, 1 byte per activation kept for the backward.
      assert.deepEqual([a.xTraced[0].rows, a.xTraced[0].cols], [geo.n, geo.c * geo.h * geo.h], `${what}: X codes`);
      assert.equal(b.xTraced[0].cols, geo.c * geo.k * geo.k, `${what}: rows path quantizes im2col rows`);
      assertBitEqual(a.y, b.y, `${what} Y`);
      assertBitEqual(a.dx, b.dx, `${what} dX`);
      assertBitEqual(a.dw, b.dw, `${what} dW`);
    }
  }
});

test('several chunks of samples: Y and dX stay bit-identical, dW equal up to the float32 sum of chunks', () => {
  const saved = convChunking.bytes;
  try {
    for (const bytes of [1, 2 * 4 * 81 * 27]) { // one sample per chunk; two samples per chunk (5 = 2 + 2 + 1)
      convChunking.bytes = bytes;
      for (const name of ['qat8', 'ptq4', 'psq4'] as const) {
        const geo = GEOS[0];
        const a = run(slotsOf(name), geo, true), b = run(slotsOf(name), geo, false);
        assertBitEqual(a.y, b.y, `${name} chunk ${bytes} Y`);
        assertBitEqual(a.dx, b.dx, `${name} chunk ${bytes} dX`);
        assert.ok(maxRelDiff(a.dw, b.dw) < 1e-5, `${name} chunk ${bytes} dW: rel diff ${maxRelDiff(a.dw, b.dw)}`);
      }
    }
  } finally {
    convChunking.bytes = saved;
  }
});

test('BHQ gradients: T⁻¹ applied after col2im equals the rows path up to float32 rounding', () => {
  const saved = convChunking.bytes;
  try {
    for (const bytes of [saved, 1]) {
      convChunking.bytes = bytes;
      for (const geo of GEOS.slice(0, 2)) {
        const a = run(slotsOf('bhq4'), geo, true), b = run(slotsOf('bhq4'), geo, false);
        assertBitEqual(a.y, b.y, 'bhq4 Y');
        assert.ok(maxRelDiff(a.dx, b.dx) < 1e-5, `bhq4 dX rel diff ${maxRelDiff(a.dx, b.dx)}`);
        assert.ok(maxRelDiff(a.dw, b.dw) < 1e-5, `bhq4 dW rel diff ${maxRelDiff(a.dw, b.dw)}`);
      }
    }
  } finally {
    convChunking.bytes = saved;
  }
});

test('SMP and shared draws (luq4-smp2) run the conv path with the same dY draws as the rows path', () => {
  // 1×1 unpadded conv: im2col rows are X's pixels, so SAWB's statistics agree and both paths are comparable.
  const geo = GEOS[2];
  const slots = slotsOf('luq4-smp2');
  const extra = { samples: 2, backwardDraws: 'shared' as const };
  const a = run(slots, geo, true, extra), b = run(slots, geo, false, extra);
  assertBitEqual(a.y, b.y, 'Y');
  assertBitEqual(a.dx, b.dx, 'dX');
  assertBitEqual(a.dw, b.dw, 'dW');
});

test('SAWB X (LUQ forward): the clip comes from X itself, and Y is the fp32 conv of the dequantized codes', () => {
  const geo = GEOS[0];
  const slots = slotsOf('luq4');
  const a = run(slots, geo, true);
  const xq = a.xTraced[0];
  assert.deepEqual([xq.rows, xq.cols], [geo.n, geo.c * geo.h * geo.h]);
  const data = normals(1, geo.n * geo.c * geo.h * geo.h);
  for (let i = 0; i < data.length; i += 3) data[i] = Math.abs(data[i]);
  const direct = quantizeWith(slots.forward.x as QuantSpec, data, geo.n, geo.c * geo.h * geo.h, { rowsPerSample: 1, draw: null });
  assert.deepEqual(Array.from(xq.codes), Array.from(direct.q.codes), 'codes = SAWB of X');
  const wData = normals(2, geo.oc * geo.c * geo.k * geo.k);
  const wq = quantizeWith(slots.forward.w as QuantSpec, wData, geo.oc, geo.c * geo.k * geo.k, { rowsPerSample: 1, draw: null });
  const ref = conv2d(new Tensor(dequantize(direct.q), [geo.n, geo.c, geo.h, geo.h]), new Tensor(dequantize(wq.q), [geo.oc, geo.c, geo.k, geo.k]),
    null, { stride: geo.stride, padding: geo.pad }, linearRows);
  assert.ok(maxRelDiff(a.y, ref.data) < 1e-5, `Y vs fp32 conv of dequantized codes: ${maxRelDiff(a.y, ref.data)}`);
});

test('quantizers that cannot quantize X before im2col keep the rows path', () => {
  const sr: QuantSpec = { kind: 'uniform', bits: 8, format: 'asymmetric', granularity: 'tensor', rounding: 'stochastic' };
  const perRow: QuantSpec = { kind: 'uniform', bits: 8, format: 'asymmetric', granularity: 'row', rounding: 'nearest' };
  const base = slotsOf('ptq8');
  for (const [what, x] of [['stochastic X', sr], ['per-row X', perRow]] as const) {
    const r = run({ ...base, forward: { ...base.forward, x } }, GEOS[0], true);
    assert.equal(r.xTraced[0].cols, 3 * 3 * 3, `${what}: im2col rows quantized`);
  }
  // A 1×1 window with stride 2 skips pixels: X's range is not its im2col rows' range.
  const skip = run(base, { n: 2, c: 2, h: 6, oc: 2, k: 1, stride: 2, pad: 0 }, true);
  assert.equal(skip.xTraced[0].rows, 2 * 9, 'stride-2 1×1 conv: im2col rows quantized');
});
