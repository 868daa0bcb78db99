/**
 * quant/gemm/fused.ts: quantized convs and linear layers whose three passes run as conv-level kernels. Oracles:
 * (1) an independent float conv of the traced quantized operands, dequantized (refBackend's conv2dForward /
 *     conv2dBackward with zero padding, SMP averaged as Σ/s): the fused layer must agree to float rounding;
 * (2) the rows path (im2col + qgemm on rows) on the same seed: the dY draws must be bit-identical, and on
 *     unpadded convs (where im2col rows hold exactly X's values) every output must agree to float rounding. With
 *     padding the rows path quantizes the padding zeros too, and an asymmetric grid represents 0 only to within
 *     half a step, so there the two differ by design (the fused conv pads with exact zeros).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tensor, parameter } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { grad } from '../../src/autograd/graph.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { conv2d, convOutSize, type LayerGemm } from '../../src/ops/conv.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { makeQGemm, materialize, planFusedLayer, type QGemmConfig, qgemm, qgemmRows } from '../../src/quant/gemm/index.js';
import type { QuantizedOperand } from '../../src/quant/quantize.js';
import { dequantize } from '../../src/quant/qtensor.js';
import type { RecipeSlots } from '../../src/quant/recipe.js';
import type { QuantSpec } from '../../src/quant/spec.js';
import { preset, type PresetName } from '../../src/quant/presets.js';
import { smpSamples } from '../../src/quant/addons/index.js';
import { normals } from './helpers.js';
import { forEachBackend } from '../helpers/backends.js';

interface Geo { n: number; c: number; h: number; w: number; oc: number; k: number; stride: number; pad: number }
const GEOS: Geo[] = [
  { n: 5, c: 3, h: 9, w: 9, oc: 4, k: 3, stride: 1, pad: 1 },
  { n: 4, c: 2, h: 8, w: 7, oc: 5, k: 3, stride: 2, pad: 1 },
  { n: 3, c: 4, h: 7, w: 7, oc: 3, k: 1, stride: 1, pad: 0 },
  { n: 3, c: 3, h: 6, w: 5, oc: 2, k: 3, stride: 1, pad: 0 },
  { n: 2, c: 3, h: 6, w: 6, oc: 4, k: 1, stride: 2, pad: 0 },
];
const RECIPES = ['qat8', 'ptq8', 'ptq4', 'psq4', 'psq8', 'bhq4', 'luq4', 'luq4-smp2'] as const;

function recipeConfig(name: PresetName, seed: number, trace: Traced[]): QGemmConfig {
  const r = preset(name);
  return {
    slots: { forward: r.forward, gradInput: r.gradInput, gradWeight: r.gradWeight } as RecipeSlots,
    backwardDraws: r.backwardDraws, samples: smpSamples(r.addons), rng: new Rng(seed),
    trace: (gemm, operand, q) => trace.push({ gemm, operand, q }),
  };
}

interface Traced { gemm: string; operand: string; q: QuantizedOperand }
interface Run { y: Float32Array; dx: Float32Array; dw: Float32Array; trace: Traced[] }

/** Mixed-sign data with structure (a third of the entries made non-negative). */
function data(seed: number, n: number): Float32Array {
  const d = normals(seed, n);
  for (let i = 0; i < d.length; i += 3) d[i] = Math.abs(d[i]);
  return d;
}

function runConv(name: PresetName, geo: Geo, fused: boolean): Run {
  const trace: Traced[] = [];
  const q = makeQGemm(recipeConfig(name, 11, trace));
  const gemm: LayerGemm = fused ? q : (a, b, rps, g) => q(a, b, rps, g); // no conv entry: the rows path
  const x = parameter(data(1, geo.n * geo.c * geo.h * geo.w), [geo.n, geo.c, geo.h, geo.w], 'x');
  const w = parameter(normals(2, geo.oc * geo.c * geo.k * geo.k), [geo.oc, geo.c, geo.k, geo.k], 'w');
  const y = conv2d(x, w, null, { stride: geo.stride, padding: geo.pad }, gemm);
  const g = grad(sum(mul(y, new Tensor(normals(3, y.size), y.shape))));
  return { y: y.data, dx: g.get(x)!.data, dw: g.get(w)!.data, trace };
}

