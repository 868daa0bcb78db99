/**
 * `npm run bench -- onebit [--model M] [--batch B] [--steps N] [--recipes r1,r2]`: one training step (forward,
 * backward, Adam) of a binary model under 1-bit FQT recipes vs the fp32 step of the same model on the active
 * backend (METHODS §3.6: the paper's speed-up is a CPU timing of forward + backward). JSON lines: median ms/step
 * per recipe, the ratio fp32 / recipe, and how many layer GEMMs ran on each path (b1, bitplane, fp32-dequant…).
 * Default model preact-resnet18-w16 on 1×28×28 (use --model preact-resnet18 or vgg16-prelu for the paper's sizes).
 */
import { backend } from '../src/backend/index.js';
import { grad } from '../src/autograd/graph.js';
import { createModel } from '../src/nn/models/index.js';
import { crossEntropy } from '../src/ops/index.js';
import { Adam } from '../src/optim/index.js';
import { applyRecipe, GEMM_NAMES, preset } from '../src/quant/index.js';
import { Rng } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { emit, option, round } from './util.js';

function stepTime(modelName: string, recipe: string, batch: number, steps: number): { ms: number; loss: number; paths: Record<string, number> } {
  const rng = new Rng(0);
  const model = createModel(modelName, { inChannels: 1, inputSize: 28, classes: 10 }, rng);
  const paths: Record<string, number> = {};
  if (recipe !== 'fp32') {
    const resolved = applyRecipe(model, preset(recipe), { seed: 1, sampleShape: [1, 28, 28] });
    for (const l of resolved.layers) for (const g of GEMM_NAMES) paths[l.gemms[g].path] = (paths[l.gemms[g].path] ?? 0) + 1;
  }
  const opt = new Adam(model.namedParameters(), { lr: 1e-3 });
  const xs = new Float32Array(batch * 28 * 28);
  rng.fillNormal(xs);
  const x = new Tensor(xs, [batch, 1, 28, 28]);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const step = (): number => {
    const loss = crossEntropy(model.forward(x), labels);
    opt.step(grad(loss));
    return loss.data[0];
  };
  step();
  const times: number[] = [];
  let loss = 0;
  for (let s = 0; s < steps; s++) {
    const t0 = process.hrtime.bigint();
    loss = step();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  return { ms: times[times.length >> 1], loss, paths };
}

export function main(args: string[]): void {
  const model = option(args, 'model', 'preact-resnet18-w16');
  const batch = Number(option(args, 'batch', '32'));
  const steps = Number(option(args, 'steps', '3'));
  const recipes = option(args, 'recipes', 'fqt1-agp-scq,fqt1-psq,bin-qat').split(',');
  const be = backend();
  const fp32 = stepTime(model, 'fp32', batch, steps);
  emit({ bench: 'step-1bit', impl: 'fqt', model, batch, input: [1, 28, 28], backend: be.name, description: be.description,
    recipe: 'fp32', msPerStep: round(fp32.ms), loss: round(fp32.loss) });
  for (const recipe of recipes) {
    const r = stepTime(model, recipe, batch, steps);
    emit({ bench: 'step-1bit', impl: 'fqt', model, batch, input: [1, 28, 28], backend: be.name, recipe, msPerStep: round(r.ms),
      fp32OverRecipe: round(fp32.ms / r.ms), gemmPaths: r.paths, loss: round(r.loss) });
  }
}
