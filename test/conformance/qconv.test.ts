/**
 * Native fused integer convs (native/src/qconv*.cc) against the reference (backend/ref/qconv.ts), bit for bit, on
 * every ISA tier of this machine and with 1 and 2 threads: code kinds, every group granularity, offsets zero and
 * non-zero, and shapes that cross the micro-kernels' row and lane blocks (outputs per row past 24, channel counts
 * that need 3 or more vectors, strides 2 and 3, padding up to 2, 1×1, empty batches), and grad-input's BHQ inverse.
 */
import { describe, it } from 'node:test';
import { refBackend } from '../../src/backend/ref/index.js';
import type { Backend } from '../../src/backend/backend.js';
import { Rng } from '../../src/tensor/random.js';
import { codeOperand, type Geo, geoArray, KINDS, QCONV_GEOS } from '../helpers/qconv-cases.js';
import { assertBitExact, nativeUnderTest } from './helpers.js';

const nut = nativeUnderTest();

const GEOS: Geo[] = [
  ...QCONV_GEOS,
  [2, 20, 6, 30, 40, 3, 3, 1, 1],   // 30 outputs per row, 40 lanes (3 vectors of 16 / 5 of 8)
  [3, 7, 11, 9, 65, 3, 3, 2, 2],    // 65 output channels: two lane blocks
  [2, 33, 7, 8, 9, 5, 3, 3, 1],     // stride 3, a 5×3 window
  [130, 4, 3, 3, 5, 3, 3, 1, 1],    // batch past 128 (grad-weight sample quads, int32 flushes)
  [2, 70, 4, 4, 6, 1, 1, 1, 0],
  [2, 0, 4, 4, 3, 3, 3, 1, 1],      // no input channels: every sum is empty
  [2, 3, 4, 4, 0, 3, 3, 1, 1],      // no output channels
  // Row micro-kernels (A strides 16, 32, 64, 128 bytes per output of a row), forward and grad-input:
  [3, 16, 10, 10, 16, 3, 3, 1, 1],  // stride 16 both ways, one 10-output tile per row
  [2, 12, 5, 30, 32, 3, 3, 1, 1],   // grad-input stride 32 on rows of 30 (three tiles), 12 of 16 lanes real
  [2, 16, 7, 7, 64, 3, 3, 1, 1],    // forward on 4 vectors (64 lanes), grad-input stride 64
  [2, 32, 9, 9, 64, 3, 3, 2, 1],    // forward stride 2 (64 bytes), grad-input stride-2 phases on 64-byte rows
  [2, 64, 6, 6, 8, 3, 3, 2, 1],     // forward stride 128
];

interface Case { what: string; run(b: Backend): Float32Array }

/** A BHQ transform over n samples (quant/transforms.ts BhqTransform): a permutation in groups of 1, 2 and 3, scales in [0.5, 2). */
function bhqTransform(r: Rng, n: number) {
  const sizes: number[] = [];
  for (let left = n, k = 1; left > 0; k = (k % 3) + 1) { sizes.push(Math.min(left, k)); left -= Math.min(left, k); }
  const u = new Float32Array(n);
  r.fillUniform(u);
  return { order: r.permutation(n), groupSizes: Int32Array.from(sizes), rowScale: Float32Array.from(u, (v) => 0.5 + 1.5 * v) };
}

function cases(seed: number): Case[] {
  const r = new Rng(seed);
  const out: Case[] = [];
  for (const geo of GEOS) {
    const g = geoArray(geo);
    const [n, c, h, w, oc, kh, kw, , , oh, ow] = g;
    const K = c * kh * kw, P = oh * ow;
    KINDS.forEach((kind, i) => {
      const other = KINDS[(i + 1) % KINDS.length];
      const off = i % 2 === 0;
      const x = codeOperand(r, n * c * h * w, i % 2 === 0 ? 1 : Math.max(1, n), kind, off);
      const wt = codeOperand(r, oc * K, i === 1 ? oc : 1, other, !off);
      out.push({ what: `forward ${geo} ${kind}×${other}`, run: (b) => {
        const y = new Float32Array(n * oc * P).fill(NaN);
        b.qconvForward(g, x.codes, x.offset, x.scale, x.zero, wt.codes, wt.offset, wt.scale, wt.zero, y);
        return y;
      } });
      const dy = codeOperand(r, n * P * oc, i % 2 === 0 ? Math.max(1, n) : 1, kind, off);
      const w1 = codeOperand(r, oc * K, 1, other, i === 3);
      const t = i === 2 ? bhqTransform(r, n) : { order: new Int32Array(0), groupSizes: new Int32Array(0), rowScale: new Float32Array(0) };
      out.push({ what: `grad-input ${geo} ${kind}×${other}${i === 2 ? ' with BHQ inverse' : ''}`, run: (b) => {
        const dx = new Float32Array(n * c * h * w).fill(NaN);
        b.qconvGradInput(g, dy.codes, dy.offset, dy.scale, dy.zero, w1.codes, w1.offset, w1.scale, w1.zero, dx, t.order, t.groupSizes, t.rowScale);
        return dx;
      } });
      const dg = codeOperand(r, n * P * oc, [1, oc, oc * P, oc * P][i], kind, off);
      const x1 = codeOperand(r, n * c * h * w, 1, other, i !== 2);
      out.push({ what: `grad-weight ${geo} ${kind}×${other} groups ${dg.scale.length}`, run: (b) => {
        const dw = new Float32Array(oc * K).fill(NaN);
        b.qconvGradWeight(g, dg.codes, dg.offset, dg.scale, dg.zero, x1.codes, x1.offset, x1.scale, x1.zero, dw);
        return dw;
      } });
    });
  }
  return out;
}

if (typeof nut === 'string') {
  it('native fused conv conformance', { skip: nut }, () => {});
} else {
  const { addon, backend: nb, tiers } = nut;
  const all = cases(3);
  const want = all.map((c) => c.run(refBackend));
  for (const tier of tiers) {
    describe(`native fused integer convs, ISA tier ${tier}`, () => {
      for (const threads of [1, 2]) {
        it(`bit-exact against the reference with ${threads} thread${threads > 1 ? 's' : ''}`, () => {
          addon.setIsa(tier);
          const before = addon.info().threads;
          addon.setThreads(threads);
          try {
            all.forEach((c, i) => assertBitExact(c.run(nb), want[i], `${c.what} (${tier}, ${threads} threads)`));
          } finally {
            addon.setThreads(before);
          }
        });
      }
    });
  }
}
