/**
 * Benchmarks (never part of `npm test`): `npm run bench -- <command> [options]`.
 *   kernels   native kernel throughput vs this machine's measured peak (JSON lines)
 *   step      training step per recipe (ms/step, peak RSS, GEMM paths) vs fp32, and ResNet-20 vs PyTorch fp32 / bf16
 *   qconv     the fused integer conv kernels alone on the ResNet-20 conv shapes (a subset of kernels)
 *   transformer  the transformer and low-precision kernels at vit-tiny shapes, native vs reference
 *   allreduce gloo all-reduce between worker processes over loopback: fp32 bandwidth and latency, compressed modes
 *   scaling   docs/DISTRIBUTED.md's projection of the all-reduce time to 8–256 workers on 10/25/100 Gb/s links
 */
const commands: Record<string, () => Promise<{ main(args: string[]): Promise<void> | void }>> = {
  kernels: () => import('./kernels.js'),
  step: () => import('./step.js'),
  qconv: () => import('./qconv-main.js'),
  transformer: () => import('./transformer.js'),
  allreduce: () => import('./allreduce.js'),
  scaling: () => import('./scaling.js'),
};

async function run(): Promise<void> {
  const [name, ...args] = process.argv.slice(2);
  const load = name !== undefined ? commands[name] : undefined;
  if (load === undefined) {
    process.stderr.write(`usage: npm run bench -- <${Object.keys(commands).join('|')}> [options]\n`);
    process.exit(name === undefined || name === '--help' ? 0 : 2);
  }
  await (await load()).main(args);
}

run().catch((err: unknown) => {
  process.stderr.write(`bench: ${(err as Error).message}\n`);
  process.exit(1);
});
