/**
 * `npm run bench -- step [--model M] [--steps N] [--batch B] [--recipes fp32,qat8,…] [--rounds R] [--phases R|none] [--no-torch]
 *   [--no-interleave]`: one training
 * step (1×28×28 inputs, 10 classes, forward + backward + optimizer) on the active backend: median ms/step, peak
 * RSS and the number of layer GEMMs on each path, per recipe, with ratios to the fp32 step of the same model.
 * Each recipe runs in its own child process (`--recipe R`), because peak RSS is per process; with --rounds R every recipe
 * runs R times, the recipes interleaved round by round (so drifting background load hits them alike), and the median
 * over rounds is reported next to the per-round values. The child also reports
 * `savedForBackwardMiB`, the memory one forward pass keeps for the backward (deterministic, unlike peak RSS, which
 * depends on when the garbage collector runs). The optimizer is
 * SGD with momentum, or Adam for recipes whose preset trains with Adam (1-bit FQT, METHODS §3.5). For the
 * default model (resnet20) bench/torch_step.py then runs PyTorch (fp32 channels_last and bf16 autocast) in the
 * same run and the fqt/PyTorch ratios are printed. After the per-recipe children, one more child runs all the recipes
 * with their steps alternating (`--interleave`, `--no-interleave` skips it): its `step-interleaved` records give each
 * recipe's median ratio to the fp32 step timed next to it, the number to trust on a machine whose load drifts (the
 * ratio of medians from separate processes moves by ±10 % there). 1-bit FQT vs fp32 (METHODS §3.6):
 * `--model preact-resnet18-w16 --recipes fp32,bin-qat,fqt1-psq,fqt1-agp-scq`. Last, one more child profiles the step of
 * the first quantized recipe (or those of --phases) and prints where its time goes (bench/phases.ts).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { backend } from '../src/backend/index.js';
import { grad } from '../src/autograd/graph.js';
import { createModel, type ModelName } from '../src/nn/models/index.js';
import { crossEntropy } from '../src/ops/index.js';
import { Adam, SGD } from '../src/optim/index.js';
import { Rng } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import { applyRecipe, resolveRecipe } from '../src/quant/index.js';
import { emit, flag, option, round } from './util.js';
import { phaseBreakdown } from './phases.js';

const benchDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench');
const mainJs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), 'main.js');

interface StepRecord { msPerStep: number; peakRssMiB: number; savedForBackwardMiB?: number; recipe: string }

function runChild(model: string, recipe: string, steps: number, batch: number, phases = false): (StepRecord & Record<string, unknown>) | string {
  const child = spawnSync(process.execPath, ['--expose-gc', mainJs, 'step', '--model', model, '--recipe', recipe, '--steps', String(steps), '--batch', String(batch),
    ...(phases ? ['--phases'] : [])], { encoding: 'utf8', env: process.env });
  if (child.status !== 0) return (child.stderr || 'failed').trim().split('\n').slice(-2).join(' | ');
  return JSON.parse(child.stdout.trim().split('\n').pop()!) as StepRecord & Record<string, unknown>;
}

function quantile(v: number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}
const median = (v: number[]): number => quantile(v, 0.5);

/** The fp32 step and every recipe of --recipes, each in child processes, round by round; returns the fp32 ms/step. */
function recipesInChildren(args: string[], model: string, steps: number, batch: number): number {
  const recipes = option(args, 'recipes', 'fp32').split(',').filter((r) => r !== '');
  if (!recipes.includes('fp32')) recipes.unshift('fp32');
  const rounds = Math.max(1, Number(option(args, 'rounds', '1')));
  const runs = new Map<string, (StepRecord & Record<string, unknown>)[]>();
  for (let r = 0; r < rounds; r++) {
    for (const recipe of recipes) {
      const rec = runChild(model, recipe, steps, batch);
      if (typeof rec === 'string') {
        emit({ bench: 'step', impl: 'fqt', recipe, round: r, error: rec });
        continue;
      }
      runs.set(recipe, [...(runs.get(recipe) ?? []), rec]);
    }
  }
  const results = new Map<string, StepRecord>();
  for (const recipe of recipes) {
    const all = runs.get(recipe);
    if (!all) continue;
    const ms = median(all.map((x) => x.msPerStep)), rss = median(all.map((x) => x.peakRssMiB));
    const rec = { ...all[0], msPerStep: ms, peakRssMiB: rss, ...(rounds > 1 ? { rounds: all.map((x) => x.msPerStep) } : {}) };
    results.set(recipe, rec);
    const base = results.get('fp32');
    emit({
      ...rec, ...(base && recipe !== 'fp32' ? {
        overFp32: round(rec.msPerStep / base.msPerStep), rssOverFp32: round(rec.peakRssMiB / base.peakRssMiB),
        ...(rec.savedForBackwardMiB && base.savedForBackwardMiB ? { savedOverFp32: round(rec.savedForBackwardMiB / base.savedForBackwardMiB) } : {}),
      } : {}),
    });
  }
  if (!flag(args, 'no-interleave') && recipes.length > 1) interleavedInChild(recipes, model, Math.max(10, steps * rounds), batch);
  phasesInChildren(args, recipes, model, steps, batch);
  return results.get('fp32')?.msPerStep ?? NaN;
}

