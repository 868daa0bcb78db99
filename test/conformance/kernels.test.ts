/**
 * Native non-GEMM kernels against the reference backend on every ISA tier of this machine: data
 * movement, pooling, optimizers, dropout and elementwise kernels bit-exact (they replicate the
 * reference's float64 arithmetic), batch-norm statistics and exp/log/pow within a stated tolerance.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../../src/backend/backend.js';
import type { BinaryOp, UnaryOp } from '../../src/backend/float-kernels.js';
import { refBackend } from '../../src/backend/ref/index.js';
import { assertBitExact, assertClose, nativeUnderTest, randn, rng } from './helpers.js';

const nut = nativeUnderTest();

function contiguous(shape: number[]): Int32Array {
  const s = new Int32Array(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]; }
  return s;
}
/** Strides of `shape` (a broadcast operand, same rank) inside `out`: 0 along size-1 axes. */
function bcastStrides(shape: number[], out: number[]): Int32Array {
  const c = contiguous(shape);
  return Int32Array.from(out.map((_, d) => (shape[d] === 1 && out[d] !== 1 ? 0 : c[d])));
}
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);

// Runs `f` on both backends with fresh copies of `inputs`; returns [native outputs, ref outputs].
function both<T extends unknown[]>(nb: Backend, make: () => T, f: (b: Backend, args: T) => void): [T, T] {
  const x = make(), y = make();
  f(nb, x);
  f(refBackend, y);
  return [x, y];
}

const CONV: [number, number, number, number, number, number, number][] = [
  // n, c, h, w, k, stride, pad
  [2, 3, 5, 7, 3, 1, 1], [1, 1, 1, 1, 1, 1, 0], [2, 2, 6, 6, 3, 2, 0], [1, 4, 4, 5, 5, 1, 2],
  [3, 2, 9, 8, 3, 2, 1], [1, 16, 28, 28, 3, 1, 1], [2, 1, 3, 3, 1, 2, 0],
];

