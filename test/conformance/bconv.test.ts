/**
 * Native fused binary conv kernels (backend/bconv-kernels.ts, METHODS §3.2–§3.6) against the reference backend on
 * every ISA tier of this machine and 1 and 2 threads, bit-exact: sign / clipped-STE bits at the edges (±1, ±0, NaN,
 * ±∞), odd channel counts, K not a multiple of 32 / 64, stride 1 / 2 / 3, padding 0 / 1 / 2, 1×1 convs and the
 * linear (1×1 geometry) case, batch 1, non-square inputs, 1 / 2 / 4-bit gradient codes with per-sample, per-channel
 * and per-tensor groups, pruned samples / channels, all groups pruned, with and without the output scale and mask;
 * NaN inputs (sign / mask bits 0 and the NaN flag).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import type { IsaTier } from '../../src/backend/native.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { affineParams } from '../../src/quant/params.js';
import type { Rng } from '../../src/tensor/random.js';
import { assertBitExact, nativeUnderTest, randn, rng, type NativeUnderTest } from './helpers.js';

const nut = nativeUnderTest();

type Geo = [n: number, c: number, h: number, w: number, oc: number, kh: number, kw: number, stride: number, pad: number];

const GEOMS: Geo[] = [
  [2, 3, 7, 7, 5, 3, 3, 1, 1], [1, 5, 6, 9, 7, 3, 3, 2, 1], [3, 16, 5, 5, 16, 3, 3, 1, 1], [2, 13, 8, 8, 9, 3, 3, 2, 1],
  [2, 4, 9, 9, 6, 5, 5, 1, 2], [2, 7, 5, 6, 3, 1, 1, 1, 0], [2, 6, 7, 7, 4, 1, 1, 2, 0], [3, 9, 6, 6, 11, 3, 3, 1, 0],
  [2, 40, 4, 4, 33, 3, 3, 1, 1], [2, 3, 10, 10, 4, 3, 3, 3, 2], [2, 8, 6, 6, 8, 2, 2, 2, 0],
  [5, 70, 1, 1, 37, 1, 1, 1, 0], [4, 33, 1, 1, 65, 1, 1, 1, 0], // linear layers (1×1 geometry)
];

function geomOf([n, c, h, w, oc, kh, kw, stride, pad]: Geo): Int32Array {
  const oh = Math.floor((h + 2 * pad - kh) / stride) + 1, ow = Math.floor((w + 2 * pad - kw) / stride) + 1;
  return Int32Array.of(n, c, h, w, oc, kh, kw, stride, pad, oh, ow);
}

/** Values around the sign and clip edges, with exact zeros and a few ±1. */
function edgy(r: Rng, n: number): Float32Array {
  const x = randn(r, n, 0.9);
  for (let i = 0; i < n; i++) {
    if (i % 13 === 1) x[i] = 0;
    else if (i % 17 === 2) x[i] = -0;
    else if (i % 19 === 3) x[i] = i % 2 ? 1 : -1;
  }
  return x;
}

function packed(be: Backend, rows: number, k: number, x: Float32Array): { signs: Uint32Array; mask: Uint32Array } {
  const words = (k + 31) >>> 5;
  const signs = new Uint32Array(rows * words), mask = new Uint32Array(rows * words), nan = Int32Array.of(7);
  be.packSignsClip(rows, k, x, 1, signs, mask, nan);
  assert.equal(nan[0], x.some(Number.isNaN) ? 1 : 0, 'packSignsClip NaN flag');
  return { signs, mask };
}

interface DyQ { q: Int32Array; offset: Float32Array; qscale: Float32Array; inv: Float32Array; zeroPoint: Int32Array }

/**
 * Asymmetric min/max parameters of dY's GEMM rows [n·P, oc] (v = f32(dy·scale)) for one grouping, with the groups in
 * `pruned` set to offset = scale = 0 (AGP).
 */
