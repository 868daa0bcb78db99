/**
 * Native bit kernels (packSigns, signCodes, packPlanes, gemmBitplane; METHODS §3.6) against the reference backend on every
 * ISA tier of this machine, bit-exact: signed zeros, NaN and infinities for the sign bits, codes past 2^bits, k
 * around the 32-bit word and 256-bit vector boundaries, M = 1, odd N, empty operands, tile-crossing shapes,
 * and thread-count independence. gemmBitplane is also checked against the plain definition Σ_k q_ik·b_jk.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IsaTier } from '../../src/backend/native.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { assertBitExact, nativeUnderTest, randBits, randn, rng, type NativeUnderTest } from './helpers.js';
import type { Rng } from '../../src/tensor/random.js';

const nut = nativeUnderTest();

const KS = [1, 5, 31, 32, 33, 63, 64, 65, 100, 255, 256, 257, 1000];

function randCodes(r: Rng, n: number, below: number): Uint8Array {
  const u = new Float32Array(n);
  r.fillUniform(u);
  return Uint8Array.from(u, (v) => Math.floor(v * below));
}

/** Σ_k q_ik·(±1)_jk straight from the definition (no bit tricks). */
function directProduct(m: number, n: number, k: number, q: Uint8Array, bBits: Uint32Array): Int32Array {
  const words = (k + 31) >>> 5;
  const c = new Int32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += q[i * k + p] * ((bBits[j * words + (p >>> 5)] >>> (p & 31)) & 1 ? 1 : -1);
      c[i * n + j] = s;
    }
  }
  return c;
}

