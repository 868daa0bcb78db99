/**
 * Native transformer and low-precision kernels against the reference on every ISA tier and 1 / 2 threads.
 * Bit-exact: hadamardTransform, quantizeMinifloat (both formats, nearest and stochastic), embedding gather and
 * scatter. Within tolerance (float64 statistics in another order, libm vs V8 exp / tanh): softmax and activations
 * to 2e-6 relative (+1e-7 absolute), LayerNorm / RMSNorm (whose dγ, dβ sum partials per task) to 2e-5 (+1e-6);
 * sgemmBatched within the sgemm bound.
 */
import { describe, it } from 'node:test';
import type { Backend } from '../../src/backend/backend.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { assertBitExact, assertClose, assertGemmClose, nativeUnderTest, randn, rng } from './helpers.js';

const nut = nativeUnderTest();
const RTOL = 2e-6, ATOL = 1e-7;
const SHAPES: [number, number][] = [[1, 1], [3, 7], [17, 64], [130, 33], [0, 5], [64, 128]];

function signsOf(n: number, seed: number): Float32Array {
  const u = new Float32Array(n);
  rng(seed).fillUniform(u);
  return u.map((v) => (v < 0.5 ? -1 : 1));
}

function floatKernels(nb: Backend, tier: string): void {
  const r = rng(40);
  for (const [rows, cols] of SHAPES) {
    const x = randn(r, rows * cols, 2), dy = randn(r, rows * cols), g = randn(r, cols), b = randn(r, cols);
    for (const rms of [0, 1]) {
      const run = (k: Backend) => {
        const out = new Float32Array(rows * cols).fill(NaN), mean = new Float32Array(rows), rstd = new Float32Array(rows);
        k.layerNormForward(x, rows, cols, g, b, 1e-5, rms, out, mean, rstd);
        const dx = new Float32Array(rows * cols).fill(NaN), dg = new Float32Array(cols), db = new Float32Array(cols);
        k.layerNormBackward(x, dy, rows, cols, g, mean, rstd, rms, dx, dg, db);
        return [out, mean, rstd, dx, dg, db];
      };
      const got = run(nb), want = run(refBackend);
      got.forEach((v, i) => assertClose(v, want[i], RTOL * 10, 1e-6, `layerNorm rms=${rms} ${tier} ${rows}x${cols} output ${i}`));
    }
    for (const causal of cols === rows || rows % Math.max(1, cols) === 0 ? [0, 1] : [0]) {
      const run = (k: Backend) => {
        const y = new Float32Array(rows * cols).fill(NaN), dx = new Float32Array(rows * cols).fill(NaN);
        k.softmaxForward(x, rows, cols, causal, y);
        k.softmaxBackward(y, dy, rows, cols, dx);
        return [y, dx];
      };
      const got = run(nb), want = run(refBackend);
      got.forEach((v, i) => assertClose(v, want[i], RTOL, ATOL, `softmax causal=${causal} ${tier} ${rows}x${cols} output ${i}`));
    }
    for (const op of ['gelu', 'silu'] as const) {
      const run = (k: Backend) => {
        const y = new Float32Array(rows * cols).fill(NaN), dx = new Float32Array(rows * cols).fill(NaN);
        k.activationForward(op, x, y);
        k.activationBackward(op, x, dy, dx);
        return [y, dx];
      };
      const got = run(nb), want = run(refBackend);
      got.forEach((v, i) => assertClose(v, want[i], RTOL, ATOL, `${op} ${tier} ${rows}x${cols} output ${i}`));
    }
  }
}

