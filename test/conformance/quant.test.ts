/**
 * Native quantization kernels against the reference backend on every ISA tier of this machine, all
 * bit-exact (quant/rounding.ts is written in float32 steps and float64 steps JavaScript and C++ evaluate
 * identically): affineParams, quantRange, quantizeAffine (nearest and stochastic rounding: same counter RNG), dequantizeAffine,
 * codesToI8, codeBlockSums, blockHouseholder, quantizeBhqPlanes. Every scale grouping of quant/qtensor.ts, awkward shapes (one row,
 * one column, empty, lengths that are not multiples of the vector width), all-zero groups with signed zeros,
 * constant groups, huge and infinite ranges, exact rounding ties, and thread-count independence.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, KernelName } from '../../src/backend/backend.js';
import type { IsaTier } from '../../src/backend/native.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { affineParams } from '../../src/quant/params.js';
import type { IntFormat } from '../../src/quant/spec.js';
import { assertBitExact, nativeUnderTest, randI8, randn, rng, type NativeUnderTest } from './helpers.js';
import { Rng } from '../../src/tensor/random.js';
import { withFallback } from '../../src/backend/index.js';
import type { PresetName } from '../../src/quant/presets.js';
import { withBackend } from '../helpers/backends.js';
import { assertSameSteps, trainSteps } from '../helpers/train-steps.js';

const nut = nativeUnderTest();

/** [label, rowDiv, rowMod, colDiv] of the granularities of quant/qtensor.ts groupingOf (hw rows per sample). */
function groupings(rows: number, cols: number, hw: number): [string, number, number, number][] {
  const c = Math.max(1, cols);
  return [
    ['tensor', 1, 1, c], ['sample', hw, Math.max(1, Math.ceil(rows / hw)), c], ['row', 1, Math.max(1, rows), c],
    ['column', 1, 1, 1], ['feature', 1, hw, 1], ['block3', 1, Math.max(1, rows), 3], ['block8', 1, Math.max(1, rows), 8],
    ['block33', 1, Math.max(1, rows), 33], ['block64', 1, Math.max(1, rows), 64], ['odd', 2, 3, 5],
    ['sampleColumn', hw, Math.max(1, Math.ceil(rows / hw)), 1], ['wrapColumn', 3, 2, 1],
  ];
}
/** All groupings on small shapes; on the large ones (threaded paths, slow reference) the distinct walking paths only. */
function groupingsFor(rows: number, cols: number, hw: number): [string, number, number, number][] {
  const all = groupings(rows, cols, hw);
  return rows * cols > 20000 ? all.filter(([name]) => ['tensor', 'sample', 'feature', 'column', 'block33'].includes(name)) : all;
}
function groupCount(rows: number, cols: number, rd: number, rm: number, cd: number): number {
  return rows > 0 && cols > 0 ? Math.min(rm, Math.ceil(rows / rd)) * Math.ceil(cols / cd) : 0;
}

// [rows, cols, rows per sample]
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 100, 1], [3, 1, 1], [7, 9, 7], [37, 101, 4], [16, 64, 4], [0, 5, 1], [5, 0, 1], [130, 70, 10],
  [600, 300, 30], [64 * 49, 16, 49],
];

/** Data sets: normal; ReLU-like with signed zeros; constant; huge and subnormal; infinities. */
function datasets(r: Rng, n: number): [string, Float32Array][] {
  const normal = randn(r, n, 3);
  const u = new Float32Array(n);
  r.fillUniform(u);
  const relu = normal.map((v, i) => (v > 0 ? v : u[i] < 0.5 ? -0 : 0));
  const zeros = Float32Array.from(u, (v) => (v < 0.5 ? -0 : 0));
  const constant = new Float32Array(n).fill(2.5);
  const specials = [3.4e38, -3.4e38, 1e-45, -1e-45, 1e30, -1e-30, 0, -0, 1, 7.5];
  const huge = Float32Array.from(u, (v) => specials[Math.floor(v * specials.length)]);
  const inf = normal.map((v, i) => (i % 13 === 5 ? Infinity : i % 17 === 3 ? -Infinity : v));
  return [['normal', normal], ['relu', relu], ['zeros', zeros], ['constant', constant], ['huge', huge], ['inf', inf]];
}

// [format, bits]
const FORMATS: [IntFormat, number][] = [['asymmetric', 4], ['zeroAligned', 4], ['zeroAligned', 2], ['symmetric', 4],
  ['symmetric', 8], ['asymmetric', 8], ['zeroAligned', 1]];

