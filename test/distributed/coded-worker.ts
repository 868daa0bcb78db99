/**
 * A worker of test/distributed/allreduce.test.ts (started with WORLD_SIZE, RANK, MASTER_ADDR, MASTER_PORT and
 * FQT_CODED_WORKER = output prefix, rank r writes PREFIX.r.json; imported as a test file it does nothing). Rank r all-reduces its fixed gradient
 * DRAWS times per compressed mode, each time with a fresh seed and EXACT float32 values alongside, and writes
 * per-element sums and sums of squares of the results, a checksum of every result (they must be bit-identical on
 * every rank) and whether the exact values came back as their sums.
 */
import { writeFileSync } from 'node:fs';
import { bucketCodec } from '../../src/distributed/codec.js';
import { allreduceSeed, CodedAllreduce } from '../../src/distributed/coded-allreduce.js';
import { ProcessGroup } from '../../src/distributed/group.js';
import { Rng } from '../../src/tensor/random.js';

export const DRAWS = 200;
export const ELEMENTS = 2048;
export const BUCKET = 256;
export const MODES = ['psq8', 'psq4', 'luq4'] as const;
/** Float32 values summed exactly in the same ring (integers: any order of the sum gives the same bits). */
export const EXACT = 150;

/** Rank r's gradient: heavy-tailed, N(0,1)·exp(N(0,1)), zero at every 7th element on every rank. */
export function rankGradient(rank: number): Float32Array {
  const a = new Float32Array(ELEMENTS), b = new Float32Array(ELEMENTS), rng = new Rng(100 + rank);
  rng.fillNormal(a);
  rng.fillNormal(b);
  return a.map((v, i) => (i % 7 === 0 ? 0 : v * Math.exp(b[i])));
}

async function main(out: string): Promise<void> {
  const group = await ProcessGroup.join({ rank: Number(process.env.RANK), size: Number(process.env.WORLD_SIZE), timeoutSeconds: 30 });
  const g = rankGradient(group.rank);
  const result: Record<string, { sum: number[]; sumSq: number[]; checksum: number; bytesPerCall: number; exactOk: boolean }> = {};
  for (const mode of MODES) {
    const coded = new CodedAllreduce(group, bucketCodec(mode, BUCKET));
    const sum = new Float64Array(ELEMENTS), sumSq = new Float64Array(ELEMENTS);
    let checksum = 0, exactOk = true;
    const sent0 = group.allreduceBytesSent;
    for (let k = 0; k < DRAWS; k++) {
      const x = g.slice();
      const exact = Float32Array.from({ length: EXACT }, (_, i) => i + 1000 * group.rank + k);
      coded.run(x, allreduceSeed(1, k, group.rank), exact);
      exactOk &&= exact.every((v, i) => v === group.size * (i + k) + 1000 * (group.size * (group.size - 1)) / 2);
      const bits = new Uint32Array(x.buffer);
      for (let i = 0; i < ELEMENTS; i++) {
        sum[i] += x[i];
        sumSq[i] += x[i] * x[i];
        checksum = (Math.imul(checksum, 31) + bits[i]) >>> 0;
      }
    }
    result[mode] = { sum: [...sum], sumSq: [...sumSq], checksum, bytesPerCall: (group.allreduceBytesSent - sent0) / DRAWS, exactOk };
  }
  group.barrier();
  group.close();
  writeFileSync(`${out}.${group.rank}.json`, JSON.stringify(result));
}

if (process.env.FQT_CODED_WORKER) {
  main(process.env.FQT_CODED_WORKER).catch((err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  });
}
