/**
 * `npm run bench -- step [--steps N] [--batch B] [--no-torch]`: one ResNet-20 training step
 * (1×28×28 inputs, 10 classes, fp32 forward + backward + SGD with momentum) on the active backend:
 * median ms/step and peak RSS; then bench/torch_step.py runs the same model in PyTorch (fp32
 * channels_last and bf16 autocast) in the same run, and the ratios are printed.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backend } from '../src/backend/index.js';
import { grad } from '../src/autograd/graph.js';
import { createModel } from '../src/nn/models/index.js';
import { crossEntropy } from '../src/ops/index.js';
import { SGD } from '../src/optim/index.js';
import { Rng } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { emit, flag, option, round } from './util.js';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');

export function main(args: string[]): void {
  const steps = Number(option(args, 'steps', '5'));
  const batch = Number(option(args, 'batch', '128'));
  const rng = new Rng(0);
  const model = createModel('resnet20', { inChannels: 1, inputSize: 28, classes: 10 }, rng);
  const opt = new SGD(model.namedParameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const xs = new Float32Array(batch * 28 * 28);
  rng.fillNormal(xs);
  const x = new Tensor(xs, [batch, 1, 28, 28]);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);

  const step = (): number => {
    const loss = crossEntropy(model.forward(x), labels);
    opt.step(grad(loss));
    return loss.data[0];
  };
  step(); // warm-up (allocations, JIT)
  const times: number[] = [];
  let loss = 0;
  for (let s = 0; s < steps; s++) {
    const t0 = process.hrtime.bigint();
    loss = step();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const ms = times[times.length >> 1];
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  const be = backend();
  emit({ bench: 'step', impl: 'fqt', model: 'resnet20', batch, input: [1, 28, 28], backend: be.name,
    description: be.description, msPerStep: round(ms), peakRssMiB: round(rssMiB), loss: round(loss) });

  if (flag(args, 'no-torch')) return;
  const py = spawnSync('/usr/bin/python3', [path.join(benchDir, 'torch_step.py'), '--steps', String(steps), '--batch', String(batch)],
    { encoding: 'utf8', env: process.env });
  if (py.status !== 0) {
    emit({ bench: 'step', impl: 'torch', error: (py.stderr || py.error?.message || 'python failed').trim().split('\n').slice(-3).join(' | ') });
    return;
  }
  for (const line of py.stdout.trim().split('\n')) {
    const rec = JSON.parse(line) as { impl: string; msPerStep: number };
    emit({ ...rec, fqtOverTorch: round(ms / rec.msPerStep) });
  }
}