function gatherAndGemm(nb: Backend, tier: string): void {
  const r = rng(41);
  const table = randn(r, 7 * 5), ids = Int32Array.from([3, 0, 6, 3, 3, 1, 6]), dy = randn(r, 7 * 5);
  const run = (k: Backend) => {
    const out = new Float32Array(7 * 5).fill(NaN), dt = new Float32Array(7 * 5).fill(NaN);
    k.embeddingForward(ids, table, 5, out);
    k.embeddingBackward(ids, dy, 5, dt);
    return [out, dt];
  };
  const got = run(nb), want = run(refBackend);
  got.forEach((v, i) => assertBitExact(v, want[i], `embedding ${tier} output ${i}`));
  for (const [batch, m, n, k] of [[5, 7, 9, 16], [1, 33, 17, 64], [3, 1, 1, 1], [8, 49, 49, 16], [2, 0, 3, 4]]) {
    const a = randn(r, batch * m * k), b = randn(r, batch * n * k);
    for (const [ta, tb] of [[0, 0], [0, 1], [1, 0], [1, 1]]) {
      const c1 = new Float32Array(batch * m * n).fill(NaN), c2 = new Float32Array(batch * m * n).fill(NaN);
      nb.sgemmBatched(batch, m, n, k, a, ta, b, tb, c1);
      refBackend.sgemmBatched(batch, m, n, k, a, ta, b, tb, c2);
      for (let i = 0; i < batch; i++) {
        // Compare each batch in NT layout: bring a transposed operand back to [rows, k].
        const sub = (x: Float32Array, rows: number, t: number) => {
          const s = x.subarray(i * rows * k, (i + 1) * rows * k);
          if (!t) return s;
          const o = new Float32Array(rows * k);
          for (let p = 0; p < k; p++) for (let q = 0; q < rows; q++) o[q * k + p] = s[p * rows + q];
          return o;
        };
        assertGemmClose(m, n, k, sub(a, m, ta), sub(b, n, tb), c1.subarray(i * m * n, (i + 1) * m * n), c2.subarray(i * m * n, (i + 1) * m * n),
          `sgemmBatched ${tier} ${[batch, m, n, k, ta, tb]} batch ${i}`);
      }
    }
  }
}

function lowpKernels(nb: Backend, tier: string): void {
  const r = rng(42);
  for (const [rows, cols, block] of [[3, 64, 16], [5, 70, 32], [2, 128, 128], [1, 15, 16], [0, 32, 32], [4, 256, 64]]) {
    const x = randn(r, rows * cols, 3), signs = signsOf(cols, rows + cols);
    for (const inverse of [0, 1]) {
      const a = new Float32Array(rows * cols).fill(NaN), b = new Float32Array(rows * cols).fill(NaN);
      nb.hadamardTransform(x, rows, cols, block, signs, inverse, a);
      refBackend.hadamardTransform(x, rows, cols, block, signs, inverse, b);
      assertBitExact(a, b, `hadamardTransform ${tier} ${[rows, cols, block, inverse]}`);
    }
  }
  for (const [rows, cols, rowDiv, rowMod, colDiv] of [[4, 64, 1, 4, 32], [33, 48, 16, 3, 16], [5, 7, 1, 1, 7], [0, 16, 1, 1, 16]]) {
    const groups = Math.min(rowMod, Math.ceil(rows / rowDiv)) * Math.ceil(cols / colDiv);
    const x = randn(r, rows * cols, 4);
    x[0 % Math.max(1, x.length)] = 0;
    const inv = randn(r, Math.max(1, groups), 1).map((v) => 0.5 + Math.abs(v) * 2);
    for (const format of [0, 1] as const) {
      for (const stochastic of [0, 1]) {
        const mk = () => (format === 0 ? new Int8Array(rows * cols) : new Uint8Array(rows * cols));
        const a = mk(), b = mk();
        nb.quantizeMinifloat(x, rows, cols, rowDiv, rowMod, colDiv, inv, format, stochastic, 7, 9, a);
        refBackend.quantizeMinifloat(x, rows, cols, rowDiv, rowMod, colDiv, inv, format, stochastic, 7, 9, b);
        assertBitExact(a, b, `quantizeMinifloat ${tier} format ${format} sr ${stochastic} ${[rows, cols, rowDiv, rowMod, colDiv]}`);
      }
    }
  }
}

if (typeof nut === 'string') {
  it('native transformer kernel conformance', { skip: nut }, () => {});
} else {
  const { addon, backend: nb, tiers } = nut;
  for (const tier of tiers) {
    for (const threads of [1, 2]) {
      describe(`native transformer kernels, ISA tier ${tier}, ${threads} thread(s)`, () => {
        it('LayerNorm / RMSNorm, softmax, GELU / SiLU within tolerance', () => {
          addon.setIsa(tier);
          addon.setThreads(threads);
          floatKernels(nb, tier);
        });
        it('embedding bit-exact, sgemmBatched within the sgemm bound', () => {
          addon.setIsa(tier);
          addon.setThreads(threads);
          gatherAndGemm(nb, tier);
        });
        it('hadamardTransform and quantizeMinifloat bit-exact', () => {
          addon.setIsa(tier);
          addon.setThreads(threads);
          lowpKernels(nb, tier);
        });
      });
    }
  }
}
