/**
 * Compressed all-reduce: gloo's ring all-reduce (reduce-scatter, then all-gather) over quantized blocks
 * (distributed/codec.ts), dequantized and re-quantized at every hop (docs/DISTRIBUTED.md says why not integer sums):
 *   1. every rank quantizes its whole gradient (phase 0);
 *   2. reduce-scatter: when blocks arrive from the next rank, this rank decodes them, adds ITS OWN fp32 gradient
 *      (not its quantized copy: one rounding less) and quantizes the sum again (phase 1) before passing it on;
 *      after size − 1 hops each chunk holds the quantized sum over all ranks;
 *   3. all-gather copies the final blocks unchanged, and every rank decodes the same bytes: the result is
 *      bit-identical on every rank.
 * Each element is rounded `size` times, each time unbiasedly given everything before, so by the tower rule the
 * result is an unbiased estimate of the exact sum; its variance is the sum of the rounding variances of the
 * partial sums. Random numbers: `seed` must differ per (step, rank) — allreduceSeed — and phase/block select the
 * stream (distributed/codec.ts), so no draw is ever reused.
 * Values that must not be quantized (BatchNorm statistics, loss sums) ride in the same ring as raw float32 blocks
 * after the quantized ones, summed exactly in float32: one ring per step, so the latency is paid once.
 */
import { bitsAt, streamKey } from '../tensor/random.js';
import type { BucketCodec } from './codec.js';
import type { ProcessGroup } from './group.js';

const ALLREDUCE_STREAM = 0x64697374; // 'dist'

/** The seed of one compressed all-reduce on one rank: a hash of (run seed, step, rank), never reused. */
export function allreduceSeed(runSeed: number, step: number, rank: number): number {
  return bitsAt(streamKey(streamKey(runSeed, ALLREDUCE_STREAM), step), rank);
}

export class CodedAllreduce {
  private wire = new Uint8Array(0);
  private scratch = new Uint8Array(0);
  private partial = new Float32Array(0);

  constructor(private readonly group: ProcessGroup, readonly codec: BucketCodec) {}

  /** Blocks on the wire for `values` quantized and `exact` float32 values. */
  blocksFor(values: number, exact: number): { coded: number; raw: number } {
    return { coded: Math.ceil(values / this.codec.bucket), raw: Math.ceil(exact / (this.codec.blockBytes / 4)) };
  }

  /**
   * x ← Σ over ranks of x, quantized on the wire (x.length a multiple of the bucket), and exact ← Σ exact in
   * float32 (the same bits on every rank).
   */
  run(x: Float32Array, seed: number, exact: Float32Array = new Float32Array(0)): void {
    const { bucket, blockBytes } = this.codec;
    const { coded, raw } = this.blocksFor(x.length, exact.length);
    if (this.wire.length !== (coded + raw) * blockBytes) {
      this.wire = new Uint8Array((coded + raw) * blockBytes);
      this.scratch = new Uint8Array((coded + raw) * blockBytes);
      this.partial = new Float32Array(coded * bucket);
    }
    const { wire, scratch } = this;
    const rawWire = new Float32Array(wire.buffer, coded * blockBytes, (raw * blockBytes) / 4);
    this.codec.encode(x, wire.subarray(0, coded * blockBytes), seed, 0, 0);
    rawWire.fill(0).set(exact);
    this.group.allreduceBlocks(wire, blockBytes, scratch, (first, count) => {
      const codedCount = Math.max(0, Math.min(count, coded - first));
      if (codedCount > 0) this.reduceCoded(x, seed, first, codedCount);
      if (codedCount < count) {
        const from = ((first + codedCount - coded) * blockBytes) / 4, n = ((count - codedCount) * blockBytes) / 4;
        const got = new Float32Array(scratch.buffer, codedCount * blockBytes, n);
        for (let i = 0; i < n; i++) rawWire[from + i] += got[i];
      }
    });
    this.codec.decode(wire.subarray(0, coded * blockBytes), x);
    exact.set(rawWire.subarray(0, exact.length));
  }

  /** Received quantized blocks [first, first + count) (in scratch) + this rank's own values, quantized again. */
  private reduceCoded(x: Float32Array, seed: number, first: number, count: number): void {
    const { bucket, blockBytes } = this.codec;
    const sum = this.partial.subarray(0, count * bucket);
    this.codec.decode(this.scratch.subarray(0, count * blockBytes), sum);
    const own = x.subarray(first * bucket, (first + count) * bucket);
    for (let i = 0; i < sum.length; i++) sum[i] += own[i];
    this.codec.encode(sum, this.wire.subarray(first * blockBytes, (first + count) * blockBytes), seed, first, 1);
  }
}
