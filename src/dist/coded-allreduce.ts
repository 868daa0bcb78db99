/**
 * Compressed all-reduce: gloo's ring all-reduce (reduce-scatter, then all-gather) over quantized blocks
 * (dist/codec.ts), dequantized and re-quantized at every hop (docs/DISTRIBUTED.md says why not integer sums):
 *   1. every rank quantizes its whole gradient (phase 0);
 *   2. reduce-scatter: when blocks arrive from the next rank, this rank decodes them, adds ITS OWN fp32 gradient
 *      (not its quantized copy: one rounding less) and quantizes the sum again (phase 1) before passing it on;
 *      after size − 1 hops each chunk holds the quantized sum over all ranks;
 *   3. all-gather copies the final blocks unchanged, and every rank decodes the same bytes: the result is
 *      bit-identical on every rank.
 * Each element is rounded `size` times, each time unbiasedly given everything before, so by the tower rule the
 * result is an unbiased estimate of the exact sum; its variance is the sum of the rounding variances of the
 * partial sums. Random numbers: `seed` must differ per (step, rank) — the caller derives it — and phase/block
 * select the stream (dist/codec.ts), so no draw is ever reused.
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

  /** x ← Σ over ranks of x, quantized on the wire; x.length must be a multiple of the bucket. */
  run(x: Float32Array, seed: number): void {
    const { bucket, blockBytes } = this.codec;
    const blocks = x.length / bucket;
    if (this.wire.length !== blocks * blockBytes) {
      this.wire = new Uint8Array(blocks * blockBytes);
      this.scratch = new Uint8Array(blocks * blockBytes);
      this.partial = new Float32Array(x.length);
    }
    const { wire, scratch, partial } = this;
    this.codec.encode(x, wire, seed, 0, 0);
    this.group.allreduceBlocks(wire, blockBytes, scratch, (first, count) => {
      const sum = partial.subarray(0, count * bucket);
      this.codec.decode(scratch.subarray(0, count * blockBytes), sum);
      const own = x.subarray(first * bucket, (first + count) * bucket);
      for (let i = 0; i < sum.length; i++) sum[i] += own[i];
      this.codec.encode(sum, wire.subarray(first * blockBytes, (first + count) * blockBytes), seed, first, 1);
    });
    this.codec.decode(wire, x);
  }
}
