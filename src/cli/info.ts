/** `fqt info`: version, backend (and why native is not active), threads. */
import { backend, backendNotice } from '../backend/index.js';
import { nativeInfo } from '../backend/native.js';
import { parseCommand, type FlagSpecs } from './args.js';
import { createModel, modelNames, type ModelSpec } from '../nn/models/index.js';
import { DEFAULT_CONTEXT, TEXT_VOCAB } from '../data/text.js';
import { applyRecipe, formatResolved, resolveRecipe } from '../quant/index.js';
import { Rng } from '../tensor/random.js';
import { check } from '../tensor/errors.js';
import { environment, packageVersion } from '../train/environment.js';

/** Input geometry of each data set (so `fqt info` can resolve conv paths without loading data). */
export const GEOMETRY: Record<string, ModelSpec> = {
  mnist: { inChannels: 1, inputSize: 28, classes: 10 },
  'fashion-mnist': { inChannels: 1, inputSize: 28, classes: 10 },
  cifar10: { inChannels: 3, inputSize: 32, classes: 10 },
  cifar100: { inChannels: 3, inputSize: 32, classes: 100 },
  fortunes: { inChannels: 1, inputSize: 1, inputWidth: DEFAULT_CONTEXT + 1, classes: TEXT_VOCAB },
};

export const INFO_FLAGS = {
  model: { type: 'string', help: 'with --recipe: show which GEMM path (int8, int8-blocked, b1, bitplane, fp32-dequant, fp32) each layer runs', choices: modelNames() },
  recipe: { type: 'string', help: 'quantization recipe: a preset or a JSON file' },
  dataset: { type: 'string', help: 'input geometry for --model', default: 'mnist', choices: Object.keys(GEOMETRY) },
  help: { type: 'bool', help: 'show this help', default: false },
} satisfies FlagSpecs;

export function infoCommand(argv: string[]): number {
  const f = parseCommand('info', 'show the version, backend and threads', INFO_FLAGS, argv);
  if (!f) return 0;
  const notice = backendNotice();
  const b = backend();
  const lines = [
    `fqt ${packageVersion()} (node ${process.version})${environment().commit ? `, commit ${environment().commit}` : ''}`,
    `backend: ${b.name} — ${b.description}`,
  ];
  if (notice) lines.push(`note: ${notice.replace(/^fqt: /, '')}`);
  const native = b.name === 'ref' ? null : nativeInfo();
  if (native) {
    lines.push(`ISA tiers: ${native.tiers.join(', ')} (active: ${native.active}; FQT_ISA forces one)`);
    lines.push(`threads: ${native.threads} (FQT_THREADS; default: all cores)`);
  } else {
    lines.push('threads: 1 (the reference backend is single-threaded)');
  }
  if (f.model || f.recipe) {
    check(f.model && f.recipe, '--model and --recipe go together');
    const spec = GEOMETRY[f.dataset];
    const model = createModel(f.model, spec, new Rng(0));
    const resolved = applyRecipe(model, resolveRecipe(f.recipe), { seed: 0, sampleShape: [spec.inChannels, spec.inputSize, spec.inputWidth ?? spec.inputSize] });
    lines.push('', formatResolved(resolved));
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
