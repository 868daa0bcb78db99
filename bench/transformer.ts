/**
 * `npm run bench -- transformer [--repeats N]`: the transformer and low-precision kernels at vit-tiny / gpt-tiny
 * shapes, native (active ISA tier) against the reference in the same run: median seconds, GB/s of the data each
 * kernel reads and writes, and the native / reference speed ratio (JSON lines).
 */
import { refBackend } from '../src/backend/ref/index.js';
import { loadNative, nativeInfo } from '../src/backend/native.js';
import type { Backend } from '../src/backend/backend.js';
import { Rng } from '../src/tensor/random.js';
import { emit, medianSeconds, option, round } from './util.js';

function randn(n: number, seed: number): Float32Array {
  const x = new Float32Array(n);
  new Rng(seed).fillNormal(x);
  return x;
}

interface Case { name: string; bytes: number; run: (b: Backend) => void }

function cases(): Case[] {
  const rows = 128 * 49, d = 64; // vit-tiny: batch 128 × 49 tokens × dim 64
  const x = randn(rows * d, 1), dy = randn(rows * d, 2), g = randn(d, 3), out = new Float32Array(rows * d), dx = new Float32Array(rows * d);
  const mean = new Float32Array(rows), rstd = new Float32Array(rows), dg = new Float32Array(d), db = new Float32Array(d);
  const s = randn(128 * 4 * 49 * 49, 4), p = new Float32Array(s.length); // scores [b·h, t, t]
  const h = randn(rows * 128, 5), ho = new Float32Array(h.length); // MLP hidden
  const q = randn(256 * 49 * 16, 6), k = randn(256 * 49 * 16, 7); // q, k per head
  const signs = randn(128, 8).map((v) => (v < 0 ? -1 : 1)), w = randn(2048 * 128, 9), wo = new Float32Array(w.length);
  const inv = new Float32Array(2048 * 128 / 16).fill(4), codes = new Int8Array(w.length);
  return [
    { name: 'layerNormForward [6272×64]', bytes: 8 * rows * d, run: (b) => b.layerNormForward(x, rows, d, g, g, 1e-5, 0, out, mean, rstd) },
    { name: 'layerNormBackward [6272×64]', bytes: 12 * rows * d, run: (b) => b.layerNormBackward(x, dy, rows, d, g, mean, rstd, 0, dx, dg, db) },
    { name: 'softmaxForward causal [25088×49]', bytes: 8 * s.length, run: (b) => b.softmaxForward(s, 128 * 4 * 49, 49, 1, p) },
    { name: 'softmaxBackward [25088×49]', bytes: 12 * s.length, run: (b) => b.softmaxBackward(p, s, 128 * 4 * 49, 49, p) },
    { name: 'activationForward gelu [6272×128]', bytes: 8 * h.length, run: (b) => b.activationForward('gelu', h, ho) },
    { name: 'sgemmBatched scores 256×[49×16]·[49×16]ᵀ', bytes: 4 * (2 * q.length + 256 * 49 * 49), run: (b) => b.sgemmBatched(256, 49, 49, 16, q, 0, k, 0, s.subarray(0, 256 * 49 * 49)) },
    { name: 'hadamardTransform b=16 [2048×128]', bytes: 8 * w.length, run: (b) => b.hadamardTransform(w, 2048, 128, 16, signs, 0, wo) },
    { name: 'quantizeMinifloat e2m1 sr 1×16 [2048×128]', bytes: 5 * w.length, run: (b) => b.quantizeMinifloat(w, 2048, 128, 1, 2048, 16, inv, 0, 1, 1, 2, codes) },
  ];
}

export function main(args: string[]): void {
  const loaded = loadNative();
  if (!loaded.ok) throw new Error(`native backend not available: ${loaded.reason}`);
  const repeats = Number(option(args, 'repeats', '7'));
  const tier = nativeInfo()?.active ?? 'unknown';
  for (const c of cases()) {
    const nat = medianSeconds(() => c.run(loaded.backend), repeats), ref = medianSeconds(() => c.run(refBackend), Math.max(3, repeats >> 1));
    emit({ bench: 'transformer', kernel: c.name, tier, threads: nativeInfo()?.threads, nativeMs: round(nat * 1e3), refMs: round(ref * 1e3),
      nativeGBps: round(c.bytes / nat / 1e9), speedup: round(ref / nat) });
  }
}