if (typeof nut === 'string') {
  it('native kernel conformance', { skip: nut }, () => {});
} else {
  const { addon, backend: nb, tiers } = nut;
  for (const tier of tiers) {
    describe(`native kernels, ISA tier ${tier}`, () => {
      it('im2col / col2im are bit-exact', () => {
        addon.setIsa(tier);
        const r = rng(10);
        for (const [n, c, h, w, k, stride, pad] of CONV) {
          const oh = Math.floor((h + 2 * pad - k) / stride) + 1, ow = Math.floor((w + 2 * pad - k) / stride) + 1;
          const x = randn(r, n * c * h * w), cols = randn(r, n * oh * ow * c * k * k);
          const [g1, w1] = both(nb, () => [new Float32Array(n * oh * ow * c * k * k).fill(NaN)] as [Float32Array],
            (b, [o]) => b.im2col(x, n, c, h, w, k, k, stride, pad, oh, ow, o));
          assertBitExact(g1[0], w1[0], `im2col ${tier} ${[n, c, h, w, k, stride, pad]}`);
          const [g2, w2] = both(nb, () => [new Float32Array(n * c * h * w).fill(NaN)] as [Float32Array],
            (b, [o]) => b.col2im(cols, n, c, h, w, k, k, stride, pad, oh, ow, o));
          assertBitExact(g2[0], w2[0], `col2im ${tier} ${[n, c, h, w, k, stride, pad]}`);
        }
      });

      it('transpose, transposeCodes and copyStrided are bit-exact', () => {
        addon.setIsa(tier);
        const r = rng(11);
        for (const [bt, rows, cols] of [[3, 37, 45], [1, 1, 100], [2, 100, 1], [1, 0, 5], [4, 784, 16], [2, 33, 64], [2, 16, 784], [1, 130, 77]]) {
          const x = randn(r, bt * rows * cols);
          const [g, w] = both(nb, () => [new Float32Array(x.length)] as [Float32Array], (b, [o]) => b.transpose(bt, rows, cols, x, o));
          assertBitExact(g[0], w[0], `transpose ${tier} ${bt}x${rows}x${cols}`);
          // codes: every byte value, both array kinds; 16 × 16 register blocks plus ragged edges
          for (const codes of [Uint8Array.from(x, (v) => Math.floor(v * 1e4) & 255), Int8Array.from(x, (v) => (Math.floor(v * 1e4) & 255) - 128)]) {
            const got = new (codes.constructor as Uint8ArrayConstructor)(codes.length), want = new (codes.constructor as Uint8ArrayConstructor)(codes.length);
            nb.transposeCodes(bt, rows, cols, codes, got);
            refBackend.transposeCodes(bt, rows, cols, codes, want);
            assertBitExact(got, want, `transposeCodes ${tier} ${bt}x${rows}x${cols} ${codes.constructor.name}`);
          }
        }
        const x = randn(r, 3 * 4 * 5 * 6);
        const cases: [number, Int32Array, Int32Array, number, Int32Array, number][] = [
          // srcOffset, srcStrides, shape, dstOffset, dstStrides, dst size
          [0, Int32Array.from([1, 120, 30, 6].slice(0, 0)), new Int32Array(0), 3, new Int32Array(0), 5], // rank 0
          [0, Int32Array.from([120, 6, 30, 1]), Int32Array.from([3, 5, 4, 6]), 0, contiguous([3, 5, 4, 6]), 360], // permute
          [37, Int32Array.from([30, 6, 1]), Int32Array.from([2, 3, 4]), 0, contiguous([2, 3, 4]), 24], // slice
          [0, contiguous([3, 4, 5, 6]), Int32Array.from([3, 4, 5, 6]), 0, Int32Array.from([300, 60, 12, 2]), 900], // strided dst
          [0, Int32Array.from([1, 3]), Int32Array.from([3, 7]), 0, Int32Array.from([7, 1]), 21], // transpose-like
          [0, Int32Array.from([6, 1]), Int32Array.from([0, 6]), 0, Int32Array.from([6, 1]), 4], // empty
        ];
        for (const [so, ss, shape, dof, ds, n] of cases) {
          const [g, w] = both(nb, () => [new Float32Array(n).fill(-1)] as [Float32Array], (b, [o]) => b.copyStrided(x, so, ss, shape, o, dof, ds));
          assertBitExact(g[0], w[0], `copyStrided ${tier} shape ${Array.from(shape)}`);
        }
      });

      it('binary ops are bit-exact with broadcasting', () => {
        addon.setIsa(tier);
        const r = rng(12);
        const shapes: [number[], number[]][] = [
          [[2, 3, 4, 5], [2, 3, 4, 5]], [[2, 3, 4, 5], [1, 3, 1, 1]], [[1, 3, 1, 1], [2, 3, 4, 5]],
          [[4, 7], [1, 1]], [[1, 1], [4, 7]], [[5, 1], [1, 6]], [[], []], [[3, 0], [1, 1]], [[64, 300], [1, 300]],
          [[6, 1, 9], [6, 8, 1]],
        ];
        for (const op of ['add', 'sub', 'mul', 'div', 'max', 'min', 'eq'] as BinaryOp[]) {
          for (const [sa, sb] of shapes) {
            const out = sa.map((d, i) => Math.max(d, sb[i])).map((d, i) => (sa[i] === 0 || sb[i] === 0 ? 0 : d));
            const a = randn(r, size(sa)), b = randn(r, size(sb));
            if (op === 'eq' && a.length > 0 && b.length > 0) b[0] = a[0];
            const [g, w] = both(nb, () => [new Float32Array(size(out)).fill(NaN)] as [Float32Array],
              (be, [o]) => be.binary(op, a, bcastStrides(sa, out), b, bcastStrides(sb, out), Int32Array.from(out), o));
            assertBitExact(g[0], w[0], `binary ${op} ${tier} ${JSON.stringify([sa, sb])}`);
          }
        }
      });

      it('reluMasked (1-bit mask) and maskBits are bit-exact (signed zeros, NaN, ±∞; masked NaN gradients give 0)', () => {
        addon.setIsa(tier);
        const r = rng(16);
        // 70 001 elements: several pool tasks and a partial last mask word
        const x = randn(r, 70_001, 3), g = randn(r, 70_001, 2);
        x[0] = 0; x[1] = -0; x[2] = NaN; x[3] = Infinity; x[4] = -Infinity; x[5] = 1e-40; x[6] = -1e-40;
        g[0] = NaN; g[4] = Infinity; g[5] = NaN;
        const words = Math.ceil(x.length / 32);
        const [got, want] = both(nb, () => [new Float32Array(x.length), new Uint32Array(words).fill(0xdeadbeef)] as [Float32Array, Uint32Array],
          (b, [o, m]) => b.reluMasked(x, o, m));
        assertBitExact(got[0], want[0], `reluMasked out ${tier}`);
        assertBitExact(got[1], want[1], `reluMasked mask ${tier}`);
        const mask = want[1];
        assert.equal(mask[0] & 0b1111111, 0b0101100, 'bits of 0, −0, NaN, ∞, −∞, 1e−40, −1e−40');
        assert.equal(mask[words - 1] >>> (x.length % 32), 0, 'bits past the end are 0');
        const [gd, wd] = both(nb, () => [new Float32Array(x.length)] as [Float32Array], (b, [o]) => b.maskBits(1, x.length, g, mask, o));
        assertBitExact(gd[0], wd[0], `maskBits ${tier}`);
        assert.equal(wd[0][0], 0, 'a masked NaN gradient is 0');
        assert.ok(Number.isNaN(wd[0][5]), 'an unmasked NaN gradient stays NaN');
      });

      it('preluForward and preluBackward are bit-exact (per-channel and shared slopes, signed zeros, NaN, ±∞, odd planes)', () => {
        addon.setIsa(tier);
        const r = rng(18);
        for (const [n, c, hw] of [[3, 5, 37], [2, 16, 784], [64, 7, 1], [1, 1, 5003], [0, 4, 9], [2, 3, 0]]) {
          const len = n * c * hw;
          const x = randn(r, len, 3), g = randn(r, len, 2), a = randn(r, c, 0.5);
          if (len > 8) { x[0] = 0; x[1] = -0; x[2] = NaN; x[3] = Infinity; x[4] = -Infinity; x[5] = 1e-40; g[3] = NaN; g[4] = Infinity; g[6] = NaN; }
          const [yf, yr] = both(nb, () => [new Float32Array(len)] as [Float32Array], (b, [y]) => b.preluForward(x, n, c, hw, a, y));
          assertBitExact(yf[0], yr[0], `preluForward ${n}×${c}×${hw} ${tier}`);
          const [bf, br] = both(nb, () => [new Float32Array(len), new Float32Array(c)] as [Float32Array, Float32Array],
            (b, [dx, da]) => b.preluBackward(g, x, n, c, hw, a, dx, da));
          assertBitExact(bf[0], br[0], `preluBackward dx ${n}×${c}×${hw} ${tier}`);
          assertBitExact(bf[1], br[1], `preluBackward da ${n}×${c}×${hw} ${tier}`);
        }
      });

      it('firstNonFinite finds the first NaN / ±∞ (or none) at every position class, as ref', () => {
        addon.setIsa(tier);
        const r = rng(17);
        for (const n of [0, 1, 7, 1024, 1025, 5003]) {
          for (const [at, v] of [[-1, 0], [0, NaN], [n - 1, Infinity], [Math.floor(n / 2), -Infinity], [1030, NaN]] as [number, number][]) {
            const x = randn(r, n, 1e30);
            if (at >= 0 && at < n) x[at] = v;
            if (at >= 0 && at + 3 < n) x[at + 3] = NaN; // a later one must not win
            const [got, want] = both(nb, () => [new Float64Array(1)] as [Float64Array], (b, [o]) => b.firstNonFinite(x, o));
            assert.equal(got[0][0], want[0][0], `firstNonFinite n=${n} at=${at} ${tier}`);
            assert.equal(want[0][0], at >= 0 && at < n ? at : -1);
          }
        }
      });

      it('unary ops match ref (bit-exact except exp/log/pow within 1e-6)', () => {
        addon.setIsa(tier);
        const r = rng(13);
        const x = randn(r, 5003, 3);
        x[0] = 0; x[1] = -0; x[2] = NaN; x[3] = Infinity; x[4] = -Infinity; x[5] = 1; x[6] = -1;
        const cases: [UnaryOp, number, number][] = [
          ['neg', 0, 0], ['exp', 0, 0], ['log', 0, 0], ['sqrt', 0, 0], ['abs', 0, 0], ['square', 0, 0], ['relu', 0, 0],
          ['step', 0, 0], ['scale', 0.1, 0], ['addScalar', 1 / 3, 0], ['powScalar', 2, 0], ['powScalar', 0.5, 0],
          ['powScalar', -1.5, 0], ['clamp', -0.5, 0.7], ['insideMask', -1, 1],
        ];
        for (const [op, p0, p1] of cases) {
          const [g, w] = both(nb, () => [new Float32Array(x.length)] as [Float32Array], (b, [o]) => b.unary(op, x, o, p0, p1));
          if (op === 'exp' || op === 'log' || op === 'powScalar') assertClose(g[0], w[0], 1e-6, 0, `unary ${op} ${tier}`);
          else assertBitExact(g[0], w[0], `unary ${op} ${tier}`);
        }
      });

      it('reduce is bit-exact', () => {
        addon.setIsa(tier);
        const r = rng(14);
        for (const [outer, len, inner] of [[3, 17, 5], [1, 1000, 1], [7, 1, 3], [2, 0, 3], [1, 64, 300]]) {
          const x = randn(r, outer * len * inner);
          if (x.length > 3) x[3] = NaN;
          for (const op of ['sum', 'max'] as const) {
            const [g, w] = both(nb, () => [new Float32Array(outer * inner)] as [Float32Array], (b, [o]) => b.reduce(op, x, outer, len, inner, o));
            assertBitExact(g[0], w[0], `reduce ${op} ${tier} ${[outer, len, inner]}`);
          }
        }
      });

      it('batch norm matches ref (statistics within 1e-6 relative, forward bit-exact)', () => {
        addon.setIsa(tier);
        const r = rng(15);
        for (const [n, c, hw] of [[4, 3, 25], [1, 1, 1], [2, 16, 784], [3, 5, 7], [0, 2, 4], [5, 4, 49], [3, 6, 196], [2, 3, 9]]) {
          const x = randn(r, n * c * hw, 2), dy = randn(r, n * c * hw);
          for (let i = 0; i < x.length; i++) x[i] += 1.5;
          const gamma = randn(r, c), beta = randn(r, c), invStd = new Float32Array(c);
          const [gm, wm] = both(nb, () => [new Float32Array(c), new Float32Array(c)] as [Float32Array, Float32Array],
            (b, [mu, v]) => b.channelMoments(x, n, c, hw, mu, v));
          assertClose(gm[0], wm[0], 1e-6, 1e-7, `channelMoments mean ${tier}`);
          assertClose(gm[1], wm[1], 1e-6, 1e-7, `channelMoments var ${tier}`);
          const mean = wm[0];
          for (let i = 0; i < c; i++) invStd[i] = 1 / Math.sqrt(wm[1][i] + 1e-5);
          // Outputs start as NaN: the kernels must write every element (ops allocate them with uninit).
          const [gf, wf] = both(nb, () => [new Float32Array(x.length).fill(NaN)] as [Float32Array],
            (b, [o]) => b.batchNormForward(x, n, c, hw, mean, invStd, gamma, beta, o));
          assertBitExact(gf[0], wf[0], `batchNormForward ${tier}`);
          const [gb, wb] = both(nb, () => [new Float32Array(x.length).fill(NaN), new Float32Array(c).fill(NaN), new Float32Array(c).fill(NaN)] as [Float32Array, Float32Array, Float32Array],
            (b, [dx, dg, db]) => b.batchNormBackward(x, dy, n, c, hw, mean, invStd, gamma, dx, dg, db));
          assertClose(gb[0], wb[0], 1e-5, 1e-6, `batchNormBackward dx ${tier}`);
          assertClose(gb[1], wb[1], 1e-6, 1e-5, `batchNormBackward dgamma ${tier}`);
          assertClose(gb[2], wb[2], 1e-6, 1e-5, `batchNormBackward dbeta ${tier}`);
        }
      });

      it('pooling is bit-exact', () => {
        addon.setIsa(tier);
        const r = rng(16);
        for (const [planes, h, w, k, stride, pad] of [[6, 8, 8, 2, 2, 0], [3, 7, 5, 3, 2, 1], [2, 1, 1, 1, 1, 0], [4, 28, 28, 3, 1, 1], [1, 5, 5, 5, 1, 2]]) {
          const oh = Math.floor((h + 2 * pad - k) / stride) + 1, ow = Math.floor((w + 2 * pad - k) / stride) + 1;
          const x = randn(r, planes * h * w), dy = randn(r, planes * oh * ow);
          const [g, wr] = both(nb, () => [new Float32Array(planes * oh * ow), new Int32Array(planes * oh * ow), new Float32Array(planes * oh * ow)] as [Float32Array, Int32Array, Float32Array],
            (b, [o, am, av]) => { b.maxPoolForward(x, planes, h, w, k, stride, pad, oh, ow, o, am); b.avgPoolForward(x, planes, h, w, k, stride, pad, oh, ow, av); });
          assertBitExact(g[0], wr[0], `maxPoolForward ${tier}`);
          assertBitExact(g[1], wr[1], `maxPoolForward argmax ${tier}`);
          assertBitExact(g[2], wr[2], `avgPoolForward ${tier}`);
          const am = wr[1];
          const [gb, wb] = both(nb, () => [new Float32Array(x.length).fill(NaN), new Float32Array(x.length).fill(NaN)] as [Float32Array, Float32Array],
            (b, [dm, da]) => { b.maxPoolBackward(dy, am, planes, h, w, oh, ow, dm); b.avgPoolBackward(dy, planes, h, w, k, stride, pad, oh, ow, da); });
          assertBitExact(gb[0], wb[0], `maxPoolBackward ${tier}`);
          assertBitExact(gb[1], wb[1], `avgPoolBackward ${tier}`);
        }
      });

      it('sgd / adam updates and the dropout mask are bit-exact', () => {
        addon.setIsa(tier);
        const r = rng(17);
        const n = 40001, w0 = randn(r, n), g = randn(r, n), b0 = randn(r, n), m0 = randn(r, n, 0.1), v0 = randn(r, n, 0.1).map(Math.abs);
        for (const [mom, wd, nest, first] of [[0.9, 5e-4, 0, 0], [0.9, 0, 1, 0], [0, 1e-4, 0, 0], [0.9, 5e-4, 0, 1]]) {
          const [gs, ws] = both(nb, () => [w0.slice(), b0.slice()] as [Float32Array, Float32Array], (b, [w, buf]) => b.sgdUpdate(w, g, buf, 0.1, mom, wd, nest, first));
          assertBitExact(gs[0], ws[0], `sgdUpdate w ${tier}`);
          assertBitExact(gs[1], ws[1], `sgdUpdate buf ${tier}`);
        }
        for (const decoupled of [0, 1]) {
          const [ga, wa] = both(nb, () => [w0.slice(), m0.slice(), v0.slice()] as [Float32Array, Float32Array, Float32Array],
            (b, [w, m, v]) => b.adamUpdate(w, g, m, v, 1e-3, 0.9, 0.999, 1e-8, 0.01, decoupled, 7));
          assertClose(ga[0], wa[0], 1e-7, 0, `adamUpdate w ${tier}`);
          assertBitExact(ga[1], wa[1], `adamUpdate m ${tier}`);
          assertBitExact(ga[2], wa[2], `adamUpdate v ${tier}`);
        }
        for (const [seed, stream, p] of [[1, 0, 0.5], [0xffffffff, 12345, 0.1], [7, 3, 0]]) {
          const [gd, wd] = both(nb, () => [new Float32Array(70001)] as [Float32Array], (b, [o]) => b.dropoutMask(seed, stream, p, o));
          assertBitExact(gd[0], wd[0], `dropoutMask ${tier} seed ${seed}`);
        }
      });
    });
  }
}