function dyQuant(g: Int32Array, dy: Float32Array, scale: Float32Array, grouping: 'sample' | 'column' | 'tensor', bits: number,
  pruned: number[], stream: number): DyQ {
  const [n, , , , oc, , , , , oh, ow] = g;
  const P = oh * ow;
  const G = grouping === 'sample' ? n : grouping === 'column' ? oc : 1;
  const grp = (s: number, o: number): number => (grouping === 'sample' ? s : grouping === 'column' ? o : 0);
  const mins = new Float32Array(G).fill(Infinity), maxs = new Float32Array(G).fill(-Infinity);
  for (let s = 0; s < n; s++) for (let o = 0; o < oc; o++) for (let p = 0; p < P; p++) {
    const raw = dy[(s * oc + o) * P + p], v = scale.length ? Math.fround(raw * scale[o]) : raw;
    mins[grp(s, o)] = Math.min(mins[grp(s, o)], v);
    maxs[grp(s, o)] = Math.max(maxs[grp(s, o)], v);
  }
  const a = affineParams('asymmetric', bits, mins, maxs);
  for (const k of pruned) if (k < G) { a.offset[k] = 0; a.scale[k] = 0; a.zeroPoint[k] = 0; }
  const groups = grouping === 'sample' ? [P, n, oc] : grouping === 'column' ? [1, 1, 1] : [1, 1, oc];
  return { q: Int32Array.of(...groups, bits, 1, 77, stream, 0), offset: a.offset, qscale: a.scale, inv: a.inv, zeroPoint: a.zeroPoint };
}

const withBlocked = (d: DyQ): DyQ => ({ ...d, q: Int32Array.from(d.q, (v, i) => (i === 7 ? 1 : v)) });

/** Every kernel of the family on one geometry, as [name, output] pairs (the native outputs are compared to ref's). */
function runAll(be: Backend, geo: Geo, seed: number): [string, Float32Array | Uint32Array][] {
  const g = geomOf(geo);
  const [n, c, h, w, oc, kh, kw, , , oh, ow] = g;
  const r = rng(seed);
  const x = edgy(r, n * c * h * w), wt = edgy(r, oc * c * kh * kw);
  x[x.length >> 1] = NaN; // no sign bit: packs as −1, masked, and raises packSignsClip's NaN flag
  const P = oh * ow, K = c * kh * kw;
  const X = packed(be, n, c * h * w, x), W = packed(be, oc, K, wt);
  const scale = Float32Array.from(randn(r, oc), (v) => Math.fround(0.5 + v * v));
  const dy = randn(r, n * oc * P);
  dy.forEach((v, i) => { dy[i] = v * (1 + (i % 7)); });
  const out: [string, Float32Array | Uint32Array][] = [['signs', X.signs], ['mask', X.mask], ['wsigns', W.signs]];
  const ones = new Float32Array(n * c * h * w);
  be.unpackSigns(n, c * h * w, X.signs, ones);
  const masked = new Float32Array(n * c * h * w);
  be.maskBits(n, c * h * w, x, X.mask, masked);
  out.push(['unpackSigns', ones], ['maskBits', masked]);
  const mins = new Float32Array(n * oc), maxs = new Float32Array(n * oc);
  dy[1] = NaN; // NaN sticks in its (sample, channel) range
  be.sampleChannelRange(n, oc, P, dy, mins, maxs);
  dy[1] = 0.5;
  out.push(['range min', mins], ['range max', maxs]);
  for (const sc of [scale, new Float32Array(0)]) {
    const tag = sc.length ? 'scaled' : 'unscaled';
    const y = new Float32Array(n * oc * P).fill(NaN);
    be.binaryConvForward(g, X.signs, W.signs, sc, y);
    const da = new Float32Array(oc).fill(NaN), mins = new Float32Array(n * oc), maxs = new Float32Array(n * oc);
    be.binaryConvScaleGrad(g, X.signs, W.signs, dy, da, sc.length ? mins : new Float32Array(0), sc.length ? maxs : new Float32Array(0));
    out.push([`forward ${tag}`, y], ['scaleGrad', da], ['scaleGrad range min', mins], ['scaleGrad range max', maxs]);
  }
  for (const bits of [1, 2, 4]) {
    for (const [grouping, pruned] of [['sample', [1]], ['tensor', []], ['sample', [0, 1, 2, 3, 4]]] as const) {
      const d = dyQuant(g, dy, scale, grouping, bits, [...pruned], seed + bits);
      for (const mask of [X.mask, new Uint32Array(0)]) {
        const dx = new Float32Array(n * c * h * w).fill(NaN);
        be.binaryConvGradInput(g, dy, scale, d.q, d.offset, d.qscale, d.inv, d.zeroPoint, W.signs, mask, dx);
        out.push([`gradInput ${bits}b ${grouping} pruned ${pruned.length} mask ${mask.length > 0}`, dx]);
      }
    }
    for (const [grouping, pruned, blocked] of [['column', [0, 3], false], ['tensor', [], false], ['column', [...Array(oc).keys()], false],
      ['sample', [1], true], ['sample', [], true]] as const) {
      const d0 = dyQuant(g, dy, scale, grouping, bits, [...pruned], seed + 10 + bits);
      const d = blocked ? withBlocked(d0) : d0;
      const dw = new Float32Array(oc * K).fill(NaN);
      be.binaryConvGradWeight(g, dy, scale, d.q, d.offset, d.qscale, d.inv, d.zeroPoint, X.signs, dw);
      out.push([`gradWeight ${bits}b ${grouping}${blocked ? ' blocked' : ''} pruned ${pruned.length}`, dw]);
    }
  }
  return out;
}