function rangeBoth(nb: Backend, x: Float32Array, rows: number, cols: number, rd: number, rm: number, cd: number, ng: number) {
  const want = [new Float32Array(ng + 2).fill(NaN), new Float32Array(ng + 2).fill(NaN)];
  const got = [new Float32Array(ng + 2).fill(NaN), new Float32Array(ng + 2).fill(NaN)];
  refBackend.quantRange(x, rows, cols, rd, rm, cd, want[0], want[1]);
  nb.quantRange(x, rows, cols, rd, rm, cd, got[0], got[1]);
  return { want, got };
}

function quantCase(nb: Backend, what: string, x: Float32Array, rows: number, cols: number, rd: number, rm: number, cd: number,
  format: IntFormat, bits: number, seed: number, stream: number): void {
  const ng = groupCount(rows, cols, rd, rm, cd);
  const mins = new Float32Array(ng), maxs = new Float32Array(ng);
  refBackend.quantRange(x, rows, cols, rd, rm, cd, mins, maxs);
  const p = affineParams(format, bits, mins, maxs);
  const make = () => (p.signed ? new Int8Array(rows * cols) : new Uint8Array(rows * cols)).fill(99);
  for (const sr of [0, 1]) {
    const want = make(), got = make();
    refBackend.quantizeAffine(x, rows, cols, rd, rm, cd, p.offset, p.inv, p.zeroPoint, p.qmin, p.qmax, sr, seed, stream, want);
    nb.quantizeAffine(x, rows, cols, rd, rm, cd, p.offset, p.inv, p.zeroPoint, p.qmin, p.qmax, sr, seed, stream, got);
    assertBitExact(got, want, `quantizeAffine ${what} ${format}${bits} ${sr ? 'SR' : 'nearest'}`);
    const dq = [new Float32Array(rows * cols).fill(NaN), new Float32Array(rows * cols).fill(NaN)];
    refBackend.dequantizeAffine(want, rows, cols, rd, rm, cd, p.offset, p.scale, p.zeroPoint, dq[0]);
    nb.dequantizeAffine(want, rows, cols, rd, rm, cd, p.offset, p.scale, p.zeroPoint, dq[1]);
    assertBitExact(dq[1], dq[0], `dequantizeAffine ${what} ${format}${bits}`);
  }
}

