/**
 * The native thread pool under stress: thousands of back-to-back jobs of 1 to ~40 tasks (elementwise kernels split
 * into fixed grains), at 2, 3 and 4 threads — more threads than cores, so workers are often not scheduled when a
 * job is posted, arrive after its last task was claimed, or sleep between jobs — with thread-count changes in
 * between. A task that is lost leaves NaN in the output, one run twice or on another job's data gives a wrong
 * element: every output is compared with the expected values exactly. A job that returns before its tasks have
 * finished shows in sgemm's k-split, which adds the per-chunk partial products right after the job: its result must
 * equal the 1-thread result bit for bit.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { nativeUnderTest, randn, rng } from './helpers.js';

const nut = nativeUnderTest();

if (typeof nut === 'string') {
  it('native thread pool stress', { skip: nut }, () => {});
} else {
  const { addon, backend: nb } = nut;
  it('every task of every job runs exactly once, for any thread count', () => {
    const threads = addon.info().threads;
    const r = rng(31);
    const sizes = [1, 7, 4096, 16385, 70000, 300001];
    const inputs = sizes.map((n) => [randn(r, n), randn(r, n)]);
    const one = Int32Array.of(1);
    const [m, n, k] = [16, 16, 16384];
    const ga = randn(r, m * k), gb = randn(r, n * k);
    addon.setThreads(1);
    const serial = new Float32Array(m * n);
    nb.sgemm(m, n, k, ga, gb, serial);
    try {
      for (const t of [2, 3, 4, 2]) {
        addon.setThreads(t);
        for (let rep = 0; rep < 400; rep++) {
          for (let j = 0; j < sizes.length; j++) {
            const len = sizes[(j + rep) % sizes.length], [a, b] = inputs[(j + rep) % sizes.length];
            const out = new Float32Array(len).fill(NaN);
            const op = rep % 2 === 0 ? 'add' : 'mul';
            nb.binary(op, a, one, b, one, Int32Array.of(len), out);
            for (let i = 0; i < len; i++) {
              const want = Math.fround(op === 'add' ? a[i] + b[i] : a[i] * b[i]);
              if (out[i] !== want) assert.fail(`${t} threads, job ${rep}.${j} (${op}, n = ${len}): out[${i}] = ${out[i]}, want ${want}`);
            }
          }
          const c = new Float32Array(m * n).fill(NaN);
          nb.sgemm(m, n, k, ga, gb, c);
          for (let i = 0; i < m * n; i++) if (!Object.is(c[i], serial[i])) assert.fail(`${t} threads, sgemm ${rep}: c[${i}] = ${c[i]}, 1 thread ${serial[i]}`);
        }
      }
    } finally {
      addon.setThreads(threads);
    }
  });
}
