/**
 * Native GEMMs against the reference backend on every ISA tier of this machine: int8 and binary
 * GEMMs bit-exact, sgemm within the float32 dot-product bound; awkward shapes (M = 1, K not a
 * multiple of 64 or 32, odd N, empty) and thread-count independence.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { refBackend } from '../../src/backend/ref/index.js';
import { assertBitExact, assertGemmClose, nativeUnderTest, randBits, randI8, randn, rng } from './helpers.js';

const nut = nativeUnderTest();

// [m, n, k]: edge cases first, then shapes that cross the kernels' tile and panel boundaries.
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 17, 33], [3, 1, 5], [5, 3, 64], [7, 13, 100], [16, 16, 256], [33, 31, 97],
  [0, 5, 7], [5, 0, 7], [4, 5, 0], [13, 40, 31], [70, 300, 129], [150, 47, 300],
];

if (typeof nut === 'string') {
  it('native GEMM conformance', { skip: nut }, () => {});
} else {
  const { addon, backend: nb, tiers } = nut;
  for (const tier of tiers) {
    describe(`native GEMMs, ISA tier ${tier}`, () => {
      it('sgemm matches ref within the float32 dot-product bound', () => {
        addon.setIsa(tier);
        const r = rng(1);
        for (const [m, n, k] of [...SHAPES, [16, 20, 9000] as [number, number, number]]) {
          const a = randn(r, m * k), b = randn(r, n * k);
          const want = new Float32Array(m * n), got = new Float32Array(m * n).fill(NaN);
          refBackend.sgemm(m, n, k, a, b, want);
          nb.sgemm(m, n, k, a, b, got);
          assertGemmClose(m, n, k, a, b, got, want, `sgemm ${tier} ${m}x${n}x${k}`);
        }
      });

      it('sgemmT reads transposed operands in place: bit-identical to sgemm on transposed copies, close to ref', () => {
        addon.setIsa(tier);
        const r = rng(11);
        const tr = (x: Float32Array, rows: number, cols: number): Float32Array => {
          const out = new Float32Array(rows * cols);
          for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = x[i * cols + j];
          return out;
        };
        for (const [m, n, k] of [...SHAPES, [16, 144, 9000] as [number, number, number], [300, 144, 16] as [number, number, number]]) {
          for (const [ta, tb] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
            const a = randn(r, m * k), b = randn(r, n * k); // NT layout; the transposed storage is derived
            const aIn = ta ? tr(a, m, k) : a, bIn = tb ? tr(b, n, k) : b;
            const viaCopies = new Float32Array(m * n), got = new Float32Array(m * n).fill(NaN), want = new Float32Array(m * n);
            nb.sgemm(m, n, k, a, b, viaCopies);
            nb.sgemmT(m, n, k, aIn, ta, bIn, tb, got);
            assertBitExact(got, viaCopies, `sgemmT ${tier} ${m}x${n}x${k} trans ${ta}${tb}`);
            refBackend.sgemmT(m, n, k, aIn, ta, bIn, tb, want);
            assertGemmClose(m, n, k, a, b, got, want, `sgemmT vs ref ${tier} ${m}x${n}x${k} trans ${ta}${tb}`);
          }
        }
      });

      it('gemmI8 is bit-exact for per-row and K-block scales', () => {
        addon.setIsa(tier);
        const r = rng(2);
        for (const [m, n, k] of SHAPES) {
          for (const kBlock of [k, 32, 64, 7, 100, 4 * k + 1]) {
            if (kBlock <= 0) continue;
            const nkb = Math.ceil(k / kBlock) || 0;
            const a = randI8(r, m * k), b = randI8(r, n * k);
            const sa = randn(r, m * nkb, 0.01), sb = randn(r, n * nkb, 0.02);
            const want = new Float32Array(m * n), got = new Float32Array(m * n).fill(NaN);
            refBackend.gemmI8(m, n, k, kBlock, a, b, sa, sb, want);
            nb.gemmI8(m, n, k, kBlock, a, b, sa, sb, got);
            assertBitExact(got, want, `gemmI8 ${tier} ${m}x${n}x${k} kBlock ${kBlock}`);
          }
        }
      });

      it('gemmI8 is exact at the int8 extremes and past the int32 slice length', () => {
        addon.setIsa(tier);
        for (const [m, n, k, v] of [[3, 5, 20000, -128], [2, 33, 9001, 127], [4, 4, 300, -128]]) {
          const a = new Int8Array(m * k).fill(v), b = new Int8Array(n * k).fill(-128);
          const sa = new Float32Array(m).fill(1), sb = new Float32Array(n).fill(1);
          const want = new Float32Array(m * n), got = new Float32Array(m * n);
          refBackend.gemmI8(m, n, k, k, a, b, sa, sb, want);
          nb.gemmI8(m, n, k, k, a, b, sa, sb, got);
          assertBitExact(got, want, `gemmI8 extremes ${tier} ${m}x${n}x${k}`);
        }
      });

      it('gemmB1 is bit-exact', () => {
        addon.setIsa(tier);
        const r = rng(3);
        for (const [m, n, k] of [...SHAPES, [9, 70, 4096 + 17], [65, 67, 1000], [1, 1, 32], [2, 3, 256]]) {
          const words = (k + 31) >>> 5;
          const a = randBits(r, m, k), b = randBits(r, n, k);
          assert.equal(a.length, m * words);
          const want = new Int32Array(m * n), got = new Int32Array(m * n).fill(-7);
          refBackend.gemmB1(m, n, k, a, b, want);
          nb.gemmB1(m, n, k, a, b, got);
          assertBitExact(got, want, `gemmB1 ${tier} ${m}x${n}x${k}`);
        }
      });

      it('results do not depend on the thread count', () => {
        addon.setIsa(tier);
        const threads = addon.info().threads;
        const r = rng(4);
        const [m, n, k] = [200, 260, 300];
        const a = randn(r, m * k), b = randn(r, n * k);
        const ai = randI8(r, m * k), bi = randI8(r, n * k);
        const sa = randn(r, m * 5), sb = randn(r, n * 5);
        const ab = randBits(r, m, k), bb = randBits(r, n, k);
        const run = () => {
          const f = new Float32Array(m * n), q = new Float32Array(m * n), p = new Int32Array(m * n);
          nb.sgemm(m, n, k, a, b, f);
          nb.gemmI8(m, n, k, 64, ai, bi, sa, sb, q);
          nb.gemmB1(m, n, k, ab, bb, p);
          return [f, q, p] as const;
        };
        try {
          addon.setThreads(1);
          const one = run();
          addon.setThreads(Math.max(2, threads));
          const many = run();
          assertBitExact(many[0], one[0], 'sgemm threads');
          assertBitExact(many[1], one[1], 'gemmI8 threads');
          assertBitExact(many[2], one[2], 'gemmB1 threads');
        } finally {
          addon.setThreads(threads);
        }
      });
    });
  }

  describe('native ISA selection', () => {
    it('refuses a tier the machine lacks and reports the available ones', () => {
      const info = addon.info();
      assert.ok(info.tiers.includes('scalar'));
      assert.ok(info.tiers.includes(info.active) || info.isaError !== undefined);
      for (const t of ['scalar', 'avx2', 'avx512', 'amx'] as const) {
        if (!info.tiers.includes(t)) assert.throws(() => addon.setIsa(t), /lacks/);
      }
      assert.throws(() => addon.setIsa('sse9' as never), /unknown ISA tier/);
      addon.setIsa(info.tiers[info.tiers.length - 1]);
    });

    it('FQT_ISA forces a tier, and naming a missing one is an error, not a silent fallback', () => {
      const native = fileURLToPath(new URL('../../src/backend/native.js', import.meta.url));
      const script = `import(${JSON.stringify(native)}).then((m) => { const r = m.loadNative(); console.log(r.ok ? m.nativeInfo().active : r.reason); })`;
      const run = (isa: string) => spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', env: { ...process.env, FQT_ISA: isa } });
      const ok = run('scalar');
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(ok.stdout.trim(), 'scalar');
      const bad = run('sse9');
      assert.notEqual(bad.status, 0);
      assert.match(bad.stderr, /FQT_ISA must be scalar\|avx2\|avx512\|amx/);
      const missing = (['amx', 'avx512', 'avx2'] as const).find((t) => !addon.info().tiers.includes(t));
      if (missing !== undefined) {
        const r = run(missing);
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /lacks that ISA tier/);
      }
    });
  });
}
