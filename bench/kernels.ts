/**
 * `npm run bench -- kernels [--tier T] [--repeats N] [--quick]`: one JSON line per kernel and shape
 * with the median time, GFLOP/s or GOP/s, and the ratio to this machine's peak measured in the same
 * run by the addon's peak loops (fp32 FMA, int8 dot, popcount; all threads of the pool).
 */
import { nativeAddon, nativeLoadError, type IsaTier } from '../src/backend/native.js';
import { refBackend } from '../src/backend/ref/index.js';
import { Rng } from '../src/tensor/random.js';
import { emit, flag, medianSeconds, option, round } from './util.js';

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
  }

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