function maxRelDiff(a: Float32Array, b: ArrayLike<number>): number {
  let d = 0, s = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i] - b[i])); s = Math.max(s, Math.abs(b[i])); }
  return d / Math.max(s, 1e-30);
}

function close(a: Float32Array, b: ArrayLike<number>, what: string, tol = 2e-6): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const d = maxRelDiff(a, b);
  assert.ok(d <= tol, `${what}: max |diff| / max |ref| = ${d} > ${tol}`);
}

/** The float oracle of one fused conv call: refBackend's fp32 conv on the dequantized traced operands. */
function floatOracle(r: Run, geo: Geo, seedDy: Float32Array, samples: number): { y: Float32Array; dx: Float32Array; dw: Float32Array } {
  const { n, c, h, w, oc, k, stride, pad } = geo;
  const oh = convOutSize(h, k, stride, pad), ow = convOutSize(w, k, stride, pad), P = oh * ow;
  const find = (gemm: string, operand: string) => r.trace.filter((t) => t.gemm === gemm && t.operand === operand);
  const xq = find('forward', 'x')[0], wq = find('forward', 'w')[0];
  const xNhwc = dequantize(xq.q.q), wv = dequantize(wq.q.q), xv = new Float32Array(xNhwc.length);
  refBackend.transpose(n, h * w, c, xNhwc, xv); // the conv input's codes are kept in NHWC order
  const y = new Float32Array(n * oc * P);
  refBackend.conv2dForward(xv, n, c, h, w, wv, oc, k, k, stride, pad, oh, ow, y);
  const nchw = (op: QuantizedOperand | null): Float32Array => {
    if (op === null) return seedDy;
    const rows = materialize({ kind: 'quant', value: op }, false);
    const out = new Float32Array(rows.length);
    refBackend.transpose(n, P, oc, rows, out);
    return out;
  };
  const gi = find('gradInput', 'dy'), gw = find('gradWeight', 'dy');
  const dx = new Float64Array(n * c * h * w), dw = new Float64Array(oc * c * k * k);
  for (let j = 0; j < samples; j++) {
    const dyI = nchw(gi[j]?.q ?? null), dyW = nchw(gw[j]?.q ?? gi[j]?.q ?? null);
    const px = new Float32Array(dx.length), pw = new Float32Array(dw.length);
    refBackend.conv2dBackward(xv, n, c, h, w, wv, oc, k, k, stride, pad, oh, ow, dyI, px, new Float32Array(0));
    refBackend.conv2dBackward(xv, n, c, h, w, wv, oc, k, k, stride, pad, oh, ow, dyW, new Float32Array(0), pw);
    px.forEach((v, i) => { dx[i] += v / samples; });
    pw.forEach((v, i) => { dw[i] += v / samples; });
  }
  return { y, dx: Float32Array.from(dx), dw: Float32Array.from(dw) };
}

forEachBackend('fused convs equal the float conv of their dequantized operands (every preset family, strides, padding, 1×1)', () => {
  for (const name of RECIPES) {
    for (const geo of GEOS) {
      const what = `${name} ${JSON.stringify(geo)}`;
      const r = runConv(name, geo, true);
      const xq = r.trace.find((t) => t.gemm === 'forward' && t.operand === 'x')!.q.q;
      assert.deepEqual([xq.rows, xq.cols], [geo.n * geo.h * geo.w, geo.c], `${what}: X quantized as the conv input, in rows layout`);
      const oh = convOutSize(geo.h, geo.k, geo.stride, geo.pad), ow = convOutSize(geo.w, geo.k, geo.stride, geo.pad);
      const o = floatOracle(r, geo, normals(3, geo.n * geo.oc * oh * ow), smpSamples(preset(name).addons));
      close(r.y, o.y, `${what} Y`);
      close(r.dx, o.dx, `${what} dX`);
      close(r.dw, o.dw, `${what} dW`);
    }
  }
});

forEachBackend('fused convs and the rows path draw the same dY codes; unpadded, they agree to float rounding', () => {
  for (const name of ['qat8', 'ptq8', 'ptq4', 'psq4', 'bhq4'] as const) {
    for (const geo of GEOS.slice(0, 4)) {
      const what = `${name} ${JSON.stringify(geo)}`;
      const a = runConv(name, geo, true), b = runConv(name, geo, false);
      const dys = (r: Run) => r.trace.filter((t) => t.operand === 'dy').map((t) => Array.from(t.q.q.codes));
      assert.deepEqual(dys(a), dys(b), `${what}: dY codes`);
      if (geo.pad > 0) continue;
      close(a.y, b.y, `${what} Y`, 1e-5);
      close(a.dx, b.dx, `${what} dX`, 1e-5);
      close(a.dw, b.dw, `${what} dW`, 1e-5);
    }
  }
});

