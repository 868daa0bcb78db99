/**
 * `fqt sample --run DIR`: generate text with the language model of a training run (gpt-tiny on a text corpus). The
 * model is rebuilt from run.json (model, data set, recipe: a quantized run samples through its forward quantizers),
 * the newest checkpoint's weights are loaded, and tokens are drawn one at a time from softmax(logits/temperature)
 * with the counter RNG (--seed), reading at most the model's context of previous tokens.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCommand, type FlagSpecs } from './args.js';
import { GEOMETRY } from './info.js';
import { createModel, isModelName } from '../nn/models/index.js';
import { GPT } from '../nn/models/gpt.js';
import { applyRecipe } from '../quant/apply.js';
import { parseRecipe } from '../quant/recipe.js';
import { noGrad } from '../autograd/mode.js';
import { encodeText, idChar } from '../data/text.js';
import { Rng } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { FqtError } from '../tensor/errors.js';
import { initFromWeights } from '../train/init-weights.js';

export const SAMPLE_FLAGS = {
  run: { type: 'string', help: 'run directory of a language-model training run (run.json, checkpoints/)' },
  prompt: { type: 'string', help: 'text to continue (default: a newline)', default: '\n' },
  length: { type: 'int', help: 'characters to generate', default: 400, min: 1 },
  temperature: { type: 'number', help: 'sampling temperature (0 = always the most likely character)', default: 0.8, min: 0 },
  seed: { type: 'int', help: 'random seed of the sampling', default: 1, min: 0 },
  help: { type: 'bool', help: 'show this help', default: false },
} satisfies FlagSpecs;

const SUMMARY = 'generate text from a language-model checkpoint (gpt-tiny)';

interface RunJson { config?: { model?: string; dataset?: string }; recipeData?: unknown }

function loadRunModel(dir: string): GPT {
  let run: RunJson;
  try {
    run = JSON.parse(readFileSync(path.join(dir, 'run.json'), 'utf8')) as RunJson;
  } catch (err) {
    throw new FqtError(`--run: cannot read ${path.join(dir, 'run.json')} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const { model, dataset } = run.config ?? {};
  if (!model || !isModelName(model) || !dataset || !GEOMETRY[dataset]) {
    throw new FqtError(`--run: ${dir} is not a run of a built-in model on a built-in data set (model ${model}, data set ${dataset})`);
  }
  const m = createModel(model, GEOMETRY[dataset], new Rng(0));
  if (!(m instanceof GPT)) throw new FqtError(`--run: the model '${model}' is not a language model (use a gpt-tiny run)`);
  if (run.recipeData) applyRecipe(m, parseRecipe(run.recipeData, { path: 'run.json recipeData' }));
  initFromWeights(m, path.join(dir, 'checkpoints'));
  return m;
}

/** Index drawn from softmax(logits/temperature) with the uniform u (argmax at temperature 0). */
function draw(logits: Float32Array, temperature: number, u: number): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  if (temperature === 0) return best;
  const p = Array.from(logits, (v) => Math.exp((v - logits[best]) / temperature));
  let acc = 0, total = p.reduce((a, b) => a + b, 0);
  for (let i = 0; i < p.length; i++) if ((acc += p[i] / total) > u) return i;
  return p.length - 1;
}

/** The prompt followed by `length` generated characters. */
export function sampleText(m: GPT, prompt: string, length: number, temperature: number, seed: number): string {
  const ids = [...encodeText(Buffer.from(prompt, 'latin1'))];
  if (ids.length === 0) ids.push(0);
  const rng = new Rng(seed);
  m.eval();
  noGrad(() => {
    for (let n = 0; n < length; n++) {
      const ctx = ids.slice(-m.context);
      const logits = m.logits(new Tensor(Float32Array.from(ctx), [1, ctx.length]));
      const vocab = logits.shape[1];
      ids.push(draw(logits.data.subarray((ctx.length - 1) * vocab), temperature, rng.int(2 ** 24) / 2 ** 24));
    }
  });
  return ids.map(idChar).join('');
}

export function sampleCommand(argv: string[]): number {
  const f = parseCommand('sample', SUMMARY, SAMPLE_FLAGS, argv);
  if (!f) return 0;
  if (!f.run) throw new FqtError("--run is required (the run directory of a gpt-tiny training run; see 'fqt sample --help')");
  process.stdout.write(`${sampleText(loadRunModel(f.run), f.prompt, f.length, f.temperature, f.seed)}\n`);
  return 0;
}
