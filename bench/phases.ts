/**
 * Per-phase breakdown of a training step (`npm run bench -- step --phases R`): the main thread is sampled by V8's CPU
 * profiler while the steps run, and every sample's self time is charged to the phase of the function it was in.
 * Native kernels run inside the JavaScript function that calls them and the worker threads wait for the main
 * thread, so the main thread's samples add up to the step's wall time.
 *
 * The integer GEMM and its epilogue (scales, zero-point corrections, bias, STE mask) are ONE native call per pass
 * in the fused conv layers (`src/quant/gemm/fused.ts`), so they are one phase here; `npm run bench -- qconv` times
 * those kernels alone. The fused binary layers (bconv*.ts) likewise: their bit kernels count as integer GEMM, their
 * fp32 passes (bin-qat, bconv-fp32.ts) as fp32 GEMM on dequantized operands (±1 rebuilt from the kept bits).
 */
import { Session } from 'node:inspector';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string }; children?: number[] }
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** Phase of one profiled function, from the file it lives in (compiled .js names mirror src/*.ts). */
function phaseOf(functionName: string, url: string): string {
  const file = url.slice(url.lastIndexOf('/') + 1);
  if (functionName === '(garbage collector)') return 'garbage collection';
  if (/^(int8-conv|int8|bit|bconv|bconv-backward)\.js$/.test(file)) return 'integer GEMM + epilogue (fused native calls)';
  if (/^(dequant-conv|bconv-fp32)\.js$/.test(file)) return 'fp32 GEMM on dequantized operands';
  if (/^(qtensor|params|uniform|sawb|householder|luq|binary|agp|quantize|rounding|transforms|operand|smp)\.js$/.test(file)) return 'quantize';
  if (/^fused\.js$/.test(file)) return 'layout (transposes to and from the fused kernels)';
  if (/^(conv|matmul)\.js$/.test(file) && url.includes('/ops/')) return 'fp32 GEMM (unquantized layers)';
  if (/^(norm|elementwise|binary-raw|pool|reduce|movement|loss)\.js$/.test(file)) return 'batch norm, activations, pooling, loss';
  if (/^(sgd|adam|optimizer)\.js$/.test(file)) return 'optimizer';
  if (/^(graph|saved|mode)\.js$/.test(file)) return 'autograd bookkeeping';
  return 'other';
}

/** Run `body` under the CPU profiler and return milliseconds per phase, largest first. */
export async function phaseBreakdown(body: () => void): Promise<Record<string, number>> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> => new Promise((resolve, reject) => {
    session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result)));
  });
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: 200 });
  await post('Profiler.start');
  body();
  const { profile } = await post('Profiler.stop') as { profile: Profile };
  session.disconnect();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const micros = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    // A native (N-API) function is a frame without a url — nameless, or named after some binding (V8 has been seen to
    // label every addon call 'stopSignals'): charge it to the JavaScript function that called it. V8's own pseudo
    // frames ('(garbage collector)', '(program)', ...) keep their names.
    let frame = byId.get(id)!.callFrame;
    for (let at = id; frame.url === '' && !frame.functionName.startsWith('(') && parent.has(at);) {
      at = parent.get(at)!;
      frame = byId.get(at)!.callFrame;
    }
    const phase = phaseOf(frame.functionName, frame.url);
    micros.set(phase, (micros.get(phase) ?? 0) + profile.timeDeltas[i]);
  });
  const sorted = [...micros].sort((a, b) => b[1] - a[1]);
  return Object.fromEntries(sorted.map(([phase, us]) => [phase, us / 1000]));
}
