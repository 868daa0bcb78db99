/**
 * Quantization parameters on degenerate inputs (1-bit PTQ, non-negative / non-positive / all-zero tensors,
 * constant rows, huge ranges): finite, no clipping (⇒ SR unbiased), checked exactly from the parameters and
 * by Monte Carlo. Scale shapes per granularity (METHODS §8.2.5).
 */
import assert from 'node:assert/strict';
import { dequantize, groupCount, groupingOf, quantizeMatrix, type QTensor, rowsOf } from '../../src/quant/qtensor.js';
import type { Granularity, IntFormat, QuantSpec } from '../../src/quant/spec.js';
import { quantizeWith } from '../../src/quant/quantizers/index.js';
import { assertUnbiased, codeCoordinate, normals, Welford, zTest } from './helpers.js';
import { forEachBackend } from '../helpers/backends.js';

/** SR is unbiased iff no element needs clipping: qmin ≤ s ≤ qmax, and E[x̂] = offset + (s − zp)·scale ≈ x. */
function assertNoClipping(q: QTensor, x: Float32Array, what: string): void {
  const g = q.grouping;
  for (let i = 0; i < x.length; i++) {
    const s = codeCoordinate(q, x, i);
    const r = Math.floor(i / q.cols), c = i % q.cols;
    const grp = (Math.floor(r / g.rowDiv) % g.rowMod) * g.colGroups + Math.floor(c / g.colDiv);
    assert.ok(Number.isFinite(q.scale[grp]) && q.scale[grp] > 0, `${what}: scale ${q.scale[grp]}`);
    const slack = 1e-5 * Math.max(1, Math.abs(s));
    assert.ok(s >= q.qmin - slack && s <= q.qmax + slack, `${what}: element ${i} (${x[i]}) needs code ${s} outside [${q.qmin}, ${q.qmax}]`);
    const expected = q.offset[grp] + (s - q.zeroPoint[grp]) * q.scale[grp];
    assert.ok(Math.abs(expected - x[i]) <= 1e-5 * q.scale[grp] * Math.max(1, Math.abs(s)) + 1e-6 * Math.abs(x[i]),
      `${what}: E[x̂] = ${expected} for x = ${x[i]}`);
  }
}

function mcUnbiased(x: Float32Array, rows: number, cols: number, format: IntFormat, bits: number, gran: Granularity, what: string, K = 300): void {
  const w = new Welford(x.length);
  let q: QTensor | null = null;
  for (let k = 0; k < K; k++) {
    q = quantizeMatrix(x, rows, cols, { format, bits, rounding: 'stochastic', grouping: groupingOf(gran, rows, cols, 1), draw: { seed: 77, stream: k } });
    const d = dequantize(q);
    for (const v of d) assert.ok(Number.isFinite(v), `${what}: non-finite output`);
    w.add(d);
  }
  // True per-element SD from the fractional part of s (exact for SR): scale·sqrt(f(1−f)).
  const sd = (i: number) => {
    const s = codeCoordinate(q!, x, i), f = s - Math.floor(s);
    const g = q!.grouping, r = Math.floor(i / cols), c = i % cols;
    return q!.scale[(Math.floor(r / g.rowDiv) % g.rowMod) * g.colGroups + Math.floor(c / g.colDiv)] * Math.sqrt(f * (1 - f));
  };
  const skipMax = (i: number) => { const s = codeCoordinate(q!, x, i), f = s - Math.floor(s); return f * (1 - f) * K < 5; };
  // Float32 rounding of x̂ = offset + (code − zp)·scale is the only allowed deviation of an exact element.
  const tol = (i: number) => {
    const g = q!.grouping, r = Math.floor(i / cols), c = i % cols;
    const grp = (Math.floor(r / g.rowDiv) % g.rowMod) * g.colGroups + Math.floor(c / g.colDiv);
    return 2 ** -21 * (Math.abs(q!.offset[grp]) + q!.qmax * q!.scale[grp]);
  };
  assertUnbiased(zTest(w, x, { sd, skipMax, tol }), what);
}

