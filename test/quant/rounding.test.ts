/** METHODS §8.1: rounding primitives (round-half-even, stochastic rounding), code ranges, zero alignment, reproducibility. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { backend } from '../../src/backend/index.js';
import { roundHalfEven, roundDownF32, roundUpF32 } from '../../src/quant/rounding.js';
import { dequantize, groupingOf, quantizeMatrix } from '../../src/quant/qtensor.js';
import type { IntFormat } from '../../src/quant/spec.js';
import { normals } from './helpers.js';
import { forEachBackend } from '../helpers/backends.js';

test('roundHalfEven: ties go to the even integer, everything else to the nearest', () => {
  const cases: [number, number][] = [[0.5, 0], [1.5, 2], [2.5, 2], [3.5, 4], [-0.5, 0], [-1.5, -2], [-2.5, -2], [2.4999, 2], [2.5001, 3], [7, 7], [254.5, 254], [255.5, 256]];
  for (const [x, want] of cases) assert.equal(roundHalfEven(x) + 0, want, `rne(${x})`);
});

forEachBackend('quantizeAffine nearest: ties to even codes through the kernel', () => {
  const x = Float32Array.from([0.5, 1.5, 2.5, 3.5, 4.5, 5.49, 5.51]);
  const codes = new Uint8Array(x.length);
  backend().quantizeAffine(x, 1, x.length, 1, 1, x.length, Float32Array.of(0), Float32Array.of(1), Int32Array.of(0), 0, 255, 0, 0, 0, codes);
  assert.deepEqual(Array.from(codes), [0, 2, 2, 4, 4, 5, 6]);
  // With an odd zero point the tie is decided on the code (s = t + zp), not on t.
  backend().quantizeAffine(x, 1, x.length, 1, 1, x.length, Float32Array.of(0), Float32Array.of(1), Int32Array.of(1), 0, 255, 0, 0, 0, codes);
  assert.deepEqual(Array.from(codes), [2, 2, 4, 4, 6, 6, 7]);
});

forEachBackend('stochastic rounding: E[q] = s and Var[q] = f(1−f) per fractional part f', { tiers: 'default' }, () => {
  const fracs = [0, 0.1, 0.25, 0.5, 0.75, 0.9];
  const per = 256, K = 400;
  const x = new Float32Array(fracs.length * per);
  fracs.forEach((f, j) => { for (let i = 0; i < per; i++) x[j * per + i] = 3 + f; });
  const codes = new Uint8Array(x.length);
  const sum = new Float64Array(x.length), sumSq = new Float64Array(x.length);
  for (let k = 0; k < K; k++) {
    backend().quantizeAffine(x, 1, x.length, 1, 1, x.length, Float32Array.of(0), Float32Array.of(1), Int32Array.of(0), 0, 255, 1, 17, k, codes);
    for (let i = 0; i < x.length; i++) { sum[i] += codes[i]; sumSq[i] += codes[i] ** 2; }
  }
  fracs.forEach((f, j) => {
    const s = 3 + Math.fround(f);
    let mean = 0, varSum = 0;
    for (let i = j * per; i < (j + 1) * per; i++) {
      const m = sum[i] / K;
      mean += m / per;
      varSum += (sumSq[i] - K * m * m) / (K - 1) / per;
    }
    const v = (s - 3) * (1 - (s - 3));
    if (v === 0) {
      for (let i = j * per; i < (j + 1) * per; i++) assert.equal(sum[i], 3 * K, 'integers never move under SR');
      return;
    }
    const se = Math.sqrt(v / (K * per));
    assert.ok(Math.abs(mean - s) < 5 * se, `f=${f}: mean ${mean} vs ${s} (se ${se})`);
    assert.ok(Math.abs(varSum / v - 1) < 0.05, `f=${f}: variance ${varSum} vs f(1−f) = ${v}`);
  });
});

forEachBackend('codes stay in range for every format and bit width, and dequantized values stay near the data', () => {
  const x = normals(3, 32 * 16, 1);
  for (let i = 0; i < x.length; i += 37) x[i] *= 50; // heavy tail
  const formats: IntFormat[] = ['asymmetric', 'zeroAligned', 'symmetric'];
  for (const format of formats) {
    for (let bits = format === 'symmetric' ? 2 : 1; bits <= 8; bits++) {
      for (const rounding of ['nearest', 'stochastic'] as const) {
        const q = quantizeMatrix(x, 32, 16, { format, bits, rounding, grouping: groupingOf('row', 32, 16, 1), draw: { seed: 1, stream: bits } });
        const [lo, hi] = format === 'symmetric' ? [-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
        assert.equal(q.codes instanceof Int8Array, format === 'symmetric');
        for (const c of q.codes) assert.ok(Number.isInteger(c) && c >= lo && c <= hi, `${format} ${bits}b code ${c} outside [${lo}, ${hi}]`);
        const d = dequantize(q);
        for (let r = 0; r < 32; r++) {
          const step = q.scale[r];
          for (let c = 0; c < 16; c++) {
            const i = r * 16 + c;
            assert.ok(Math.abs(d[i] - x[i]) <= step * (rounding === 'nearest' ? 0.5 : 1) * (1 + 1e-5) + 1e-7,
              `${format} ${bits}b ${rounding}: |${d[i]} − ${x[i]}| > step ${step}`);
          }
        }
      }
    }
  }
});

forEachBackend('zero-aligned: exact zeros stay exactly 0 under SR (50 draws, 4 bits, 60% zeros); the non-aligned grid does not', () => {
  const n = 1000;
  const x = normals(5, n);
  for (let i = 0; i < n; i++) if (i % 5 < 3) x[i] = 0;
  let maxErrUnaligned = 0;
  for (let k = 0; k < 50; k++) {
    const g = groupingOf('tensor', 1, n, 1);
    const za = quantizeMatrix(x, 1, n, { format: 'zeroAligned', bits: 4, rounding: 'stochastic', grouping: g, draw: { seed: 9, stream: k } });
    const dz = dequantize(za);
    for (let i = 0; i < n; i++) {
      if (x[i] !== 0) continue;
      assert.equal(za.codes[i], za.zeroPoint[0], 'a zero maps to code z');
      assert.ok(Object.is(dz[i], 0), `a zero dequantizes to exactly 0, got ${dz[i]}`);
    }
    const as = quantizeMatrix(x, 1, n, { format: 'asymmetric', bits: 4, rounding: 'stochastic', grouping: g, draw: { seed: 9, stream: k } });
    const da = dequantize(as);
    for (let i = 0; i < n; i++) if (x[i] === 0) maxErrUnaligned = Math.max(maxErrUnaligned, Math.abs(da[i]));
  }
  assert.ok(maxErrUnaligned > 0.05, `the non-aligned grid moves zeros (max error ${maxErrUnaligned}, METHODS measured 0.19)`);
});

forEachBackend('same (seed, stream) ⇒ bit-identical codes; another stream or seed ⇒ different codes', () => {
  const x = normals(11, 64 * 32);
  const opts = (seed: number, stream: number) => ({ format: 'asymmetric' as const, bits: 4, rounding: 'stochastic' as const, grouping: groupingOf('sample', 64, 32, 4), draw: { seed, stream } });
  const a = quantizeMatrix(x, 64, 32, opts(42, 7));
  const b = quantizeMatrix(x, 64, 32, opts(a.draw!.seed, a.draw!.stream)); // reproduced from the recorded draw
  assert.deepEqual(a.codes, b.codes);
  assert.notDeepEqual(a.codes, quantizeMatrix(x, 64, 32, opts(42, 8)).codes);
  assert.notDeepEqual(a.codes, quantizeMatrix(x, 64, 32, opts(43, 7)).codes);
});

test('float32 rounding helpers round in the stated direction', () => {
  for (const v of [0.1, -0.1, 1 / 3, -1 / 3, 1e-40, 3e38, 123456.789]) {
    const up = roundUpF32(v), down = roundDownF32(v);
    assert.ok(up >= v && down <= v, `${v}: ${down} ≤ v ≤ ${up}`);
    assert.equal(Math.fround(up), up);
    assert.equal(Math.fround(down), down);
    assert.ok(up === down || Math.fround(v) === up || Math.fround(v) === down);
  }
  assert.equal(roundUpF32(0.5), 0.5);
});
