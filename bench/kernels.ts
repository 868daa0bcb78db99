/**
 * `npm run bench -- kernels [--tier T] [--repeats N] [--quick]`: one JSON line per kernel and shape
 * with the median time, GFLOP/s or GOP/s, and the ratio to this machine's peak measured in the same
 * run by the addon's peak loops (fp32 FMA, int8 dot, popcount; all threads of the pool).
 */
import type { Backend } from '../src/backend/backend.js';
import { setBackend, withFallback } from '../src/backend/index.js';
import { nativeAddon, nativeLoadError, type IsaTier } from '../src/backend/native.js';
import { refBackend } from '../src/backend/ref/index.js';
import { affineParams } from '../src/quant/params.js';
import { groupingOf, quantizeMatrix } from '../src/quant/qtensor.js';
import { Rng } from '../src/tensor/random.js';
import { emit, flag, medianSeconds, option, round } from './util.js';
import { qconvBenches } from './qconv.js';

function randn(r: Rng, n: number): Float32Array {
  const out = new Float32Array(n);
  r.fillNormal(out);
  return out;
}
function randI8(r: Rng, n: number): Int8Array {
  const u = new Float32Array(n);
  r.fillUniform(u);
  return Int8Array.from(u, (v) => Math.floor(v * 256) - 128);
}
function randWords(r: Rng, n: number): Uint32Array {
  const u = new Float32Array(n);
  r.fillUniform(u);
  return Uint32Array.from(u, (v) => Math.floor(v * 2 ** 32) >>> 0);
}