function tierSuite({ addon, backend: nb }: NativeUnderTest, tier: IsaTier, want: Map<number, [string, Float32Array | Uint32Array][]>): void {
  for (let gi = 0; gi < GEOMS.length; gi++) {
    const geo = GEOMS[gi];
    it(`every kernel is bit-exact: [n, c, h, w, oc, kh, kw, stride, pad] = [${geo.join(', ')}], 1 and 2 threads`, () => {
      addon.setIsa(tier);
      const threads = addon.info().threads;
      try {
        for (const t of [1, 2]) {
          addon.setThreads(t);
          const got = runAll(nb, geo, 100 + gi);
          got.forEach(([name, v], i) => assertBitExact(v, want.get(gi)![i][1], `${name} ${tier} ${t} thread(s) [${geo.join(', ')}]`));
        }
      } finally {
        addon.setThreads(threads);
      }
    });
  }
}

it('reference: gradients of pruned groups are exactly +0, forward of all-positive bits is the tap count', () => {
  const g = geomOf([1, 2, 3, 3, 2, 3, 3, 1, 1]);
  const x = new Float32Array(18).fill(0.5), w = new Float32Array(36).fill(0.5);
  const X = packed(refBackend, 1, 18, x), W = packed(refBackend, 2, 18, w);
  const y = new Float32Array(18);
  refBackend.binaryConvForward(g, X.signs, W.signs, new Float32Array(0), y);
  // corner pixels read 4 in-bounds taps of 2 channels, edges 6, the centre 9
  assert.deepEqual([...y.subarray(0, 9)], [8, 12, 8, 12, 18, 12, 8, 12, 8]);
  const d = dyQuant(g, Float32Array.from({ length: 18 }, (_, i) => i - 9), new Float32Array(0), 'sample', 4, [0], 1);
  const dx = new Float32Array(18).fill(NaN);
  refBackend.binaryConvGradInput(g, new Float32Array(18).fill(1), new Float32Array(0), d.q, d.offset, d.qscale, d.inv, d.zeroPoint, W.signs, X.mask, dx);
  assert.ok(dx.every((v) => Object.is(v, 0)), 'a pruned sample gives +0 everywhere');
});

if (typeof nut === 'string') {
  it('native binary conv kernel conformance', { skip: nut }, () => {});
} else {
  const want = new Map(GEOMS.map((geo, gi) => [gi, runAll(refBackend, geo, 100 + gi)]));
  for (const tier of nut.tiers) describe(`native binary conv kernels, ISA tier ${tier}`, () => tierSuite(nut, tier, want));
  it('the native backend implements every binary conv kernel', () => {
    for (const k of ['packSignsClip', 'unpackSigns', 'maskBits', 'sampleChannelRange', 'binaryConvForward', 'binaryConvScaleGrad',
      'binaryConvGradInput', 'binaryConvGradWeight'] as const) assert.ok(nut.backend.supports(k), `${k} is native`);
  });
}