forEachBackend('fused linear layers equal the rows path to float rounding; with gradient quantization off bit for bit in the backward', () => {
  for (const name of RECIPES) {
    const run = (fused: boolean) => {
      const trace: Traced[] = [];
      const cfg = recipeConfig(name, 5, trace);
      const x = parameter(data(6, 7 * 13), [7, 13], 'x'), w = parameter(normals(7, 6 * 13), [6, 13], 'w');
      const y = fused ? qgemm(x, w, cfg) : qgemmRows(x, w, cfg);
      const g = grad(sum(mul(y, new Tensor(normals(8, y.size), y.shape))));
      return { y: y.data, dx: g.get(x)!.data, dw: g.get(w)!.data };
    };
    const a = run(true), b = run(false);
    close(a.y, b.y, `${name} linear Y`, 1e-5);
    close(a.dx, b.dx, `${name} linear dX`, 1e-5);
    close(a.dw, b.dw, `${name} linear dW`, 1e-5);
    if (name === 'qat8') {
      assert.deepEqual(Array.from(a.dx), Array.from(b.dx), 'qat8 linear dX: the same fp32 GEMM on dequantized W');
      assert.deepEqual(Array.from(a.dw), Array.from(b.dw), 'qat8 linear dW: the same fp32 GEMM on dequantized X');
    }
  }
});

test('plans: every pass of the presets runs fused; integer where the scales allow, fp32-dequant with the reason otherwise', () => {
  const shape = { oc: 16, k: 144, rowsPerSample: 784 };
  const slotsOf = (name: PresetName) => { const r = preset(name); return { forward: r.forward, gradInput: r.gradInput, gradWeight: r.gradWeight } as RecipeSlots; };
  const paths = (name: PresetName) => {
    const p = planFusedLayer(slotsOf(name), shape);
    assert.ok(p, `${name}: fused`);
    for (const g of Object.values(p)) assert.equal(g.fused, true, `${name}: every pass is a conv-level kernel`);
    return [p.forward.path, p.gradInput.path, p.gradWeight.path];
  };
  assert.deepEqual(paths('ptq4'), ['int8', 'int8', 'int8']);
  assert.deepEqual(paths('luq4'), ['int8', 'int8', 'int8']);
  assert.deepEqual(paths('psq4'), ['int8', 'int8', 'int8-blocked'], 'per-feature dY: K-blocks of one output pixel');
  assert.deepEqual(paths('bhq5'), ['int8', 'int8', 'int8-blocked']);
  assert.deepEqual(paths('qat8'), ['int8', 'fp32-dequant', 'fp32-dequant']);
  assert.match(planFusedLayer(slotsOf('qat8'), shape)!.gradInput.reason ?? '', /dY is fp32: the recipe does not quantize it/);
  // A stochastic or per-row X quantizer cannot quantize the conv input: the layer keeps the rows path.
  const base = slotsOf('ptq8');
  for (const x of [
    { kind: 'uniform', bits: 8, format: 'asymmetric', granularity: 'tensor', rounding: 'stochastic' },
    { kind: 'uniform', bits: 8, format: 'asymmetric', granularity: 'row', rounding: 'nearest' },
  ] as QuantSpec[]) assert.equal(planFusedLayer({ ...base, forward: { ...base.forward, x } }, shape), null);
});

test('a per-sample X quantizer runs the forward on integers and the grad-weight pass dequantized', () => {
  const base = preset('psq4');
  const x: QuantSpec = { kind: 'uniform', bits: 8, format: 'asymmetric', granularity: 'sample', rounding: 'nearest' };
  const p = planFusedLayer({ forward: { ...base.forward, x }, gradInput: base.gradInput, gradWeight: base.gradWeight } as RecipeSlots, { oc: 4, k: 27, rowsPerSample: 81 });
  assert.deepEqual([p!.forward.path, p!.gradInput.path, p!.gradWeight.path], ['int8', 'int8', 'fp32-dequant']);
  assert.match(p!.gradWeight.reason ?? '', /per sample/);
});