export function main(args: string[]): void {
  const addon = nativeAddon();
  if (addon === null) throw new Error(`the native addon is not available: ${nativeLoadError()}`);
  const info = addon.info();
  const tier = option(args, 'tier', info.active) as IsaTier;
  addon.setIsa(tier);
  const repeats = Number(option(args, 'repeats', '5'));
  const quick = flag(args, 'quick');
  const be = addon.createBackend();
  const threads = addon.info().threads;
  const base = { tier, threads };

  const peakSeconds = quick ? 0.2 : 1;
  const peak = {
    fma: addon.peak('fma', tier, peakSeconds),
    int8: addon.peak('int8', tier, peakSeconds),
    int8exact: addon.peak('int8exact', tier, peakSeconds),
    popcount: addon.peak('popcount', tier, peakSeconds),
  };
  for (const [kind, v] of Object.entries(peak)) emit({ ...base, kernel: 'peak', kind, gops: round(v / 1e9) });

  const r = new Rng(1);
  const sgemmShapes: [number, number, number, string][] = [
    [1024, 1024, 1024, 'square'], [100352, 16, 144, 'resnet20 conv fwd (stage 1)'],
    [100352, 144, 16, 'resnet20 conv grad-input'], [16, 144, 100352, 'resnet20 conv grad-weight'],
  ];
  for (const [m, n, k, note] of quick ? sgemmShapes.slice(0, 1) : sgemmShapes) {
    const a = randn(r, m * k), b = randn(r, n * k), c = new Float32Array(m * n);
    const s = medianSeconds(() => be.sgemm(m, n, k, a, b, c), repeats);
    const g = (2 * m * n * k) / s;
    emit({ ...base, kernel: 'sgemm', shape: [m, n, k], note, ms: round(s * 1e3), gflops: round(g / 1e9), peakRatio: round(g / peak.fma) });
  }

  const n8 = quick ? 1024 : 2048;
  for (const kBlock of [n8, 64]) {
    const [m, n, k] = [n8, n8, n8];
    const nkb = Math.ceil(k / kBlock);
    const a = randI8(r, m * k), b = randI8(r, n * k), c = new Float32Array(m * n);
    const sa = randn(r, m * nkb), sb = randn(r, n * nkb);
    const s = medianSeconds(() => be.gemmI8(m, n, k, kBlock, a, b, sa, sb, c), Math.min(repeats, 3));
    const g = (2 * m * n * k) / s;
    emit({ ...base, kernel: 'gemmI8', shape: [m, n, k], kBlock, ms: round(s * 1e3), gops: round(g / 1e9),
      peakRatio: round(g / peak.int8), exactPeakRatio: round(g / peak.int8exact), vsSgemmPeak: round(g / peak.fma) });
  }

  {
    const [m, n, k] = [1024, 1024, 4096];
    const words = k / 32;
    const a = randWords(r, m * words), b = randWords(r, n * words), c = new Int32Array(m * n);
    const s = medianSeconds(() => be.gemmB1(m, n, k, a, b, c), repeats);
    const g = (2 * m * n * k) / s;
    emit({ ...base, kernel: 'gemmB1', shape: [m, n, k], ms: round(s * 1e3), gops: round(g / 1e9), peakRatio: round(g / peak.popcount) });
    // Bit-plane GEMM: `bits` AND-popcount passes, 2 bit-ops per (plane, k) as the popcount peak counts them.
    for (const bits of quick ? [4] : [1, 4, 8]) {
      const planes = randWords(r, bits * m * words);
      const sp = medianSeconds(() => be.gemmBitplane(m, n, k, bits, planes, b, c), repeats);
      const gp = (2 * m * n * k * bits) / sp;
      emit({ ...base, kernel: 'gemmBitplane', shape: [m, n, k], bits, ms: round(sp * 1e3), gops: round(gp / 1e9),
        peakRatio: round(gp / peak.popcount), macsPerS: round((m * n * k) / sp / 1e9) });
    }
  }
  // Short K (the grad-input GEMM of a conv: K = its 16…64 output channels), 4-bit codes × ±1, against sgemm.
  for (const [m, n, k] of quick ? [] : [[100352, 144, 16], [25088, 288, 32], [6272, 576, 64]]) {
    const words = (k + 31) >>> 5, bits = 4, mask = k < 32 ? 2 ** k - 1 : 0xffffffff;
    const planes = randWords(r, bits * m * words).map((v) => (v & mask) >>> 0), b = randWords(r, n * words).map((v) => (v & mask) >>> 0);
    const c = new Int32Array(m * n), af = randn(r, m * k), bf = randn(r, n * k), cf = new Float32Array(m * n);
    const sp = medianSeconds(() => be.gemmBitplane(m, n, k, bits, planes, b, c), repeats);
    const sf = medianSeconds(() => be.sgemm(m, n, k, af, bf, cf), repeats);
    emit({ ...base, kernel: 'gemmBitplane short K', shape: [m, n, k], bits, ms: round(sp * 1e3), macsPerS: round((m * n * k) / sp / 1e9),
      sgemmMs: round(sf * 1e3), vsSgemm: round(sf / sp) });
  }

  qconvBenches(be, base, peak.int8, repeats, quick ? [1] : [1, 2, 3], () => addon.peak('int8', tier, quick ? 0.05 : 0.1));
  quantBenches(be, r, base, repeats, quick);

  // Memory-bound kernels at ResNet-20 / 28×28 / batch 128 sizes: GB/s moved and speed-up over ref.
  const [bn, ch, hw] = [128, 16, 28];
  const x = randn(r, bn * ch * hw * hw), cols = new Float32Array(bn * hw * hw * ch * 9), out = new Float32Array(x.length);
  const mean = new Float32Array(ch), vari = new Float32Array(ch), inv = new Float32Array(ch).fill(1), gam = new Float32Array(ch).fill(1);
  const dgam = new Float32Array(ch), dbet = new Float32Array(ch);
  const memKernels: [string, number, (b: typeof be) => void][] = [
    ['im2col', (x.length + cols.length) * 4, (b) => b.im2col(x, bn, ch, hw, hw, 3, 3, 1, 1, hw, hw, cols)],
    ['col2im', (x.length + cols.length) * 4, (b) => b.col2im(cols, bn, ch, hw, hw, 3, 3, 1, 1, hw, hw, out)],
    ['transpose', 2 * x.length * 4, (b) => b.transpose(bn, ch, hw * hw, x, out)],
    ['channelMoments', 2 * x.length * 4, (b) => b.channelMoments(x, bn, ch, hw * hw, mean, vari)],
    ['batchNormForward', 2 * x.length * 4, (b) => b.batchNormForward(x, bn, ch, hw * hw, mean, inv, gam, mean, out)],
    ['batchNormBackward', 5 * x.length * 4, (b) => b.batchNormBackward(x, x, bn, ch, hw * hw, mean, inv, gam, out, dgam, dbet)],
    ['relu', 2 * x.length * 4, (b) => b.unary('relu', x, out, 0, 0)],
  ];
  for (const [name, bytes, f] of quick ? memKernels.slice(0, 2) : memKernels) {
    const s = medianSeconds(() => f(be), repeats);
    const sr = medianSeconds(() => f(refBackend as typeof be), 1);
    emit({ ...base, kernel: name, shape: [bn, ch, hw, hw], ms: round(s * 1e3), gbPerS: round(bytes / s / 1e9), speedupVsRef: round(sr / s) });
  }
}

