/**
 * `fqt convert IN OUT`: a safetensors weights file between PyTorch's and fqt's conventions (train/torch-names.ts).
 *   --to fqt (default)  PyTorch state dict → fqt: names mapped (downsample → shortcut, linear → fc), F16 / BF16 / F64
 *                       converted to F32, num_batches_tracked skipped; the result loads with `fqt train --init`.
 *   --to torch          fqt weights (a file or a checkpoint / run directory) → torchvision-style names, F32, plus a
 *                       num_batches_tracked (int64 0) per BatchNorm, for PyTorch's strict load_state_dict.
 * With --model (and --dataset for the input geometry) the fqt-side tensors are checked against that model's state
 * dict: every name and shape, both ways, the first difference named.
 */
import { parseCommand, type FlagSpecs } from './args.js';
import { GEOMETRY } from './info.js';
import { createModel, modelNames } from '../nn/models/index.js';
import { Rng } from '../tensor/random.js';
import { FqtError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { loadWeights, saveWeights } from '../train/checkpoint.js';
import { readSafetensors, type AnyTensorLike, type TensorLike } from '../train/safetensors.js';
import { fromTorchNames, toTorchNames } from '../train/torch-names.js';
import { writeSafetensors } from '../train/safetensors.js';

export const CONVERT_FLAGS = {
  to: { type: 'string', help: 'target convention: fqt (from a PyTorch state dict) or torch (from fqt weights)', default: 'fqt', choices: ['fqt', 'torch'] as const },
  model: { type: 'string', help: 'check the fqt-side tensors against this model (names and shapes)', choices: modelNames() },
  dataset: { type: 'string', help: 'with --model: input geometry (channels, size, classes)', default: 'mnist', choices: Object.keys(GEOMETRY) },
  help: { type: 'bool', help: 'show this help', default: false },
} satisfies FlagSpecs;

export const CONVERT_ARGS = { names: ['IN', 'OUT'], what: 'an input and an output file (IN OUT)' } as const;

const SUMMARY = 'convert a safetensors weights file between PyTorch and fqt names and dtypes';

/** Every name and shape of `tensors` against the model's state dict; throws naming the first difference. */
function checkAgainstModel(tensors: Map<string, TensorLike>, model: string, dataset: string): void {
  const own = createModel(model as (typeof CONVERT_FLAGS.model.choices)[number], GEOMETRY[dataset], new Rng(0)).stateDict();
  for (const [name, t] of own) {
    const src = tensors.get(name);
    if (!src) throw new FqtError(`--model ${model}: its tensor '${name}' ${fmtShape(t.shape)} is not in the file`);
    if (fmtShape(src.shape) !== fmtShape(t.shape)) throw new FqtError(`--model ${model}: tensor '${name}' has shape ${fmtShape(src.shape)} in the file but the model expects ${fmtShape(t.shape)}`);
  }
  for (const name of tensors.keys()) if (!own.has(name)) throw new FqtError(`--model ${model}: the file's tensor '${name}' does not exist in the model`);
}

function dtypeCounts(file: string): string {
  const counts = new Map<string, number>();
  for (const e of readSafetensors(file).tensors.values()) counts.set(e.dtype, (counts.get(e.dtype) ?? 0) + 1);
  return [...counts].map(([d, n]) => `${n} ${d}`).join(', ');
}

export function convertCommand(argv: string[]): number {
  const f = parseCommand('convert', SUMMARY, CONVERT_FLAGS, argv, CONVERT_ARGS);
  if (!f) return 0;
  const [input, output] = f._;
  const weights: Map<string, TensorLike> = loadWeights(input);
  let result: Map<string, AnyTensorLike>;
  let renamed: number;
  if (f.to === 'fqt') {
    ({ tensors: result, renamed } = fromTorchNames(weights));
    if (f.model) checkAgainstModel(result as Map<string, TensorLike>, f.model, f.dataset);
    saveWeights(output, result as Map<string, TensorLike>);
  } else {
    if (f.model) checkAgainstModel(weights, f.model, f.dataset);
    ({ tensors: result, renamed } = toTorchNames(weights));
    writeSafetensors(output, result, { format: 'pt', producer: 'fqt' });
  }
  process.stdout.write(`wrote ${output}: ${result.size} tensors in ${f.to === 'fqt' ? "fqt's" : "PyTorch's"} names (${renamed} renamed) from ${input} (${dtypeCounts(input)})\n`);
  return 0;
}