function tierSuite({ addon, backend: nb }: NativeUnderTest, tier: IsaTier): void {
  it('affineParams is bit-exact for every format and bit width (signed zeros, NaN, ±Infinity, subnormal, huge and equal ranges)', () => {
    addon.setIsa(tier);
    const r = rng(31);
    const specials = [0, -0, 1e-45, -1e-45, 1e-9, -1e-9, 3.4e38, -3.4e38, Infinity, -Infinity, NaN, 1, -1, 0.75, -2.5e-8];
    const n = 4000, mins = new Float32Array(n), maxs = new Float32Array(n), u = new Float32Array(2 * n);
    r.fillUniform(u);
    for (let g = 0; g < n; g++) {
      const a = g < specials.length ** 2 ? specials[g % specials.length] : (u[g] - 0.5) * 10 ** Math.floor(u[n + g] * 12 - 8);
      const b = g < specials.length ** 2 ? specials[Math.floor(g / specials.length)] : a + Math.abs(u[n + g] - 0.3) * 10 ** (g % 9 - 6);
      mins[g] = a, maxs[g] = b;
    }
    for (const format of [0, 1, 2]) {
      for (let bits = 1; bits <= 8; bits++) {
        const out = () => [new Float32Array(n).fill(7), new Float32Array(n).fill(7), new Float32Array(n).fill(7), new Int32Array(n).fill(7), new Int32Array(1).fill(7)] as const;
        const want = out(), got = out();
        refBackend.affineParams(format, bits, mins, maxs, ...want);
        nb.affineParams(format, bits, mins, maxs, ...got);
        want.forEach((w, i) => assertBitExact(got[i], w, `affineParams ${tier} format ${format} bits ${bits} output ${i}`));
      }
    }
  });

  it('quantRange is bit-exact for every grouping (signed zeros keep the reference sign, whole arrays are filled)', () => {
    addon.setIsa(tier);
    const r = rng(11);
    for (const [rows, cols, hw] of SHAPES) {
      const sets = datasets(r, rows * cols);
      for (const [dname, x] of rows * cols > 20000 ? sets.slice(0, 3) : sets) {
        for (const [gname, rd, rm, cd] of groupingsFor(rows, cols, hw)) {
          const { want, got } = rangeBoth(nb, x, rows, cols, rd, rm, cd, groupCount(rows, cols, rd, rm, cd));
          assertBitExact(got[0], want[0], `quantRange mins ${tier} ${rows}x${cols} ${dname} ${gname}`);
          assertBitExact(got[1], want[1], `quantRange maxs ${tier} ${rows}x${cols} ${dname} ${gname}`);
        }
      }
    }
  });

  it('quantRange takes the sign of the first zero of a group, in row-major order', () => {
    addon.setIsa(tier);
    // One group of 40 zeros and positives per row pair; the first zero is −0 in one row block, +0 in the other.
    const rows = 6, cols = 40;
    const x = new Float32Array(rows * cols).fill(1);
    x[cols + 33] = -0; x[2 * cols + 5] = 0; // group 0 (rows 0..2 with rowDiv 3): −0 comes first
    x[3 * cols + 39] = 0; x[5 * cols] = -0; // group 1: +0 first
    const { want, got } = rangeBoth(nb, x, rows, cols, 3, 2, cols, 2);
    assert.ok(Object.is(want[0][0], -0) && Object.is(want[0][1], 0), 'reference keeps the first zero');
    assertBitExact(got[0], want[0], `first-zero mins ${tier}`);
    const neg = x.map((v) => (v === 1 ? -1 : v));
    const r2 = rangeBoth(nb, neg, rows, cols, 3, 2, cols, 2);
    assertBitExact(r2.got[1], r2.want[1], `first-zero maxs ${tier}`);
  });

  it('quantizeAffine and dequantizeAffine are bit-exact (nearest and SR) for every grouping and format', () => {
    addon.setIsa(tier);
    const r = rng(12);
    let i = 0;
    for (const [rows, cols, hw] of SHAPES) {
      const sets = datasets(r, rows * cols);
      for (const [gname, rd, rm, cd] of groupingsFor(rows, cols, hw)) {
        for (const [dname, x] of rows * cols > 20000 ? sets.slice(0, 2) : sets) {
          const [format, bits] = FORMATS[i++ % FORMATS.length];
          const seed = [0, 1, 0xffffffff][i % 3], stream = [0, 12345, 0xfffffffe][(i >> 1) % 3];
          quantCase(nb, `${tier} ${rows}x${cols} ${dname} ${gname}`, x, rows, cols, rd, rm, cd, format, bits, seed, stream);
        }
      }
    }
  });

  it('quantRangePlanes, quantizeAffinePlanes and quantizeLuqPlanes (NCHW planes as the rows view) are bit-exact for every grouping', () => {
    addon.setIsa(tier);
    const r = rng(24);
    // [n, c, hw]: ResNet stage shapes, odd sizes, one pixel, one channel, zero-size
    for (const [n, c, hw] of [[4, 16, 49], [3, 5, 7], [2, 1, 9], [5, 3, 1], [1, 70, 13], [0, 4, 4], [32, 16, 196]] as const) {
      const rows = n * hw;
      const sets = datasets(r, n * c * hw);
      for (const [gname, rd, rm, cd] of groupingsFor(rows, c, Math.max(1, hw))) {
        for (const [dname, x] of n * c * hw > 20000 ? sets.slice(0, 3) : sets) {
          const what = `${tier} ${n}x${c}x${hw} ${dname} ${gname}`;
          const ng = groupCount(rows, c, rd, rm, cd);
          const want = [new Float32Array(ng).fill(NaN), new Float32Array(ng).fill(NaN)];
          const got = [new Float32Array(ng).fill(NaN), new Float32Array(ng).fill(NaN)];
          refBackend.quantRangePlanes(x, n, c, hw, rd, rm, cd, want[0], want[1]);
          nb.quantRangePlanes(x, n, c, hw, rd, rm, cd, got[0], got[1]);
          assertBitExact(got[0], want[0], `quantRangePlanes mins ${what}`);
          assertBitExact(got[1], want[1], `quantRangePlanes maxs ${what}`);
          const p = affineParams('asymmetric', 4, want[0], want[1]);
          for (const sr of [0, 1]) {
            const codes = [new Uint8Array(rows * c).fill(99), new Uint8Array(rows * c).fill(99)];
            refBackend.quantizeAffinePlanes(x, n, c, hw, rd, rm, cd, p.offset, p.inv, p.zeroPoint, p.qmin, p.qmax, sr, 3, 77, codes[0]);
            nb.quantizeAffinePlanes(x, n, c, hw, rd, rm, cd, p.offset, p.inv, p.zeroPoint, p.qmin, p.qmax, sr, 3, 77, codes[1]);
            assertBitExact(codes[1], codes[0], `quantizeAffinePlanes ${what} ${sr ? 'SR' : 'nearest'}`);
          }
          if (gname === 'tensor') { // LUQ: one per-tensor scale
            const alpha = Float32Array.of(Math.max(-want[0][0], want[1][0], 1e-30) / 8);
            const luq = [new Int8Array(rows * c).fill(99), new Int8Array(rows * c).fill(99)];
            refBackend.quantizeLuqPlanes(x, n, c, hw, alpha, 3, 5, 11, luq[0]);
            nb.quantizeLuqPlanes(x, n, c, hw, alpha, 3, 5, 11, luq[1]);
            assertBitExact(luq[1], luq[0], `quantizeLuqPlanes ${what}`);
          }
        }
      }
    }
  });

  it('quantRangePlanes gives a zero extreme the sign of the first zero in rows order, not in plane order', () => {
    addon.setIsa(tier);
    const n = 2, c = 3, hw = 4; // rows view [8, 3]; element (s, ch, p) sits at row s·hw + p, column ch
    const x = new Float32Array(n * c * hw).fill(1);
    x[(0 * c + 2) * hw + 1] = -0; // row 1, column 2: first in rows order
    x[(0 * c + 0) * hw + 3] = 0; //  row 3, column 0: first in plane order
    for (const [rd, rm, cd] of [[hw, n, c], [1, 1, c], [1, hw, 1]]) {
      const ng = groupCount(n * hw, c, rd, rm, cd);
      const want = new Float32Array(ng), got = new Float32Array(ng), hi = new Float32Array(ng);
      refBackend.quantRangePlanes(x, n, c, hw, rd, rm, cd, want, hi);
      nb.quantRangePlanes(x, n, c, hw, rd, rm, cd, got, hi);
      assertBitExact(got, want, `first zero ${tier} ${rd}/${rm}/${cd}`);
    }
  });

  it('quantizeAffine: exact ties round half to even, NaN stores 0, ±Infinity clamps, extreme parameters', () => {
    addon.setIsa(tier);
    const n = 77;
    // t = x·4 = j + 0.5 exactly: ties; with zero points of both parities and signed / unsigned codes.
    const x = Float32Array.from({ length: n }, (_, j) => (j - 38 + 0.5) / 4);
    x[3] = NaN; x[10] = Infinity; x[11] = -Infinity;
    for (const [zp, qmin, qmax, signed] of [[0, -127, 127, true], [3, -7, 7, true], [40, 0, 255, false], [-1, 0, 15, false]] as const) {
      for (const inv of [4, 3.4e38, 1e-30]) {
        for (const sr of [0, 1]) {
          const off = new Float32Array([0]), iv = new Float32Array([inv]), z = new Int32Array([zp]);
          const make = () => (signed ? new Int8Array(n) : new Uint8Array(n)).fill(5);
          const want = make(), got = make();
          refBackend.quantizeAffine(x, 1, n, 1, 1, n, off, iv, z, qmin, qmax, sr, 42, 7, want);
          nb.quantizeAffine(x, 1, n, 1, 1, n, off, iv, z, qmin, qmax, sr, 42, 7, got);
          assertBitExact(got, want, `ties ${tier} zp ${zp} inv ${inv} sr ${sr}`);
          if (inv === 4 && !sr) assert.equal(want[3], 0, 'NaN stores as 0');
        }
      }
    }
  });

  it('quantizeAffine near rounding boundaries: fractions ½ ± ulp, 1 − ulp, tiny ± values, t in (−1, 0), |t| near 2^20, zero points of both parities', () => {
    addon.setIsa(tier);
    const r = rng(23);
    const fracs = [0, 2 ** -30, -(2 ** -30), 2 ** -17, -(2 ** -17), 0.5, 0.5 - 2 ** -24, 0.5 + 2 ** -23, 1 - 2 ** -24, 0.25, 0.75];
    const bases = [0, -1, 1, -2, 5, -6, 2 ** 20 - 1, -(2 ** 20), 2 ** 20 + 2, 100, -129];
    const t: number[] = [];
    for (const b of bases) for (const f of fracs) t.push(b + f, -(b + f));
    const u = new Float32Array(800);
    r.fillUniform(u);
    for (let i = 0; i < 400; i++) t.push((u[2 * i] - 0.5) * 2 ** (Math.floor(u[2 * i + 1] * 50) - 30));
    const n = t.length;
    for (const zp of [0, 1, -3, 8, 511, 513, -1000, -2147483648, 2147483647]) {
      for (const inv of [1, 3]) {
        const x = Float32Array.from(t, (v) => v / inv); // t = f32(x·inv) lands near the chosen values
        for (const sr of [0, 1]) {
          for (const [qmin, qmax, signed] of [[-128, 127, true], [0, 255, false], [-7, 7, true]] as const) {
            const off = new Float32Array([0]), iv = new Float32Array([inv]), z = new Int32Array([zp]);
            const make = () => (signed ? new Int8Array(n) : new Uint8Array(n)).fill(5);
            const want = make(), got = make();
            refBackend.quantizeAffine(x, 1, n, 1, 1, n, off, iv, z, qmin, qmax, sr, 9, 2, want);
            nb.quantizeAffine(x, 1, n, 1, 1, n, off, iv, z, qmin, qmax, sr, 9, 2, got);
            assertBitExact(got, want, `boundaries ${tier} zp ${zp} inv ${inv} sr ${sr} [${qmin}, ${qmax}]`);
            // per-column parameters (the quant_cols kernels): the same zero point on every column
            const wantC = make(), gotC = make();
            const offC = new Float32Array(n), ivC = new Float32Array(n).fill(inv), zC = new Int32Array(n).fill(zp);
            refBackend.quantizeAffine(x, 1, n, 1, 1, 1, offC, ivC, zC, qmin, qmax, sr, 9, 2, wantC);
            nb.quantizeAffine(x, 1, n, 1, 1, 1, offC, ivC, zC, qmin, qmax, sr, 9, 2, gotC);
            assertBitExact(gotC, wantC, `boundaries per column ${tier} zp ${zp} inv ${inv} sr ${sr} [${qmin}, ${qmax}]`);
          }
        }
      }
    }
  });

  it('dequantizeAffine is bit-exact for extreme zero points and signed codes', () => {
    addon.setIsa(tier);
    const r = rng(13);
    const rows = 9, cols = 45;
    const raw = randI8(r, rows * cols);
    for (const codes of [raw, new Uint8Array(raw.buffer)]) {
      const zp = Int32Array.from({ length: rows }, (_, i) => [2147483647, -2147483648, 0, 1, -1, 255, 100000, -7, 3][i]);
      const scale = randn(r, rows, 1e-3), offset = randn(r, rows, 10);
      const want = new Float32Array(rows * cols), got = new Float32Array(rows * cols);
      refBackend.dequantizeAffine(codes, rows, cols, 1, rows, cols, offset, scale, zp, want);
      nb.dequantizeAffine(codes, rows, cols, 1, rows, cols, offset, scale, zp, got);
      assertBitExact(got, want, `dequantizeAffine extremes ${tier} ${codes.constructor.name}`);
    }
  });

  it('codesToI8 is bit-exact, plain and transposed, for every grouping and shifts past the int8 range', () => {
    addon.setIsa(tier);
    const r = rng(14);
    for (const [rows, cols, hw] of SHAPES) {
      const raw = randI8(r, rows * cols);
      for (const [gname, rd, rm, cd] of groupingsFor(rows, cols, hw)) {
        const ng = groupCount(rows, cols, rd, rm, cd);
        const u = new Float32Array(ng);
        r.fillUniform(u);
        for (const [sname, shift] of [['zero', new Int32Array(ng)], ['128', new Int32Array(ng).fill(128)],
          ['random', Int32Array.from(u, (v) => Math.floor(v * 700) - 350)]] as const) {
          for (const codes of sname === 'random' ? [raw, new Uint8Array(raw.buffer)] : [raw]) {
            for (const transpose of [0, 1]) {
              const want = new Int8Array(rows * cols).fill(3), got = new Int8Array(rows * cols).fill(3);
              refBackend.codesToI8(codes, rows, cols, rd, rm, cd, shift, transpose, want);
              nb.codesToI8(codes, rows, cols, rd, rm, cd, shift, transpose, got);
              assertBitExact(got, want, `codesToI8 ${tier} ${rows}x${cols} ${gname} shift ${sname} ${codes.constructor.name} T${transpose}`);
            }
          }
        }
      }
    }
  });

  it('codeBlockSums is bit-exact (extremes, kBlock < 32, not dividing k, ≥ k)', () => {
    addon.setIsa(tier);
    const r = rng(15);
    for (const [m, k] of [[1, 1], [3, 31], [5, 64], [7, 100], [2, 1000], [0, 5], [4, 0], [300, 257]]) {
      for (const kb of [1, 7, 32, 33, 64, 100, k, 5 * k + 3]) {
        if (kb <= 0) continue;
        const nkb = Math.ceil(k / kb) || 0;
        for (const a of [randI8(r, m * k), new Int8Array(m * k).fill(-128), new Int8Array(m * k).fill(127)]) {
          const want = new Int32Array(m * nkb).fill(9), got = new Int32Array(m * nkb).fill(9);
          refBackend.codeBlockSums(m, k, kb, a, want);
          nb.codeBlockSums(m, k, kb, a, got);
          assertBitExact(got, want, `codeBlockSums ${tier} ${m}x${k} kBlock ${kb}`);
        }
      }
    }
  });

  it('blockHouseholder is bit-exact forward and inverse, also in place (group sizes 1…17, > 64 groups, d across the column chunk)', () => {
    addon.setIsa(tier);
    const r = rng(16);
    for (const [n, d] of [[1, 1], [2, 5], [9, 300], [40, 33], [200, 7], [300, 600]]) {
      const order = r.permutation(n);
      const sizes: number[] = [];
      for (let left = n, s = 1; left > 0; s = (s % 17) + 1) { const g = Math.min(left, s); sizes.push(g); left -= g; }
      const groupSizes = Int32Array.from(sizes);
      const u = new Float32Array(n);
      r.fillUniform(u);
      const rowScale = Float32Array.from(u, (v) => 0.25 + 4 * v);
      const x = randn(r, n * d);
      for (const inverse of [0, 1]) {
        const want = new Float32Array(n * d).fill(NaN), got = new Float32Array(n * d).fill(NaN);
        refBackend.blockHouseholder(x, n, d, order, groupSizes, rowScale, inverse, want);
        nb.blockHouseholder(x, n, d, order, groupSizes, rowScale, inverse, got);
        assertBitExact(got, want, `blockHouseholder ${tier} ${n}x${d} inverse ${inverse}`);
        // in place (out = x): the same values on both backends
        const refIn = x.slice(), natIn = x.slice();
        refBackend.blockHouseholder(refIn, n, d, order, groupSizes, rowScale, inverse, refIn);
        nb.blockHouseholder(natIn, n, d, order, groupSizes, rowScale, inverse, natIn);
        assertBitExact(refIn, want, `blockHouseholder in place (reference) ${n}x${d} inverse ${inverse}`);
        assertBitExact(natIn, want, `blockHouseholder in place ${tier} ${n}x${d} inverse ${inverse}`);
      }
    }
  });

  it('quantizeBhqPlanes equals blockHouseholder + the per-sample planes kernels and affineParams (zero extremes +0, hw 1, planes across chunks, groups too large to keep Z)', () => {
    addon.setIsa(tier);
    const r = rng(29);
    for (const [n, c, hw] of [[1, 1, 1], [2, 3, 5], [9, 4, 75], [40, 33, 1], [130, 16, 49], [20, 3, 700], [6, 8, 8200], [3, 0, 4]]) {
      const sizes: number[] = [];
      for (let left = n, s = 1; left > 0; s = (s % 5) + 1) { const g = Math.min(left, s); sizes.push(g); left -= g; }
      const order = r.permutation(n), groupSizes = Int32Array.from(sizes), rowScale = Float32Array.from(randn(r, n), (v) => 0.5 + Math.abs(v));
      for (const [data, x] of datasets(r, n * c * hw).filter(([name]) => ['normal', 'relu', 'zeros', 'inf'].includes(name))) {
        // The composition the kernel promises: Z stored, its +0-normalised per-sample ranges, affineParams, quantizeAffinePlanes.
        const z = new Float32Array(x.length), zm = new Float32Array(n), zM = new Float32Array(n);
        if (x.length > 0) {
          refBackend.blockHouseholder(x, n, c * hw, order, groupSizes, rowScale, 0, z);
          refBackend.quantRangePlanes(z, n, c, hw, hw, n, c, zm, zM);
        }
        for (const bits of [1, 2, 4, 8]) {
          const p = affineParams('asymmetric', bits, Float32Array.from(zm, (v) => v + 0), Float32Array.from(zM, (v) => v + 0));
          for (const sr of [0, 1]) {
            const what = `${tier} ${n}x${c}x${hw} ${data} ${bits} bits ${sr ? 'SR' : 'nearest'}`;
            const outs = [0, 1].map(() => ({ offset: new Float32Array(n).fill(NaN), scale: new Float32Array(n).fill(NaN), inv: new Float32Array(n).fill(NaN),
              zeroPoint: new Int32Array(n).fill(-1), codes: new Uint8Array(x.length).fill(99) }));
            [refBackend, nb].forEach((be, i) => be.quantizeBhqPlanes(x, n, c, hw, order, groupSizes, rowScale, bits, sr, 7, 8,
              outs[i].offset, outs[i].scale, outs[i].inv, outs[i].zeroPoint, outs[i].codes));
            const composed = new Uint8Array(x.length);
            if (x.length > 0) refBackend.quantizeAffinePlanes(z, n, c, hw, hw, n, c, p.offset, p.inv, p.zeroPoint, p.qmin, p.qmax, sr, 7, 8, composed);
            for (const k of ['offset', 'scale', 'inv', 'zeroPoint', 'codes'] as const) assertBitExact(outs[1][k], outs[0][k], `quantizeBhqPlanes ${k} ${what}`);
            assertBitExact(outs[0].offset, p.offset, `reference quantizeBhqPlanes offset = affineParams of Z's ranges ${what}`);
            assertBitExact(outs[0].scale, p.scale, `reference quantizeBhqPlanes scale = affineParams of Z's ranges ${what}`);
            assertBitExact(outs[0].codes, composed, `reference quantizeBhqPlanes = quantizeAffinePlanes of Z ${what}`);
          }
        }
      }
    }
  });

  it('momentSums and quantizeLuq are bit-exact (signed zeros, NaN, exact powers of two, kmax 0…6)', () => {
    addon.setIsa(tier);
    const r = rng(19);
    for (const n of [0, 1, 7, 1000, 70001]) {
      const x = randn(r, n, 2);
      for (let i = 0; i < n; i += 13) x[i] = i % 2 ? -0 : 0;
      if (n > 50) { x[5] = NaN; x[6] = 2 ** -3; x[7] = -(2 ** 4); x[8] = 1e-30; }
      const want = new Float64Array(4), got = new Float64Array(4);
      refBackend.momentSums(x, n, want);
      nb.momentSums(x, n, got);
      assert.deepEqual(Array.from(got), Array.from(want), `momentSums ${tier} n ${n}`);
      for (const kmax of [0, 2, 6]) {
        let m = 0;
        for (const v of x) if (Math.abs(v) > m) m = Math.abs(v);
        const alpha = Float32Array.of(Math.fround(m * 2 ** -kmax) || 1);
        const a = new Int8Array(n).fill(99), b = new Int8Array(n).fill(99);
        refBackend.quantizeLuq(x, n, alpha, kmax, 11, 3, a);
        nb.quantizeLuq(x, n, alpha, kmax, 11, 3, b);
        assertBitExact(b, a, `quantizeLuq ${tier} n ${n} kmax ${kmax}`);
      }
    }
  });

  it('packNibbles and unpackNibbles are bit-exact and round-trip 4-bit codes (odd lengths, signed and unsigned)', () => {
    addon.setIsa(tier);
    const r = rng(23);
    for (const n of [0, 1, 2, 7, 4097, 300001]) {
      const unsigned = Uint8Array.from({ length: n }, () => r.int(16));
      const signed = Int8Array.from({ length: n }, () => r.int(16) - 8);
      for (const codes of [unsigned, signed]) {
        const want = new Uint8Array(Math.ceil(n / 2)).fill(0xaa), got = new Uint8Array(Math.ceil(n / 2)).fill(0x55);
        refBackend.packNibbles(codes, want);
        nb.packNibbles(codes, got);
        assertBitExact(got, want, `packNibbles ${tier} n ${n}`);
        const back = codes instanceof Int8Array ? new Int8Array(n) : new Uint8Array(n);
        nb.unpackNibbles(got, back);
        assertBitExact(back, codes, `unpackNibbles ${tier} n ${n} ${codes.constructor.name}`);
      }
    }
  });

  it('results do not depend on the thread count', () => {
    addon.setIsa(tier);
    const threads = addon.info().threads;
    const r = rng(17);
    const [rows, cols, hw] = [64 * 49, 48, 49];
    const x = randn(r, rows * cols);
    const run = () => {
      const outs: (Float32Array | Uint8Array | Int8Array)[] = [];
      for (const [, rd, rm, cd] of groupings(rows, cols, hw)) {
        const ng = groupCount(rows, cols, rd, rm, cd);
        const mins = new Float32Array(ng), maxs = new Float32Array(ng);
        nb.quantRange(x, rows, cols, rd, rm, cd, mins, maxs);
        const p = affineParams('zeroAligned', 4, mins, maxs);
        const codes = new Uint8Array(rows * cols), back = new Float32Array(rows * cols), i8 = new Int8Array(rows * cols);
        nb.quantizeAffine(x, rows, cols, rd, rm, cd, p.offset, p.inv, p.zeroPoint, p.qmin, p.qmax, 1, 5, 6, codes);
        nb.dequantizeAffine(codes, rows, cols, rd, rm, cd, p.offset, p.scale, p.zeroPoint, back);
        nb.codesToI8(codes, rows, cols, rd, rm, cd, p.zeroPoint, 1, i8);
        outs.push(mins, maxs, codes, back, i8);
      }
      const order = Int32Array.from({ length: 64 }, (_, i) => (i * 37) % 64), sizes = Int32Array.from({ length: 16 }, () => 4);
      const scale = new Float32Array(64).fill(1.5), codes = new Uint8Array(rows * cols);
      const bhq = { offset: new Float32Array(64), scale: new Float32Array(64), inv: new Float32Array(64), zeroPoint: new Int32Array(64) };
      nb.quantizeBhqPlanes(x, 64, cols, hw, order, sizes, scale, 4, 1, 5, 6, bhq.offset, bhq.scale, bhq.inv, bhq.zeroPoint, codes);
      outs.push(bhq.offset, bhq.scale, bhq.inv, codes);
      return outs;
    };
    try {
      addon.setThreads(1);
      const one = run();
      addon.setThreads(Math.max(2, threads));
      const many = run();
      one.forEach((o, i) => assertBitExact(many[i], o, `thread independence, output ${i}`));
    } finally {
      addon.setThreads(threads);
    }
  });
}