/**
 * Quantization kernels on a ResNet-20-sized gradient dY (128×16×28×28 as a [128·784, 16] layer-layout
 * matrix): GB/s of the native kernels and their speed-up over ref, then the whole psq4 quantization
 * (range → parameters → 4-bit SR codes) per sample (grad-input) and per (pixel, channel) (grad-weight),
 * ref backend vs native backend: the before/after of moving these loops out of JavaScript.
 */
function quantBenches(be: Backend, r: Rng, base: Record<string, unknown>, repeats: number, quick: boolean): void {
  const [bn, ch, hw] = [128, 16, 28 * 28];
  const rows = bn * hw, cols = ch, n = rows * cols;
  const x = randn(r, n);
  const g = groupingOf('sample', rows, cols, hw);
  const ng = g.rowGroups * g.colGroups;
  const mins = new Float32Array(ng), maxs = new Float32Array(ng);
  refBackend.quantRange(x, rows, cols, g.rowDiv, g.rowMod, g.colDiv, mins, maxs);
  const p = affineParams('asymmetric', 4, mins, maxs);
  const codes = new Uint8Array(n), back = new Float32Array(n), i8 = new Int8Array(n);
  const args = [rows, cols, g.rowDiv, g.rowMod, g.colDiv] as const;
  const bhqOrder = r.permutation(bn), bhqSizes = new Int32Array(bn / 8).fill(8), bhqScale = new Float32Array(bn).fill(1.5);
  const kernels: [string, number, (b: Backend) => void][] = [
    ['quantRange', 4 * n, (b) => b.quantRange(x, ...args, mins, maxs)],
    ['quantizeAffine SR', 5 * n, (b) => b.quantizeAffine(x, ...args, p.offset, p.inv, p.zeroPoint, p.qmin, p.qmax, 1, 1, 2, codes)],
    ['quantizeAffine nearest', 5 * n, (b) => b.quantizeAffine(x, ...args, p.offset, p.inv, p.zeroPoint, p.qmin, p.qmax, 0, 1, 2, codes)],
    ['dequantizeAffine', 5 * n, (b) => b.dequantizeAffine(codes, ...args, p.offset, p.scale, p.zeroPoint, back)],
    ['codesToI8 transposed', 2 * n, (b) => b.codesToI8(codes, ...args, p.zeroPoint, 1, i8)],
    ['packPlanes 4-bit', n + n / 2, (b) => b.packPlanes(rows, cols, 4, codes, new Uint32Array(4 * rows))],
    // BHQ on the same gradient as [samples, features] = [128, 12544], groups of 8 samples.
    ['blockHouseholder', 8 * n, (b) => b.blockHouseholder(x, bn, ch * hw, bhqOrder, bhqSizes, bhqScale, 0, back)],
  ];
  for (const [name, bytes, f] of quick ? kernels.slice(1, 2) : kernels) {
    const s = medianSeconds(() => f(be), repeats);
    const sr = medianSeconds(() => f(refBackend), 1);
    emit({ ...base, kernel: name, shape: [bn, ch, 28, 28], grouping: 'sample', ms: round(s * 1e3), gbPerS: round(bytes / s / 1e9),
      speedupVsRef: round(sr / s) });
  }
  // The psq4 quantizer as the trainer calls it (quant/qtensor.ts quantizeMatrix), ref vs native backend.
  const native = withFallback(be);
  try {
    for (const gran of ['sample', 'feature'] as const) {
      const grouping = groupingOf(gran, rows, cols, hw);
      let draw = 0;
      const q = () => quantizeMatrix(x, rows, cols, { format: 'asymmetric', bits: 4, grouping, rounding: 'stochastic', draw: { seed: 3, stream: draw++ } });
      setBackend(refBackend);
      const sRef = medianSeconds(q, quick ? 1 : 3);
      setBackend(native);
      const sNat = medianSeconds(q, repeats);
      emit({ ...base, kernel: 'psq4 quantize', shape: [bn, ch, 28, 28], grouping: gran, refMs: round(sRef * 1e3),
        nativeMs: round(sNat * 1e3), speedup: round(sRef / sNat) });
    }
  } finally {
    setBackend(native);
  }
}
