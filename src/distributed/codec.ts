/**
 * Gradient codecs of the compressed all-reduce (docs/DISTRIBUTED.md). A flat gradient is cut into buckets of
 * `bucket` elements; each bucket is quantized with stochastic rounding by one of fqt's gradient quantizers
 * (quant/quantizers: the rounding, its counter RNG and its kernels are theirs, nothing is re-implemented here)
 * and laid out as one fixed-size block on the wire — the unit gloo's ring moves and reduces:
 *   psq8, psq4   the PSQ quantizer (METHODS §1.3) with the bucket as the sample: min/max codes with stochastic
 *                rounding, one range per bucket, zero-aligned (§0.3: exact zeros — padding, parameters without
 *                a gradient, dead units — stay exactly zero at every hop; offset 0 at ≥ 2 bits).
 *                block = scale f32 | zero point i32 | codes (b bits each, two per byte at 4 bits)
 *   luq4         LUQ (METHODS §2.3) per bucket: α = max|g|/2^6, values {0, ±α·2^k, k = 0..6}, stochastic
 *                underflow and logarithmic stochastic rounding.
 *                block = α f32 | codes (sign bit + 3-bit exponent code: 0 = zero, k + 1 = α·2^k)
 * Both quantizers are unbiased given their input (METHODS §8.2.1, §8.3.3), which is what the all-reduce needs.
 * Random numbers: the draw of blocks [first, first + count) uses stream 2·first + phase of `seed` (element index
 * within the call), so the draws of distinct calls of one (seed, phase) never overlap (distributed/coded-allreduce.ts).
 */
import { backend } from '../backend/index.js';
import { dequantize, groupingOf, rangeStats, type QTensor } from '../quant/qtensor.js';
import { quantizeWith } from '../quant/quantizers/index.js';
import { luqAlpha, luqKmax } from '../quant/quantizers/luq.js';
import type { UniformSpec } from '../quant/spec.js';
import { FqtError } from '../tensor/errors.js';

export const ALLREDUCE_MODES = ['fp32', 'psq8', 'psq4', 'luq4'] as const;
export type AllreduceMode = (typeof ALLREDUCE_MODES)[number];
export type CodedMode = Exclude<AllreduceMode, 'fp32'>;

export const DEFAULT_BUCKET = 512;

export interface BucketCodec {
  readonly mode: CodedMode;
  /** Elements per bucket (block). */
  readonly bucket: number;
  readonly blockBytes: number;
  /** The quantizer, e.g. 'a4/row/sr per 512-element bucket'. */
  readonly label: string;
  /** Quantize x (count·bucket values: blocks first … first + count − 1 of the gradient) into `out` (count blocks). */
  encode(x: Float32Array, out: Uint8Array, seed: number, first: number, phase: number): void;
  /** The values of the blocks in `bytes` (a whole number of blocks) into `out`. */
  decode(bytes: Uint8Array, out: Float32Array): void;
}

/** Codes of `bits` ∈ {4, 8} bits, one per byte, packed into out (two per byte, low nibble first, at 4 bits). */
function packCodes(codes: ArrayLike<number>, from: number, n: number, bits: number, out: Uint8Array, at: number): void {
  if (bits === 8) {
    for (let i = 0; i < n; i++) out[at + i] = codes[from + i];
    return;
  }
  for (let i = 0; i < n; i += 2) out[at + (i >> 1)] = (codes[from + i] & 15) | ((codes[from + i + 1] & 15) << 4);
}

function unpackCodes(bytes: Uint8Array, at: number, n: number, bits: number, codes: Uint8Array, to: number): void {
  if (bits === 8) {
    codes.set(bytes.subarray(at, at + n), to);
    return;
  }
  for (let i = 0; i < n; i += 2) {
    const b = bytes[at + (i >> 1)];
    codes[to + i] = b & 15;
    codes[to + i + 1] = b >> 4;
  }
}

/** PSQ per bucket (zero-aligned min/max, stochastic rounding) at 4 or 8 bits. */
function uniformCodec(mode: CodedMode, bits: number, bucket: number): BucketCodec {
  const spec: UniformSpec = { kind: 'uniform', bits, format: 'zeroAligned', granularity: 'row', rounding: 'stochastic' };
  const codeBytes = (bucket * bits) / 8;
  const blockBytes = 8 + codeBytes;
  return {
    mode, bucket, blockBytes, label: `PSQ z${bits}/sr, one range per ${bucket}-element bucket`,
    encode(x, out, seed, first, phase) {
      const count = x.length / bucket;
      const { q } = quantizeWith(spec, x, count, bucket, { rowsPerSample: 1, draw: { seed, stream: 2 * first + phase } });
      const view = new DataView(out.buffer, out.byteOffset, count * blockBytes);
      for (let k = 0; k < count; k++) {
        if (q.offset[k] !== 0) throw new Error(`internal: zero-aligned ${bits}-bit codes with offset ${q.offset[k]}`);
        view.setFloat32(k * blockBytes, q.scale[k], true);
        view.setInt32(k * blockBytes + 4, q.zeroPoint[k], true);
        packCodes(q.codes, k * bucket, bucket, bits, out, k * blockBytes + 8);
      }
    },
    decode(bytes, out) {
      const count = bytes.length / blockBytes;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      const codes = new Uint8Array(count * bucket), scale = new Float32Array(count), zeroPoint = new Int32Array(count);
      for (let k = 0; k < count; k++) {
        scale[k] = view.getFloat32(k * blockBytes, true);
        zeroPoint[k] = view.getInt32(k * blockBytes + 4, true);
        unpackCodes(bytes, k * blockBytes + 8, bucket, bits, codes, k * bucket);
      }
      dequantize(bucketTensor(count, bucket, bits, 'zeroAligned', codes, new Float32Array(count), scale, zeroPoint), out.subarray(0, count * bucket));
    },
  };
}