/** The same recipes once more, all in one child with their steps alternating (interleaved below): paired ratios. */
function interleavedInChild(recipes: string[], model: string, steps: number, batch: number): void {
  const child = spawnSync(process.execPath, [mainJs, 'step', '--model', model, '--interleave', recipes.join(','), '--steps', String(steps),
    '--batch', String(batch)], { encoding: 'utf8', env: process.env });
  if (child.status !== 0) {
    emit({ bench: 'step-interleaved', error: (child.stderr || 'failed').trim().split('\n').slice(-2).join(' | ') });
    return;
  }
  for (const line of child.stdout.trim().split('\n')) process.stdout.write(`${line}\n`);
}

/**
 * Where the time of a step goes (bench/phases.ts), in a separate child run so that profiling does not slow the timed
 * runs: for the recipes of --phases (default: the first quantized recipe of --recipes; `--phases none` skips it).
 */
function phasesInChildren(args: string[], recipes: string[], model: string, steps: number, batch: number): void {
  const chosen = option(args, 'phases', recipes.find((r) => r !== 'fp32') ?? 'none');
  if (chosen === 'none') return;
  for (const recipe of chosen.split(',').filter((r) => r !== '')) {
    const rec = runChild(model, recipe, steps, batch, true);
    emit(typeof rec === 'string' ? { bench: 'step-phases', recipe, error: rec } : rec);
  }
}

