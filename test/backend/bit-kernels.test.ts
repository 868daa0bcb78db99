/**
 * The reference bit kernels (packSigns, packPlanes, gemmBitplane; METHODS §3.6) against plain integer
 * loops on the unpacked values: the identities must hold exactly, including K not a multiple of 32.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { refBackend as ref } from '../../src/backend/ref/index.js';
import { Rng } from '../../src/tensor/random.js';

const uni = (r: Rng): number => r.int(1 << 24) / (1 << 24);

function randomCase(r: Rng, m: number, n: number, k: number, bits: number) {
  const codes = new Uint8Array(m * k).map(() => r.int(1 << bits));
  const x = new Float32Array(n * k).map(() => (uni(r) < 0.1 ? 0 : uni(r) - 0.5));
  return { codes, x };
}

it('gemmBitplane equals Σ q·sign(x) with sign(0) = +1, for every K residue and bit width', () => {
  const r = new Rng(7);
  for (const [m, n, k] of [[1, 1, 1], [3, 5, 31], [4, 2, 32], [5, 7, 33], [2, 3, 100], [0, 3, 5], [3, 0, 5], [2, 2, 0]]) {
    for (const bits of [1, 2, 4, 8]) {
      const { codes, x } = randomCase(r, m, n, k, bits);
      const words = (k + 31) >>> 5;
      const planes = new Uint32Array(bits * m * words), signs = new Uint32Array(n * words);
      ref.packPlanes(m, k, bits, codes, planes);
      ref.packSigns(n, k, x, signs);
      const c = new Int32Array(m * n);
      ref.gemmBitplane(m, n, k, bits, planes, signs, c);
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let want = 0;
          for (let t = 0; t < k; t++) want += codes[i * k + t] * (x[j * k + t] >= 0 ? 1 : -1);
          assert.equal(c[i * n + j], want, `bits ${bits}, ${m}x${n}x${k}, C[${i},${j}]`);
        }
      }
    }
  }
});

it('packSigns agrees with gemmB1: Σ sign(a)·sign(b) for sign(0) = +1, and zero bits past K', () => {
  const r = new Rng(8);
  const m = 3, n = 4, k = 45, words = 2;
  const a = new Float32Array(m * k).map(() => (uni(r) < 0.2 ? 0 : uni(r) - 0.5));
  const b = new Float32Array(n * k).map(() => uni(r) - 0.5);
  const pa = new Uint32Array(m * words), pb = new Uint32Array(n * words);
  ref.packSigns(m, k, a, pa);
  ref.packSigns(n, k, b, pb);
  for (let i = 0; i < m; i++) assert.equal(pa[i * words + 1] >>> (k - 32), 0, 'bits past K are zero');
  const c = new Int32Array(m * n);
  ref.gemmB1(m, n, k, pa, pb, c);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let want = 0;
      for (let t = 0; t < k; t++) want += (a[i * k + t] >= 0 ? 1 : -1) * (b[j * k + t] >= 0 ? 1 : -1);
      assert.equal(c[i * n + j], want);
    }
  }
});