if (typeof nut === 'string') {
  it('native quantization kernel conformance', { skip: nut }, () => {});
} else {
  for (const tier of nut.tiers) describe(`native quantization kernels, ISA tier ${tier}`, () => tierSuite(nut, tier));
  it('psq4, bhq4 and luq4 LeNet training steps are bit-identical with native and with reference quantization kernels', async () => {
    const QUANT = new Set<KernelName>(['affineParams', 'quantRange', 'quantizeAffine', 'dequantizeAffine', 'codesToI8', 'codeBlockSums', 'blockHouseholder',
      'quantizeBhqPlanes', 'momentSums', 'quantizeLuq', 'packNibbles', 'unpackNibbles', 'qconvForward', 'qconvGradInput', 'qconvGradWeight']);
    const raw = nut.backend;
    const noQuant = Object.create(raw, { supports: { value: (k: KernelName) => !QUANT.has(k) && raw.supports(k) } }) as Backend;
    const run = (be: Backend, recipe: PresetName) =>
      withBackend({ label: be.name, backend: be, tier: null }, () => trainSteps({ model: 'lenet', inputSize: 28, batch: 8, steps: 2, recipe }));
    for (const recipe of ['psq4', 'bhq4', 'luq4'] as const) {
      const a = await run(withFallback(raw), recipe), b = await run(withFallback(noQuant), recipe);
      assert.ok(a.losses.every(Number.isFinite), 'finite losses');
      assertSameSteps(a, b, `${recipe} step`);
    }
  });

  it('the native backend implements every quantization kernel (no silent reference fallback)', () => {
    for (const k of ['affineParams', 'quantRange', 'quantizeAffine', 'dequantizeAffine', 'codesToI8', 'codeBlockSums', 'blockHouseholder', 'quantizeBhqPlanes', 'momentSums',
      'quantizeLuq', 'qconvForward', 'qconvGradInput', 'qconvGradWeight'] as const) {
      assert.ok(nut.backend.supports(k), `${k} is native`);
    }
  });
}
