/**
 * Block formats (METHODS §5.2–5.4, §8.6; quant/rounding.ts §6): hand-computed E2M1 / E4M3 rounding tables with ties,
 * saturation and subnormals; MX and NVFP4 scale rules; zero tiles; NaN / Inf propagation; one 2-D tile quantization
 * serving W and Wᵀ; and the unbiasedness z-test of every stochastic variant.
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { refBackend } from '../../src/backend/ref/index.js';
import { e4m3Value, roundMinifloat } from '../../src/backend/ref/lowp.js';
import { dequantize, type QTensor } from '../../src/quant/qtensor.js';
import { parseQuantSpec, quantizeWith } from '../../src/quant/quantizers/index.js';
import { e4m3Nearest, e4m3Up, mxScale, nvfp4TensorScale } from '../../src/quant/quantizers/minifloat.js';
import type { QuantSpec } from '../../src/quant/spec.js';
import { planGemm, runGemm, type GemmOperand } from '../../src/quant/gemm/index.js';
import { assertFqtError } from '../helpers/errors.js';
import { assertUnbiased, codeCoordinate, groupOf, normals, srVariance, Welford } from './helpers.js';

function grid(x: number[], format: 0 | 1, stochastic = 0, u = 0): number[] {
  const codes = format === 0 ? new Int8Array(x.length) : new Uint8Array(x.length);
  refBackend.quantizeMinifloat(Float32Array.from(x), 1, x.length, 1, 1, x.length, Float32Array.of(1), format, stochastic, u, 0, codes);
  return [...codes];
}

const spec = (raw: Record<string, unknown>, role: 'x' | 'w' | 'dy' = 'x') => parseQuantSpec(raw, 'spec', role);
const quant = (s: QuantSpec, x: Float32Array, rows: number, cols: number, stream = 0) =>
  quantizeWith(s, x, rows, cols, { rowsPerSample: 1, draw: { seed: 3, stream } });

describe('minifloat grids (hand tables)', () => {
  it('E2M1 round-to-nearest-even: ties, subnormal 0.5, saturation at 6, signs (codes = 2·value)', () => {
    const x = [0, 0.25, 0.26, 0.75, 1.25, 1.75, 2.5, 3.5, 5, 5.1, 7, 100, -0.25, -3, -6.5];
    assert.deepEqual(grid(x, 0), [0, 0, 1, 2, 2, 4, 4, 8, 8, 12, 12, 12, 0, -6, -12]);
  });
  it('E4M3 round-to-nearest-even: normals, ties, subnormals, min normal, saturation at 448 (E4M3FN bytes)', () => {
    const x = [1, 1.0625, 1.1875, -2, 448, 480, 1e6, 2 ** -9, 2 ** -10, 1.5 * 2 ** -10, 2 ** -6, 7 * 2 ** -9, 0];
    const bytes = grid(x, 1);
    assert.deepEqual(bytes, [0x38, 0x38, 0x3a, 0xc0, 0x7e, 0x7e, 0x7e, 1, 0, 1, 8, 7, 0]);
    assert.deepEqual(bytes.map(e4m3Value), [1, 1, 1.25, -2, 448, 448, 448, 2 ** -9, 0, 2 ** -9, 2 ** -6, 7 * 2 ** -9, 0]);
    assert.ok(Number.isNaN(e4m3Value(0x7f)));
  });
  it('E4M3 scale rounding (nearest and up)', () => {
    assert.equal(e4m3Nearest(1.0625), 1);
    assert.equal(e4m3Up(1.0625), 1.125);
    assert.equal(e4m3Up(1), 1);
    assert.equal(e4m3Nearest(2 ** -11), 0); // underflows below half the smallest subnormal
    assert.equal(e4m3Up(2 ** -11), 2 ** -9);
    assert.equal(e4m3Up(500), 448);
  });
});

describe('block scales', () => {
  it('MX: nearest uses the OCP rule 2^(⌊log2 amax⌋ − emax); stochastic keeps amax/X in (MAX/2, MAX]', () => {
    assert.equal(mxScale(6, 0, false), 1);
    assert.equal(mxScale(7, 0, false), 1); // 7 saturates to 6 under the OCP rule
    assert.equal(mxScale(0.3, 0, false), 2 ** -4);
    assert.equal(mxScale(448, 1, false), 1);
    assert.equal(mxScale(7, 0, true), 2);
    assert.equal(mxScale(6, 0, true), 1);
    assert.equal(mxScale(3, 0, true), 0.5);
    assert.equal(mxScale(0, 0, true), 1);
    for (let i = 0; i < 200; i++) {
      const amax = Math.exp((i - 100) / 7), r = amax / mxScale(amax, 0, true);
      assert.ok(r > 3 && r <= 6, `amax ${amax}: amax/X = ${r}`);
      assert.ok(Number.isInteger(Math.log2(mxScale(amax, 1, true))), 'power of two');
    }
  });
  it('NVFP4: tensor scale amax/(6·448); block scales on the E4M3 grid; a zero tile stays zero', () => {
    assert.equal(nvfp4TensorScale(6 * 448), 1);
    const x = new Float32Array(32);
    x[0] = 6 * 448; x[1] = 3 * 448; // tile 0: amax 2688 → s_b = 448; tile 1 all zero
    const q = quant(spec({ kind: 'nvfp4' }), x, 1, 32);
    assert.deepEqual([...q.q.codes.slice(0, 2)], [12, 6]);
    assert.deepEqual([...q.q.codes.slice(16)], new Array(16).fill(0));
    assert.deepEqual([...dequantize(q.q).slice(0, 2)], [2688, 1344]);
    assert.deepEqual([...dequantize(q.q).slice(16)], new Array(16).fill(0));
  });
  it('NVFP4: a tile whose scale underflows E4M3 is flushed under nearest, kept under stochastic rounding', () => {
    const x = new Float32Array(32);
    x[0] = 6 * 448; x[16] = 6 * 2 ** -11;
    assert.equal(dequantize(quant(spec({ kind: 'nvfp4' }), x, 1, 32).q)[16], 0);
    // Stochastic: s_b rounds up to 2^−9 (over s_T = 1), x/s = 6·2^−2 = 1.5 lies on the grid and is kept exactly.
    assert.equal(dequantize(quant(spec({ kind: 'nvfp4', rounding: 'stochastic' }), x, 1, 32).q)[16], 6 * 2 ** -11);
  });
  it('mxfp8 dequantizes through E4M3 bytes; mxfp4 codes are integers −12..12', () => {
    const x = normals(5, 64, 3);
    const q8 = quant(spec({ kind: 'mxfp8' }), x, 2, 32), q4 = quant(spec({ kind: 'mxfp4' }), x, 2, 32);
    assert.equal(q8.q.levels, 'e4m3');
    const d8 = dequantize(q8.q);
    for (let i = 0; i < 64; i++) {
      assert.ok(Math.abs(d8[i] - x[i]) <= Math.abs(x[i]) / 16 + 1e-3, `mxfp8 element ${i}`);
      assert.ok(Number.isInteger(q4.q.codes[i]) && Math.abs(q4.q.codes[i]) <= 12);
    }
  });
});

describe('block formats: errors and 2-D tiles', () => {
  it('NaN / ±Inf make the scale of their tile NaN (nvfp4: of the tensor), so the values are NaN; bad tiles name the key', () => {
    for (const kind of ['mxfp4', 'mxfp8', 'nvfp4', 'int8-block']) {
      for (const bad of [NaN, Infinity, -Infinity]) {
        const x = Float32Array.from({ length: 32 }, (_, i) => i / 8 - 2);
        x[3] = bad;
        const d = dequantize(quant(spec({ kind, block: [1, 16] }), x, 1, 32).q);
        assert.ok(d.subarray(0, 16).every(Number.isNaN), `${kind} ${bad}: the tile is NaN`);
        assert.equal(d.subarray(16).every(Number.isNaN), kind === 'nvfp4', `${kind} ${bad}: the other tile`);
      }
    }
    assertFqtError(() => spec({ kind: 'nvfp4', block: [16] }), 'spec.block', 'tile');
    assertFqtError(() => spec({ kind: 'mxfp4', block: [1, 512] }), 'spec.block[1]');
    assertFqtError(() => spec({ kind: 'int8-block', scale: 2 }), 'spec.scale', 'unknown key');
  });
  it('a 16×16 tile quantization serves W and Wᵀ: quantize(W)ᵀ = quantize(Wᵀ) (METHODS §8.6.6)', () => {
    for (const kind of ['nvfp4', 'int8-block', 'mxfp4']) {
      const s = spec({ kind, block: [16, 16] }, 'w');
      const w = normals(9, 48 * 32);
      const wt = new Float32Array(w.length);
      for (let r = 0; r < 48; r++) for (let c = 0; c < 32; c++) wt[c * 48 + r] = w[r * 32 + c];
      const a = dequantize(quant(s, w, 48, 32).q), b = dequantize(quant(s, wt, 32, 48).q);
      for (let r = 0; r < 48; r++) for (let c = 0; c < 32; c++) assert.equal(a[r * 32 + c], b[c * 48 + r], `${kind} (${r}, ${c})`);
    }
  });
});

/** The two outcomes of SR of element i and the probability of the upper one (quant/rounding.ts §6, §1). */
function srMoments(q: QTensor, x: Float32Array, i: number): { v: number; p: number } {
  const g = groupOf(q, i);
  if (q.levels === undefined && q.qmax === 127) { // int8-block: the affine grid
    const c = codeCoordinate(q, x, i), f = c - Math.floor(c);
    return { v: srVariance(q, x, i), p: f };
  }
  const fmt = q.levels === 'e4m3' ? 1 : 0, s = fmt === 0 ? 2 * q.scale[g] : q.scale[g];
  const a = Math.abs(Math.fround(x[i] * Math.fround(1 / s)));
  const lo = roundMinifloat(a, fmt, 0), hi = roundMinifloat(a, fmt, 1 - 2 ** -24);
  const p = hi === lo ? 0 : (a - lo) / (hi - lo);
  return { v: ((hi - lo) * s) ** 2 * p * (1 - p), p };
}

