/**
 * Counter-based random numbers (DESIGN.md "Random numbers are counter-based").
 *
 * Every random number is a pure function of three unsigned 32-bit integers:
 *
 *     bits(seed, stream, index) = fmix(fmix(fmix(seed ^ 0x243F6A88) ^ stream) ^ index)
 *     fmix(h) = MurmurHash3's 32-bit finaliser applied to (h + 0x9E3779B9) mod 2^32:
 *                 h ^= h >>> 16; h *= 0x85EBCA6B; h ^= h >>> 13; h *= 0xC2B2AE35; h ^= h >>> 16
 *     uniform(seed, stream, index) = (bits >>> 8) · 2^-24        ∈ [0, 1), exact in float32
 *
 * The C++ addon implements the same three lines, so stochastic rounding, dropout and shuffling are
 * bit-identical on every backend and thread count, and a run is reproducible from its seed.
 * A `stream` names one use (one dropout call, one quantizer draw); `index` is the element.
 */

function fmix(h: number): number {
  h = (h + 0x9e3779b9) | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The stream key: hash of (seed, stream); combine with an index through `bitsAt`. */
export function streamKey(seed: number, stream: number): number {
  return fmix(fmix(seed ^ 0x243f6a88) ^ stream);
}

/** 32 random bits for element `index` of the stream whose key is `key`. */
export function bitsAt(key: number, index: number): number {
  return fmix(key ^ index);
}

/** Uniform in [0, 1) with 24 random bits (exactly representable as float32). */
export function uniformAt(key: number, index: number): number {
  return (bitsAt(key, index) >>> 8) * 5.9604644775390625e-8;
}

export function uniform(seed: number, stream: number, index: number): number {
  return uniformAt(streamKey(seed, stream), index);
}

/** State of a generator: a seed and the next unused stream number. Plain data, saved in checkpoints. */
export interface RngState {
  seed: number;
  stream: number;
}

/**
 * A sequence of independent streams derived from one seed. Each consumer takes a fresh stream
 * with `next()`; the state is two integers, so checkpoints restore it exactly.
 */
export class Rng {
  seed: number;
  stream: number;

  constructor(seed: number, stream = 0) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new Error(`seed must be an integer in [0, 2^32), got ${seed}`);
    }
    this.seed = seed >>> 0;
    this.stream = stream >>> 0;
  }

  /** Reserve a new stream and return its number. */
  next(): number {
    const s = this.stream;
    this.stream = (this.stream + 1) >>> 0;
    return s;
  }

  /** A child generator whose streams are disjoint from this one's (used for per-purpose generators). */
  fork(): Rng { return new Rng(bitsAt(streamKey(this.seed, this.next()), 0)); }

  state(): RngState { return { seed: this.seed, stream: this.stream }; }

  setState(s: RngState): void {
    this.seed = s.seed >>> 0;
    this.stream = s.stream >>> 0;
  }

  /** Fill `out` with uniforms in [0,1) from one fresh stream. */
  fillUniform(out: Float32Array): void {
    const key = streamKey(this.seed, this.next());
    for (let i = 0; i < out.length; i++) out[i] = uniformAt(key, i);
  }

  /** Standard normals by Box–Muller from one fresh stream (two uniforms per pair). */
  fillNormal(out: Float32Array, mean = 0, std = 1): void {
    const key = streamKey(this.seed, this.next());
    for (let i = 0; i < out.length; i += 2) {
      const u1 = 1 - uniformAt(key, i); // (0, 1]
      const u2 = uniformAt(key, i + 1);
      const r = Math.sqrt(-2 * Math.log(u1));
      out[i] = mean + std * r * Math.cos(2 * Math.PI * u2);
      if (i + 1 < out.length) out[i + 1] = mean + std * r * Math.sin(2 * Math.PI * u2);
    }
  }

  /** A permutation of 0..n-1 (Fisher–Yates driven by one fresh stream). */
  permutation(n: number): Int32Array {
    const key = streamKey(this.seed, this.next());
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(uniformAt(key, i) * (i + 1));
      const t = p[i]; p[i] = p[j]; p[j] = t;
    }
    return p;
  }

  /** One uniform integer in [0, n). */
  int(n: number): number { return Math.floor(uniform(this.seed, this.next(), 0) * n); }
}