forEachBackend('1-bit PTQ (zero-aligned, per tensor): finite and unbiased on signed, non-negative and non-positive data', { tiers: 'default' }, () => {
  const signed = normals(1, 512);
  const nonNeg = signed.map(Math.abs);
  const nonPos = signed.map((v) => -Math.abs(v));
  for (const [x, name] of [[signed, 'signed'], [nonNeg, 'non-negative'], [nonPos, 'non-positive']] as const) {
    const q = quantizeMatrix(x, 1, x.length, { format: 'zeroAligned', bits: 1, rounding: 'nearest', grouping: groupingOf('tensor', 1, x.length, 1) });
    assertNoClipping(q, x, `1-bit ${name}`);
    mcUnbiased(x, 1, x.length, 'zeroAligned', 1, 'tensor', `1-bit PTQ ${name}`);
  }
});

forEachBackend('zero-aligned guards: z == 0 on non-negative data uses lo = 0; a sliver of negatives keeps zero exact', () => {
  const relu = normals(2, 256).map((v) => Math.max(v, 0));
  const q = quantizeMatrix(relu, 1, 256, { format: 'zeroAligned', bits: 4, rounding: 'nearest', grouping: groupingOf('tensor', 1, 256, 1) });
  assert.equal(q.zeroPoint[0], 0);
  assert.equal(q.offset[0], 0);
  const sliver = Float32Array.from(relu);
  sliver[3] = -1e-4; // negative part far below one bin: z = floor(−lo·B/(hi−lo)) = 0
  for (const bits of [2, 4, 8]) {
    const qs = quantizeMatrix(sliver, 1, 256, { format: 'zeroAligned', bits, rounding: 'stochastic', grouping: groupingOf('tensor', 1, 256, 1), draw: { seed: 3, stream: bits } });
    assert.equal(qs.zeroPoint[0], 1, `${bits} bits: one level below zero`);
    assertNoClipping(qs, sliver, `sliver ${bits}b`);
    const d = dequantize(qs);
    for (let i = 0; i < 256; i++) if (sliver[i] === 0) assert.ok(Object.is(d[i], 0));
  }
});

forEachBackend('all-zero tensors: zero-aligned is exact and deterministic; asymmetric stays finite and unbiased', { tiers: 'default' }, () => {
  const x = new Float32Array(300);
  for (const format of ['zeroAligned', 'symmetric'] as const) {
    const q = quantizeMatrix(x, 3, 100, { format, bits: 4, rounding: 'stochastic', grouping: groupingOf('row', 3, 100, 1), draw: { seed: 1, stream: 1 } });
    assert.ok(dequantize(q).every((v) => v === 0), `${format}: zeros stay zeros`);
  }
  mcUnbiased(x, 3, 100, 'asymmetric', 4, 'row', 'all-zero asymmetric');
});

forEachBackend('constant rows (incl. large offsets) and huge ranges give finite, unbiased codes', { tiers: 'default' }, () => {
  // Rows 0–5 constant, row 6 N(0,1)·1e30, row 7 alternating 1e-30 / −3e37, rows 8–11 N(0,1)·{1e-30, 1e-3, 1, 1e20}.
  const rows = 12, cols = 256;
  const x = normals(4, rows * cols);
  const consts = [0, 1, -3.5, 1000, -65504, 1e-20];
  const scales = [1e-30, 1e-3, 1, 1e20];
  for (let c = 0; c < cols; c++) {
    for (let r = 0; r < 6; r++) x[r * cols + c] = consts[r];
    x[6 * cols + c] *= 1e30;
    x[7 * cols + c] = c % 2 ? 1e-30 : -3e37;
    for (let r = 8; r < 12; r++) x[r * cols + c] *= scales[r - 8];
  }
  for (const format of ['asymmetric', 'zeroAligned', 'symmetric'] as const) {
    for (const bits of [2, 4, 8]) {
      const q = quantizeMatrix(x, rows, cols, { format, bits, rounding: 'nearest', grouping: groupingOf('row', rows, cols, 1) });
      assertNoClipping(q, x, `${format} ${bits}b`);
      for (const v of dequantize(q)) assert.ok(Number.isFinite(v));
    }
  }
  mcUnbiased(x, rows, cols, 'asymmetric', 4, 'row', 'constant rows / huge ranges, asymmetric', 200);
  mcUnbiased(x, rows, cols, 'zeroAligned', 4, 'row', 'constant rows / huge ranges, zero-aligned', 200);
  // Per tensor with a 1e30 range: the tiny rows sit inside one bin; still no clipping.
  const qt = quantizeMatrix(x, rows, cols, { format: 'zeroAligned', bits: 8, rounding: 'nearest', grouping: groupingOf('tensor', rows, cols, 1) });
  assertNoClipping(qt, x, 'per-tensor huge range');
});