describe('block formats: stochastic rounding is unbiased (z-test, METHODS §8)', () => {
  for (const kind of ['mxfp4', 'mxfp8', 'nvfp4', 'int8-block']) {
    it(kind, () => {
      const s = spec({ kind, block: [1, 16], rounding: 'stochastic' }, 'dy');
      const x = normals(11, 16 * 128);
      for (let i = 0; i < x.length; i++) x[i] *= Math.exp(1.5 * Math.sin(i)); // heavy-ish tails
      const K = 500, w = new Welford(x.length);
      const q0 = quant(s, x, 16, 128, 0).q;
      for (let k = 0; k < K; k++) w.add(dequantize(quant(s, x, 16, 128, k).q));
      // z with the exact SR sd; elements whose rare outcome is expected < 10 times in K draws (skewed Bernoulli:
      // heavy-tailed z², METHODS §8) are left out; deterministic elements must be exact.
      let sumZ2 = 0, tested = 0, maxZ = 0;
      for (let i = 0; i < x.length; i++) {
        const m = srMoments(q0, x, i), sd = Math.sqrt(m.v / K), err = Math.abs(w.mean[i] - x[i]);
        if (m.v === 0) { assert.ok(err <= 1e-6 * Math.abs(x[i]), `${kind}: element ${i} is deterministic but ${w.mean[i]} ≠ ${x[i]}`); continue; }
        if (m.p * (1 - m.p) * K < 10) continue;
        sumZ2 += (err / sd) ** 2;
        maxZ = Math.max(maxZ, err / sd);
        tested++;
      }
      assertUnbiased({ meanZ2: sumZ2 / tested, maxZ, tested, maxBound: Math.sqrt(2 * Math.log((2 * tested) / 1e-3)) }, `${kind} stochastic`);
    });
  }
});

