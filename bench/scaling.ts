/**
 * `npm run bench -- scaling [options]`: the "scaling on paper" of docs/DISTRIBUTED.md (1, 10, 25, 100 Gb/s links,
 * 8–256 workers) — no measurement, arithmetic on measured inputs. Per training step and worker (no overlap of
 * communication with compute, as implemented):
 *   t_step = t_compute + t_allreduce,   t_allreduce = 2(N − 1)·α + 2(N − 1)/N · bytes/β + t_quantize
 *   t_quantize = values · (e + d) · (2 − 1/N)     (encode + decode of the whole gradient, plus the re-quantization of
 *                                                  the (N − 1)/N of it this rank reduces in the ring; 0 for fp32)
 *   β = the link's rate (or min(link, --tcp-gbps) to cap it by what one process's TCP reaches)
 * Inputs (defaults: ResNet-20 on Fashion-MNIST, measured on the 2-core development machine, EXPERIMENTS.md E7):
 *   --values N          gradient values per step (parameters; BatchNorm statistics and loss sums ride as fp32)
 *   --exact N           float32 values that are never quantized
 *   --compute-ms T      one worker's compute per step (its batch)
 *   --alpha-us A        latency per ring step
 *   --tcp-gbps B        cap every link at one process's gloo TCP throughput (default: no cap)
 *   --codec-ns psq8=X,psq4=Y,luq4=Z   encode + decode nanoseconds per value
 *   --bucket G          values per bucket
 * Prints JSON lines, or a Markdown table with --markdown.
 */
import { bucketCodec, type CodedMode } from '../src/distributed/codec.js';
import { emit, flag, option, round } from './util.js';

const WORKERS = [8, 16, 32, 64, 128, 256];
const LINKS_GBPS = [1, 10, 25, 100];
const MODES = ['fp32', 'psq8', 'psq4', 'luq4'] as const;

interface Inputs { values: number; exact: number; computeMs: number; alphaUs: number; tcpGbps: number; codecNs: Record<CodedMode, number>; bucket: number }

function parseInputs(args: string[]): Inputs {
  const codecNs = { psq8: 4.3, psq4: 5.1, luq4: 11.8 };
  for (const kv of option(args, 'codec-ns', '').split(',').filter(Boolean)) {
    const [k, v] = kv.split('=');
    if (!(k in codecNs)) throw new Error(`--codec-ns: unknown mode '${k}' (psq8, psq4, luq4)`);
    codecNs[k as CodedMode] = Number(v);
  }
  return {
    values: Number(option(args, 'values', '272186')), exact: Number(option(args, 'exact', '1572')),
    computeMs: Number(option(args, 'compute-ms', '950')), alphaUs: Number(option(args, 'alpha-us', '180')),
    tcpGbps: Number(option(args, 'tcp-gbps', 'Infinity')), codecNs, bucket: Number(option(args, 'bucket', '512')),
  };
}

/** Seconds of one all-reduce per step on `workers` ranks over a `linkGbps` link. */
export function allreduceSeconds(inp: Inputs, mode: (typeof MODES)[number], workers: number, linkGbps: number): number {
  const beta = (Math.min(linkGbps, inp.tcpGbps) * 1e9) / 8;
  let bytes = 4 * (inp.values + inp.exact), quantize = 0;
  if (mode !== 'fp32') {
    const codec = bucketCodec(mode, inp.bucket);
    bytes = codec.blockBytes * (Math.ceil(inp.values / inp.bucket) + Math.ceil(inp.exact / (codec.blockBytes / 4)));
    quantize = inp.values * inp.codecNs[mode] * 1e-9 * (2 - 1 / workers);
  }
  return 2 * (workers - 1) * inp.alphaUs * 1e-6 + ((2 * (workers - 1)) / workers) * (bytes / beta) + quantize;
}

export function main(args: string[]): void {
  const inp = parseInputs(args);
  const rows = LINKS_GBPS.flatMap((link) => WORKERS.map((workers) => ({
    link, workers, ms: Object.fromEntries(MODES.map((m) => [m, 1000 * allreduceSeconds(inp, m, workers, link)])) as Record<(typeof MODES)[number], number>,
  })));
  if (!flag(args, 'markdown')) {
    for (const r of rows) emit({ bench: 'scaling', linkGbps: r.link, workers: r.workers, ...Object.fromEntries(MODES.map((m) => [`${m}Ms`, round(r.ms[m])])), computeMs: inp.computeMs });
    return;
  }
  const shown = ['fp32', 'psq4', 'luq4'] as const;
  const lines = [`| workers | ${LINKS_GBPS.map((l) => `${l} Gb/s: ${shown.join(' / ')} (ms)`).join(' | ')} | step efficiency at 10 Gb/s, fp32 |`,
    `|---|${LINKS_GBPS.map(() => '---|').join('')}---|`];
  for (const workers of WORKERS) {
    const cells = LINKS_GBPS.map((link) => shown.map((m) => (1000 * allreduceSeconds(inp, m, workers, link)).toFixed(1)).join(' / '));
    const t = 1000 * allreduceSeconds(inp, 'fp32', workers, 10);
    lines.push(`| ${workers} | ${cells.join(' | ')} | ${(100 * inp.computeMs / (inp.computeMs + t)).toFixed(1)} % |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