forEachBackend('non-finite input propagates NaN instead of producing plausible codes', () => {
  const x = Float32Array.from([1, 2, NaN, 4]);
  const q = quantizeMatrix(x, 1, 4, { format: 'asymmetric', bits: 8, rounding: 'nearest', grouping: groupingOf('tensor', 1, 4, 1) });
  assert.ok(dequantize(q).every((v) => Number.isNaN(v)));
});

forEachBackend('scale shapes for dY [N·H·W, C] (METHODS §8.2.5): PTQ 1, PSQ N, per-column C·H·W, BHQ N + transform', () => {
  const N = 4, HW = 9, C = 5, rows = N * HW;
  const dy = normals(8, rows * C);
  const count = (g: Granularity) => groupCount(groupingOf(g, rows, C, HW));
  assert.equal(count('tensor'), 1);
  assert.equal(count('sample'), N);
  assert.equal(count('feature'), C * HW);
  assert.equal(count('column'), C);
  assert.equal(count('row'), rows);
  assert.equal(count({ block: 2 }), rows * 3);
  const b = quantizeWith({ kind: 'bhq', bits: 4, rounding: 'stochastic' }, dy, rows, C, { rowsPerSample: HW, draw: { seed: 1, stream: 0 } });
  assert.equal(b.q.scale.length, N);
  assert.ok(b.transform);
  assert.equal(b.transform.order.length, N);
  assert.equal(b.transform.rowScale.length, N);
  assert.equal(b.transform.groupSizes.reduce((a, v) => a + v, 0), N);
});

forEachBackend('a conv dY given as NCHW planes quantizes to the operand of its transposed rows (PTQ, PSQ, per-feature, BHQ, LUQ, LUQ paper)', () => {
  const [n, c, hw] = [6, 5, 7];
  const data = normals(9, n * c * hw);
  data[3] = 0; data[4] = -0; // zero extremes take the sign of the first zero in rows order
  const planes = { data, n, c, hw };
  const rows = rowsOf(planes);
  const specs: QuantSpec[] = [
    { kind: 'uniform', bits: 4, format: 'zeroAligned', granularity: 'tensor', rounding: 'stochastic' },
    { kind: 'uniform', bits: 4, format: 'asymmetric', granularity: 'sample', rounding: 'stochastic' },
    { kind: 'uniform', bits: 8, format: 'asymmetric', granularity: 'feature', rounding: 'stochastic' },
    { kind: 'uniform', bits: 4, format: 'symmetric', granularity: 'row', rounding: 'nearest' }, // a grouping the planes kernels transpose for
    { kind: 'bhq', bits: 4, rounding: 'stochastic' },
    { kind: 'luq', bits: 4 },
    { kind: 'luq', bits: 4, paperCompat: true },
  ];
  for (const spec of specs) {
    const ctx = { rowsPerSample: hw, draw: { seed: 5, stream: 17 } };
    const fromPlanes = quantizeWith(spec, planes, n * hw, c, ctx), fromRows = quantizeWith(spec, rows, n * hw, c, ctx);
    const what = JSON.stringify(spec);
    assert.deepEqual(fromPlanes.q.codes, fromRows.q.codes, `codes ${what}`);
    assert.deepEqual([fromPlanes.q.offset, fromPlanes.q.scale, fromPlanes.q.zeroPoint], [fromRows.q.offset, fromRows.q.scale, fromRows.q.zeroPoint], `parameters ${what}`);
    assert.deepEqual(fromPlanes.transform, fromRows.transform, `BHQ transform ${what}`);
  }
});