describe('block formats: GEMM paths', () => {
  const plan = (a: QuantSpec, b: QuantSpec, aT = false, bT = false, k = 64) =>
    planGemm({ spec: a, cols: k, transposed: aT, rowsPerSample: 1 }, { spec: b, cols: k, transposed: bT, rowsPerSample: 1 });
  it('FP4 and int8-block take int8-blocked with the tile side along K; MXFP8 and small tiles run fp32-dequant, saying why', () => {
    const nvx = spec({ kind: 'nvfp4' }), nvw = spec({ kind: 'nvfp4', block: [16, 16] }, 'w'), col = spec({ kind: 'nvfp4', block: [16, 1] }, 'dy');
    assert.deepEqual([plan(nvx, nvw).path, plan(nvx, nvw).kBlock], ['int8-blocked', 16]);
    assert.deepEqual([plan(nvx, nvw, false, true).path, plan(nvx, nvw, false, true).kBlock], ['int8-blocked', 16]); // Wᵀ of grad-input
    assert.deepEqual([plan(col, col, true, true).path, plan(col, col, true, true).kBlock], ['int8-blocked', 16]); // grad-weight, K = rows
    assert.equal(plan(spec({ kind: 'mxfp4' }), spec({ kind: 'mxfp4' }, 'w')).kBlock, 32);
    const p8 = plan(spec({ kind: 'mxfp8' }), spec({ kind: 'mxfp8' }, 'w'));
    assert.equal(p8.path, 'fp32-dequant');
    assert.match(p8.reason ?? '', /wider than 8 bits/);
    assert.equal(plan(nvx, nvx, false, true).path, 'fp32-dequant'); // a 1×16 tile read transposed changes scale every row
    assert.equal(plan(spec({ kind: 'int8-block', block: [1, 8] }), spec({ kind: 'int8-block', block: [1, 8] }, 'w')).path, 'fp32-dequant');
  });
  it('the integer path with tile scales equals the dequantized fp32 GEMM (nvfp4, mxfp4, int8-block, both orientations)', () => {
    for (const kind of ['nvfp4', 'mxfp4', 'int8-block']) {
      const t = kind === 'mxfp4' ? 32 : 16;
      const a = quant(spec({ kind, block: [1, t] }), normals(21, 24 * 96, 2), 24, 96);
      const b = quant(spec({ kind, block: [t, t] }, 'w'), normals(22, 40 * 96), 40, 96);
      const A: GemmOperand = { kind: 'quant', value: a }, B: GemmOperand = { kind: 'quant', value: b };
      const p = plan(spec({ kind, block: [1, t] }), spec({ kind, block: [t, t] }, 'w'), false, false, 96);
      assert.equal(p.path, 'int8-blocked');
      const c = runGemm(A, false, B, false, p), d = runGemm(A, false, B, false, { path: 'fp32-dequant', kBlock: null });
      for (let i = 0; i < c.length; i++) assert.ok(Math.abs(c[i] - d[i]) <= 1e-4 * (1 + Math.abs(d[i])), `${kind}: C[${i}] ${c[i]} vs ${d[i]}`);
    }
  });
});
