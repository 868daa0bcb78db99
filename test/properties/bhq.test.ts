/** METHODS §8.2.4: BHQ structure — T·T⁻¹ = I, group sizes, stopping rule, H_G properties, O(N·D) == dense. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyBhq, BHQ_RANGE_EPS, buildBhqTransform, householderMaxAbs } from '../../src/quant/transforms.js';
import { bhqDense, householderMatrix } from '../helpers/bhq-dense.js';
import { normals } from '../quant/helpers.js';
import { forEachBackend } from '../helpers/backends.js';

function rangeSets(): [string, number[]][] {
  const ln = Array.from(normals(1, 128), (v) => Math.exp(1.5 * v));
  return [
    ['outliers', Array.from({ length: 128 }, (_, i) => (i % 32 === 0 ? 6 : 0.06))],
    ['lognormal', ln],
    ['equal', new Array<number>(64).fill(1)],
    ['one outlier', Array.from({ length: 64 }, (_, i) => (i === 7 ? 100 : 1))],
    ['N=2', [3, 1]],
    ['N=3', [1, 2, 3]],
    ['all zero', new Array<number>(16).fill(0)],
  ];
}

test('groups: sizes ≥ 2 summing to N, order is a permutation, largest helpers go to the largest leaders', () => {
  for (const [name, r] of rangeSets()) {
    const t = buildBhqTransform(r);
    const n = r.length;
    assert.equal(t.groupSizes.reduce((a, b) => a + b, 0), n, name);
    for (const g of t.groupSizes) assert.ok(g >= 2, `${name}: group of size ${g}`);
    assert.deepEqual([...t.order].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), name);
    const v = (i: number) => r[i] + BHQ_RANGE_EPS;
    let start = 0, prevLeader = Infinity, prevHelperMin = Infinity;
    for (const G of t.groupSizes) {
      const lead = v(t.order[start]);
      assert.ok(lead <= prevLeader, `${name}: leaders in descending order`);
      for (let j = 1; j < G; j++) {
        assert.ok(v(t.order[start + j]) <= lead, `${name}: helper above its leader`);
        assert.ok(v(t.order[start + j]) <= prevHelperMin, `${name}: helpers allocated largest first`);
        prevHelperMin = Math.min(prevHelperMin, v(t.order[start + j]));
      }
      prevLeader = lead;
      start += G;
    }
  }
});

test('stopping rule: z·v_{N−z−1}/S > 1 holds for the chosen z and fails for z − 1', () => {
  for (const [name, r] of rangeSets()) {
    const n = r.length;
    if (n < 3) continue;
    const v = r.map((x) => x + BHQ_RANGE_EPS).sort((a, b) => b - a);
    const z = buildBhqTransform(r).helpers;
    const S = (zz: number) => v.slice(0, n - zz).reduce((a, b) => a + b, 0);
    const ratio = (zz: number) => (zz * v[n - zz - 1]) / S(zz);
    assert.ok(z === n - 1 || ratio(z) > 1 - 1e-12, `${name}: rule holds at z = ${z}`);
    // (ties such as equal ranges sit exactly at 1: allow float round-off there)
    for (let zz = 1; zz < z; zz++) assert.ok(ratio(zz) <= 1 + 1e-12, `${name}: rule already held at z = ${zz} < ${z}`);
  }
});

test('H_G: H e_1 = 𝟙/√G, H = Hᵀ, H² = I, max|H| = q_G', () => {
  for (let G = 2; G <= 12; G++) {
    const H = householderMatrix(G);
    let maxAbs = 0;
    for (let i = 0; i < G; i++) {
      assert.ok(Math.abs(H[i * G] - 1 / Math.sqrt(G)) < 1e-12, `G=${G}: (H e1)_${i}`);
      for (let j = 0; j < G; j++) {
        assert.ok(Math.abs(H[i * G + j] - H[j * G + i]) < 1e-14);
        let sq = 0;
        for (let k = 0; k < G; k++) sq += H[i * G + k] * H[k * G + j];
        assert.ok(Math.abs(sq - (i === j ? 1 : 0)) < 1e-12, `G=${G}: H²[${i},${j}] = ${sq}`);
        maxAbs = Math.max(maxAbs, Math.abs(H[i * G + j]));
      }
    }
    assert.ok(Math.abs(maxAbs - householderMaxAbs(G)) < 1e-12, `G=${G}: q_G`);
  }
});

forEachBackend('T·T⁻¹ = I (fp64, ≤ 1e-12) and the O(N·D) kernel equals the dense T product (≤ 1e-6)', () => {
  for (const [name, r] of rangeSets()) {
    const t = buildBhqTransform(r);
    const n = r.length, d = 24;
    const { T, Tinv } = bhqDense(t);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += T[i * n + k] * Tinv[k * n + j];
        assert.ok(Math.abs(s - (i === j ? 1 : 0)) < 1e-12, `${name}: (T·T⁻¹)[${i},${j}] = ${s}`);
      }
    }
    const x = normals(3, n * d);
    const fast = applyBhq(t, x, d, false);
    let maxRef = 0, maxErr = 0;
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < d; c++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += T[i * n + k] * x[k * d + c];
        maxRef = Math.max(maxRef, Math.abs(s));
        maxErr = Math.max(maxErr, Math.abs(s - fast[i * d + c]));
      }
    }
    assert.ok(maxErr <= 1e-6 * maxRef, `${name}: kernel vs dense max error ${maxErr} (scale ${maxRef})`);
    const back = applyBhq(t, fast, d, true);
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(back[i] - x[i]) <= 1e-5 * (1 + Math.abs(x[i])), `${name}: T⁻¹(T x) ≠ x at ${i}`);
  }
});

forEachBackend('degenerate sizes: N = 1 is the identity, N = 0 is empty', () => {
  const one = buildBhqTransform([5]);
  assert.deepEqual(Array.from(one.groupSizes), [1]);
  const x = Float32Array.of(1, -2, 3);
  assert.deepEqual(applyBhq(one, x, 3, false), x);
  assert.equal(buildBhqTransform([]).order.length, 0);
});