/**
 * LUQ per bucket (4 bits: a sign and a 3-bit exponent code). LUQ's kernel takes one α per call; the buckets share one
 * call through LUQ's scale equivariance: the kernel rounds r = f32(|g|/α), and f32(|g|/α_k) = |f32(g/α_k)|, so
 * quantizing g/α_k with α = 1 gives exactly the codes of g with α_k (α_k = 0: 0/0 = NaN codes 0, as zeros do).
 */
function luqCodec(bucket: number): BucketCodec {
  const kmax = luqKmax(4);
  const blockBytes = 4 + bucket / 2;
  return {
    mode: 'luq4', bucket, blockBytes, label: `LUQ 4-bit (e3, sr), one α per ${bucket}-element bucket`,
    encode(x, out, seed, first, phase) {
      const count = x.length / bucket;
      const { mins, maxs } = rangeStats(x, count, bucket, groupingOf('row', count, bucket, 1));
      const scaled = new Float32Array(x.length), codes = new Int8Array(x.length);
      const view = new DataView(out.buffer, out.byteOffset, count * blockBytes);
      for (let k = 0; k < count; k++) {
        const alpha = luqAlpha(Math.max(-mins[k], maxs[k]), kmax);
        view.setFloat32(k * blockBytes, alpha, true);
        for (let i = k * bucket; i < (k + 1) * bucket; i++) scaled[i] = x[i] / alpha;
      }
      backend().quantizeLuq(scaled, x.length, Float32Array.of(1), kmax, seed, 2 * first + phase, codes);
      for (let k = 0; k < count; k++) {
        const at = k * blockBytes + 4, from = k * bucket;
        for (let i = 0; i < bucket; i += 2) out[at + (i >> 1)] = LUQ_NIBBLE[codes[from + i] + 64] | (LUQ_NIBBLE[codes[from + i + 1] + 64] << 4);
      }
    },
    decode(bytes, out) {
      const count = bytes.length / blockBytes;
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
      const codes = new Int8Array(count * bucket), alpha = new Float32Array(count);
      for (let k = 0; k < count; k++) {
        alpha[k] = view.getFloat32(k * blockBytes, true);
        const at = k * blockBytes + 4, to = k * bucket;
        for (let i = 0; i < bucket; i += 2) {
          const b = bytes[at + (i >> 1)];
          codes[to + i] = LUQ_CODE[b & 15];
          codes[to + i + 1] = LUQ_CODE[b >> 4];
        }
      }
      dequantize(bucketTensor(count, bucket, 4, 'symmetric', codes, new Float32Array(count), alpha, new Int32Array(count)), out.subarray(0, count * bucket));
    },
  };
}

/** LUQ's 4-bit wire code: 0 ↔ 0, α·2^e ↔ e + 1, −α·2^e ↔ 8 | (e + 1) (e = 0..6); LUQ_NIBBLE is indexed by code + 64. */
const LUQ_CODE = Int8Array.from({ length: 16 }, (_, n) => ((n & 7) === 0 ? 0 : (n & 8 ? -1 : 1) * 2 ** ((n & 7) - 1)));
const LUQ_NIBBLE = (() => {
  const t = new Uint8Array(129);
  LUQ_CODE.forEach((c, n) => { if (n !== 8) t[c + 64] = n; });
  return t;
})();

/** The codes of `count` buckets as a QTensor with one scale group per bucket (row). */
function bucketTensor(count: number, bucket: number, bits: number, format: 'zeroAligned' | 'symmetric', codes: Uint8Array | Int8Array,
  offset: Float32Array, scale: Float32Array, zeroPoint: Int32Array): QTensor {
  return {
    rows: count, cols: bucket, bits, format, signed: format === 'symmetric', rounding: 'stochastic', grouping: groupingOf('row', count, bucket, 1),
    codes, offset, scale, zeroPoint, qmin: format === 'symmetric' ? -128 : 0, qmax: format === 'symmetric' ? 127 : 2 ** bits - 1, draw: null,
  };
}

const CODECS: { readonly [M in CodedMode]: (bucket: number) => BucketCodec } = {
  psq8: (g) => uniformCodec('psq8', 8, g),
  psq4: (g) => uniformCodec('psq4', 4, g),
  luq4: (g) => luqCodec(g),
};

/** The codec of a compressed mode; the bucket must be a positive multiple of 8 (whole bytes, aligned blocks). */
export function bucketCodec(mode: CodedMode, bucket = DEFAULT_BUCKET): BucketCodec {
  if (!Number.isInteger(bucket) || bucket < 8 || bucket % 8 !== 0) throw new FqtError(`all-reduce bucket must be a positive multiple of 8 elements, got ${bucket}`);
  return CODECS[mode](bucket);
}