function tierSuite({ addon, backend: nb }: NativeUnderTest, tier: IsaTier): void {
  it('packSigns is bit-exact (−0 packs as +1, NaN as −1, padding bits zero, every word overwritten)', () => {
    addon.setIsa(tier);
    const r = rng(21);
    for (const rows of [0, 1, 3, 17]) {
      for (const k of [...KS, 0]) {
        const x = randn(r, rows * k);
        for (let i = 0; i < x.length; i++) {
          if (i % 7 === 1) x[i] = -0;
          else if (i % 11 === 2) x[i] = 0;
          else if (i % 13 === 3) x[i] = NaN;
          else if (i % 17 === 4) x[i] = -Infinity;
          else if (i % 19 === 5) x[i] = -1e-45;
        }
        const words = (k + 31) >>> 5;
        const want = new Uint32Array(rows * words).fill(0xdeadbeef), got = new Uint32Array(rows * words).fill(0xdeadbeef);
        refBackend.packSigns(rows, k, x, want);
        nb.packSigns(rows, k, x, got);
        assertBitExact(got, want, `packSigns ${tier} ${rows}x${k}`);
      }
    }
  });

  it('signCodes is bit-exact and agrees with packSigns bit for bit (−0 → 1, NaN → 0, every byte overwritten)', () => {
    addon.setIsa(tier);
    const r = rng(25);
    for (const n of [0, 1, 31, 32, 33, 1000, 70001]) {
      const x = randn(r, n);
      for (let i = 0; i < n; i++) {
        if (i % 7 === 1) x[i] = -0;
        else if (i % 11 === 2) x[i] = NaN;
        else if (i % 13 === 3) x[i] = -Infinity;
      }
      const want = new Uint8Array(n).fill(7), got = new Uint8Array(n).fill(7);
      const nanWant = Int32Array.of(9), nanGot = Int32Array.of(9);
      refBackend.signCodes(n, x, want, nanWant);
      nb.signCodes(n, x, got, nanGot);
      assertBitExact(got, want, `signCodes ${tier} n=${n}`);
      assert.deepEqual([nanGot[0], nanWant[0]], [n > 2 ? 1 : 0, n > 2 ? 1 : 0], `signCodes NaN flag n=${n}`);
      const bits = new Uint32Array((n + 31) >>> 5);
      refBackend.packSigns(1, n, x, bits);
      for (let i = 0; i < n; i++) assert.equal(got[i], (bits[i >>> 5] >>> (i & 31)) & 1, `signCodes = packSigns bit ${i}`);
    }
  });

  it('packPlanes is bit-exact for 1…8 bits (codes ≥ 2^bits drop their high bits)', () => {
    addon.setIsa(tier);
    const r = rng(22);
    for (const rows of [0, 1, 2, 9]) {
      for (const k of KS) {
        for (const bits of [1, 2, 3, 4, 7, 8]) {
          const codes = randCodes(r, rows * k, 256);
          const words = (k + 31) >>> 5;
          const want = new Uint32Array(bits * rows * words).fill(0xdeadbeef), got = new Uint32Array(bits * rows * words).fill(0xdeadbeef);
          refBackend.packPlanes(rows, k, bits, codes, want);
          nb.packPlanes(rows, k, bits, codes, got);
          assertBitExact(got, want, `packPlanes ${tier} ${rows}x${k} bits ${bits}`);
        }
      }
    }
  });

  it('gemmBitplane is bit-exact against ref and equals Σ q·b', () => {
    addon.setIsa(tier);
    const r = rng(23);
    const shapes: [number, number, number][] = [[1, 1, 1], [1, 17, 33], [3, 1, 5], [5, 3, 64], [7, 13, 100], [33, 31, 97],
      [0, 5, 7], [5, 0, 7], [4, 5, 0], [13, 40, 31], [70, 67, 129], [65, 9, 4096 + 17], [2, 3, 256],
      [9, 29, 32], [4, 70, 16], [3, 19, 64], [2, 11, 40]]; // short rows (k ≤ 64): vector columns and their tail
    for (const [m, n, k] of shapes) {
      for (const bits of k <= 64 ? [1, 2, 3, 4, 5, 6, 8] : [1, 2, 4, 8]) {
        const q = randCodes(r, m * k, 2 ** bits);
        if (q.length > 0) q[0] = 2 ** bits - 1; // the top code
        const words = (k + 31) >>> 5;
        const planes = new Uint32Array(bits * m * words);
        refBackend.packPlanes(m, k, bits, q, planes);
        const b = randBits(r, n, k);
        const want = new Int32Array(m * n), got = new Int32Array(m * n).fill(-7);
        refBackend.gemmBitplane(m, n, k, bits, planes, b, want);
        nb.gemmBitplane(m, n, k, bits, planes, b, got);
        assertBitExact(got, want, `gemmBitplane ${tier} ${m}x${n}x${k} bits ${bits}`);
        if (m * n * k <= 200000) assertBitExact(got, directProduct(m, n, k, q, b), `gemmBitplane = Σ q·b ${tier} ${m}x${n}x${k}`);
      }
    }
  });

  it('gemmBitplane at the extremes: all-ones codes against all −1 and all +1', () => {
    addon.setIsa(tier);
    const [m, n, k, bits] = [3, 5, 3001, 8];
    const words = (k + 31) >>> 5;
    const planes = new Uint32Array(bits * m * words);
    refBackend.packPlanes(m, k, bits, new Uint8Array(m * k).fill(255), planes);
    const plus = new Uint32Array(n * words);
    refBackend.packSigns(n, k, new Float32Array(n * k).fill(1), plus);
    for (const [b, v] of [[plus, 255 * k], [new Uint32Array(n * words), -255 * k]] as const) {
      const got = new Int32Array(m * n);
      nb.gemmBitplane(m, n, k, bits, planes, b, got);
      assert.deepEqual([...new Set(got)], [v], `gemmBitplane extreme ${tier}`);
    }
  });

  it('results do not depend on the thread count', () => {
    addon.setIsa(tier);
    const threads = addon.info().threads;
    const r = rng(24);
    const [m, n, k, bits] = [150, 190, 700, 4];
    const x = randn(r, n * k), q = randCodes(r, m * k, 16);
    const words = (k + 31) >>> 5;
    const run = () => {
      const s = new Uint32Array(n * words), p = new Uint32Array(bits * m * words), c = new Int32Array(m * n);
      nb.packSigns(n, k, x, s);
      nb.packPlanes(m, k, bits, q, p);
      nb.gemmBitplane(m, n, k, bits, p, s, c);
      return [s, p, c] as const;
    };
    try {
      addon.setThreads(1);
      const one = run();
      addon.setThreads(Math.max(2, threads));
      const many = run();
      one.forEach((o, i) => assertBitExact(many[i], o, `bit kernels thread independence, output ${i}`));
    } finally {
      addon.setThreads(threads);
    }
  });
}

if (typeof nut === 'string') {
  it('native bit kernel conformance', { skip: nut }, () => {});
} else {
  for (const tier of nut.tiers) describe(`native bit kernels, ISA tier ${tier}`, () => tierSuite(nut, tier));
  it('the native backend implements packSigns, packPlanes and gemmBitplane', () => {
    for (const k of ['packSigns', 'signCodes', 'packPlanes', 'gemmBitplane'] as const) assert.ok(nut.backend.supports(k), `${k} is native`);
  });
}