/** One recipe's training step on fixed data: the model, its optimizer and the step function. */
function buildStep(modelName: string, recipeName: string, batch: number) {
  const rng = new Rng(0);
  const model = createModel(modelName as ModelName, { inChannels: 1, inputSize: 28, classes: 10 }, rng);
  const recipe = resolveRecipe(recipeName);
  const resolved = applyRecipe(model, recipe, { seed: 1, sampleShape: [1, 28, 28] });
  const adam = recipe.training?.optimizer === 'adam';
  const opt = adam ? new Adam(model.namedParameters(), { lr: 1e-3 })
    : new SGD(model.namedParameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
  const xs = new Float32Array(batch * 28 * 28);
  rng.fillNormal(xs);
  const x = new Tensor(xs, [batch, 1, 28, 28]);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  const step = (): number => {
    const loss = crossEntropy(model.forward(x), labels);
    opt.step(grad(loss));
    return loss.data[0];
  };
  return { recipe, resolved, adam, step, forwardLoss: () => crossEntropy(model.forward(x), labels) };
}

const msOf = (fn: () => unknown): number => {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
};

/**
 * `--interleave fp32,qat8,…`: every recipe's model in this one process, their steps alternating (fp32 first in each
 * cycle, the others in rotating order), so each recipe's step is timed within a second of an fp32 step. Per recipe:
 * the median ms/step and the median over cycles of (its step / that cycle's fp32 step), a ratio that load drifting
 * over seconds to minutes (other tenants of a VM) does not move, unlike the ratio of medians from separate processes.
 */
function interleaved(args: string[], modelName: string, steps: number, batch: number): void {
  const recipes = option(args, 'interleave', 'fp32').split(',').filter((r) => r !== '' && r !== 'fp32');
  const runs = ['fp32', ...recipes].map((name) => ({ name, ...buildStep(modelName, name, batch), ms: [] as number[], ratio: [] as number[] }));
  for (const r of runs) r.step(); // warm-up (allocations, JIT)
  const [base, ...rest] = runs;
  for (let s = 0; s < steps; s++) {
    const fp32Ms = msOf(base.step);
    base.ms.push(fp32Ms);
    for (let i = 0; i < rest.length; i++) {
      const r = rest[(s + i) % rest.length];
      const ms = msOf(r.step);
      r.ms.push(ms);
      r.ratio.push(ms / fp32Ms);
    }
  }
  for (const r of runs) {
    emit({ bench: 'step-interleaved', impl: 'fqt', model: modelName, recipe: r.recipe.label, batch, steps, msPerStep: round(median(r.ms)),
      ...(r === base ? {} : { overFp32: round(median(r.ratio)), overFp32Quartiles: [round(quantile(r.ratio, 0.25)), round(quantile(r.ratio, 0.75))] }) });
  }
}

export async function main(args: string[]): Promise<void> {
  const steps = Number(option(args, 'steps', '5'));
  const batch = Number(option(args, 'batch', '128'));
  const modelName = option(args, 'model', 'resnet20');
  if (flag(args, 'interleave')) return interleaved(args, modelName, steps, batch);
  const recipeName = option(args, 'recipe', '');
  if (recipeName === '') {
    const ms = recipesInChildren(args, modelName, steps, batch);
    if (!flag(args, 'no-torch') && modelName === 'resnet20') torchSideBySide(steps, batch, ms);
    return;
  }
  const { recipe, resolved, adam, step, forwardLoss } = buildStep(modelName, recipeName, batch);
  step(); // warm-up (allocations, JIT)
  if (flag(args, 'phases')) {
    const ms = await phaseBreakdown(() => { for (let s = 0; s < steps; s++) step(); });
    const total = Object.values(ms).reduce((a, b) => a + b, 0);
    emit({ bench: 'step-phases', model: modelName, recipe: recipe.label, backend: backend().description, steps,
      msPerStep: round(total / steps), phases: Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, {
        msPerStep: round(v / steps), share: round(v / total, 2) }])) });
    return;
  }
  const savedMiB = savedForBackward(forwardLoss);
  const times: number[] = [];
  let loss = 0;
  for (let s = 0; s < steps; s++) times.push(msOf(() => { loss = step(); }));
  const ms = median(times);
  const rssMiB = process.resourceUsage().maxRSS / 1024;
  const be = backend();
  const gemmPaths: Record<string, number> = {};
  for (const layer of resolved.layers) for (const g of Object.values(layer.gemms)) gemmPaths[g.path] = (gemmPaths[g.path] ?? 0) + 1;
  emit({ bench: 'step', impl: 'fqt', model: modelName, recipe: recipe.label, optimizer: adam ? 'adam' : 'sgd', batch, input: [1, 28, 28],
    backend: be.name, description: be.description, msPerStep: round(ms), peakRssMiB: round(rssMiB),
    ...(savedMiB !== null ? { savedForBackwardMiB: round(savedMiB) } : {}), loss: round(loss), gemmPaths });
}

/**
 * Memory the forward pass leaves alive for the backward (the tape's saved tensors, codes and masks): array-buffer
 * bytes after a forward minus before, each after a full GC. Unlike peak RSS it does not depend on when the
 * garbage collector runs. Null without --expose-gc (the parent passes it).
 */
function savedForBackward(forward: () => Tensor): number | null {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return null;
  // Free unreachable array buffers inside gc() itself (by default a background thread frees them later).
  v8.setFlagsFromString('--no-concurrent-array-buffer-sweeping');
  gc();
  const before = process.memoryUsage().arrayBuffers;
  const loss = forward();
  gc();
  const saved = process.memoryUsage().arrayBuffers - before;
  v8.setFlagsFromString('--concurrent-array-buffer-sweeping');
  void loss.data; // the loss (and through it the tape) is alive until here
  return saved / 2 ** 20;
}

function torchSideBySide(steps: number, batch: number, ms: number): void {
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
