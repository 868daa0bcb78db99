/**
 * `npm run bench -- allreduce [--workers 2] [--repeats 15]`: gloo all-reduce over loopback between worker processes
 * (docs/DISTRIBUTED.md, "Scaling on paper"). JSON lines from rank 0, medians:
 *   fp32 all-reduce of 1 KiB … 16 MiB: seconds, bytes sent per rank (gloo's ring), bus bandwidth = bytes sent / time;
 *   each mode on a ResNet-20-sized gradient (272 186 values, Fashion-MNIST input): seconds including quantization, bytes;
 *   each codec alone (rank 0): nanoseconds per value to quantize and pack, and to unpack and dequantize.
 * The latency α and bandwidth β of the ring model t = 2(N − 1)·α + sent/β are read off the fp32 rows.
 */
import { fileURLToPath } from 'node:url';
import { ALLREDUCE_MODES, bucketCodec } from '../src/distributed/codec.js';
import { allreduceSeed, CodedAllreduce } from '../src/distributed/coded-allreduce.js';
import { ProcessGroup } from '../src/distributed/group.js';
import { launchWorkers, workerEnv } from '../src/distributed/launch.js';
import { Rng } from '../src/tensor/random.js';
import { emit, medianSeconds, option, round } from './util.js';

const RESNET20_PARAMS = 272_186; // ResNet-20 on 1-channel 28×28 input (Fashion-MNIST)

async function worker(args: string[], rank: number, size: number): Promise<void> {
  const repeats = Number(option(args, 'repeats', '15'));
  const group = await ProcessGroup.join({ rank, size, timeoutSeconds: 120 });
  const fit: [number, number][] = [];
  for (let bytes = 1024; bytes <= 16 << 20; bytes *= 4) {
    const x = new Float32Array(bytes / 4).fill(1);
    const before = group.allreduceBytesSent;
    const seconds = medianSeconds(() => group.allreduceSum(x), repeats);
    const sent = (group.allreduceBytesSent - before) / (repeats + 1);
    fit.push([sent, seconds]);
    if (rank === 0) emit({ bench: 'allreduce', mode: 'fp32', workers: size, bytes, sentPerRank: sent, seconds: round(seconds), busMBps: round(sent / seconds / 1e6) });
  }
  const g = new Float32Array(RESNET20_PARAMS);
  new Rng(rank + 1).fillNormal(g);
  for (const mode of ALLREDUCE_MODES) {
    const x = new Float32Array(Math.ceil(RESNET20_PARAMS / 512) * 512);
    const coded = mode === 'fp32' ? null : new CodedAllreduce(group, bucketCodec(mode));
    let step = 0;
    const before = group.allreduceBytesSent;
    const seconds = medianSeconds(() => {
      x.set(g);
      if (coded) coded.run(x, allreduceSeed(1, step++, rank));
      else group.allreduceSum(x);
    }, repeats);
    if (rank === 0) emit({ bench: 'allreduce-resnet20', mode, workers: size, values: RESNET20_PARAMS, sentPerRank: (group.allreduceBytesSent - before) / (repeats + 1), seconds: round(seconds) });
  }
  if (rank === 0) {
    for (const mode of ALLREDUCE_MODES.filter((m) => m !== 'fp32')) {
      const codec = bucketCodec(mode), blocks = Math.ceil(RESNET20_PARAMS / codec.bucket);
      const x = new Float32Array(blocks * codec.bucket), bytes = new Uint8Array(blocks * codec.blockBytes);
      x.set(g);
      const encode = medianSeconds(() => codec.encode(x, bytes, 1, 0, 0), repeats), decode = medianSeconds(() => codec.decode(bytes, x), repeats);
      emit({ bench: 'codec', mode, values: x.length, encodeNsPerValue: round((1e9 * encode) / x.length), decodeNsPerValue: round((1e9 * decode) / x.length) });
    }
    emit({ bench: 'allreduce-model', workers: size, ...latencyBandwidth(fit, size) });
  }
  group.barrier();
  group.close();
}

/**
 * The ring model t = 2(N − 1)·α + sent/β: α from the smallest message (an upper bound: it includes 1 KiB of
 * transfer), β from the messages of ≥ 1 MiB with the latency terms removed (the best one: load only slows it).
 */
function latencyBandwidth(rows: [number, number][], size: number): { alphaSeconds: number; betaMBps: number } {
  const hops = 2 * (size - 1), alpha = rows[0][1] / hops;
  const beta = Math.max(...rows.filter(([sent]) => sent >= 1 << 20).map(([sent, t]) => sent / Math.max(1e-9, t - hops * alpha)));
  return { alphaSeconds: round(alpha), betaMBps: round(beta / 1e6) };
}

export async function main(args: string[]): Promise<void> {
  const w = workerEnv();
  if (w) return worker(args, w.rank, w.size);
  const script = fileURLToPath(new URL('./main.js', import.meta.url));
  process.exitCode = await launchWorkers(['allreduce', ...args], Number(option(args, 'workers', '2')), process.env, script);
}
