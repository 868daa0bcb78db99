/**
 * `fqt train --init FILE`: start from weights trained elsewhere (fp32, or a binary-forward QAT recipe such as
 * bin-qat), as 1-bit FQT fine-tuning does (METHODS §3.1, §3.8). Every model tensor must be in the file with
 * its shape, except:
 *   - the classifier head (the last GEMM layer's weight and bias) when its class count differs: it keeps its
 *     fresh random init (transfer to a data set with other classes);
 *   - recipe-owned output scales a_c ('*.out_scale', METHODS §3.2) missing from an fp32 file: they keep init 1;
 *     output scales in the file that the model does not have (binary weights loaded for an fp32 recipe) are
 *     ignored.
 * Anything else (a missing tensor, a shape mismatch, an unknown tensor) is an FqtError naming the tensor.
 * A PyTorch state dict loads too: F16 / BF16 / F64 tensors are converted to float32, num_batches_tracked is skipped,
 * and PyTorch names that the model lacks are renamed to fqt's (train/torch-names.ts: downsample → shortcut, …).
 */
import type { Module } from '../nn/module.js';
import { check, FqtError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { isGemmLayer, OUTPUT_SCALE_PARAM } from '../quant/apply.js';
import { loadWeights } from './checkpoint.js';
import { describeNonFinite } from './guard.js';
import { fromTorchNames } from './torch-names.js';

export interface InitReport {
  loaded: number;
  /** Head tensors that kept their random init (class count differs). */
  headReplaced: string[];
  /** Output scales that kept their init (absent from the file). */
  defaulted: string[];
  /** Output scales in the file the model does not have. */
  ignored: string[];
  /** PyTorch names renamed to fqt's (0 for an fqt file). */
  renamed: number;
}

const isScale = (name: string): boolean => name === OUTPUT_SCALE_PARAM || name.endsWith(`.${OUTPUT_SCALE_PARAM}`);

/** The state-dict prefix of the model's last GEMM layer (its classifier head), or null. */
export function headPrefix(model: Module): string | null {
  const layers = model.namedModules().filter(([, m]) => isGemmLayer(m));
  return layers.length ? layers[layers.length - 1][0] : null;
}

export function initFromWeights(model: Module, file: string): InitReport {
  const own = model.stateDict();
  const { tensors: weights, renamed } = fromTorchNames(loadWeights(file), new Set(own.keys()));
  // NaN / ±∞ initial weights would train on silently until a checkpoint refused them (issue 18).
  const bad = describeNonFinite([...weights].map(([name, t]) => [name, t.data]));
  check(bad === null, () => `--init ${file}: tensor ${bad} is non-finite; refusing to start from it`);
  const head = headPrefix(model);
  const isHead = (name: string): boolean => head !== null && (name === `${head}.weight` || name === `${head}.bias`);
  const report: InitReport = { loaded: 0, headReplaced: [], defaulted: [], ignored: [], renamed };
  const copies: [Float32Array, Float32Array][] = [];
  for (const [name, t] of own) {
    const src = weights.get(name);
    if (!src) {
      if (isScale(name)) { report.defaulted.push(name); continue; }
      throw new FqtError(`--init ${file}: the model's tensor '${name}' ${fmtShape(t.shape)} is not in the file (is it a checkpoint of the same --model?)`);
    }
    const same = src.shape.length === t.shape.length && src.shape.every((d, i) => d === t.shape[i]);
    if (!same) {
      const classesOnly = isHead(name) && src.shape.length === t.shape.length && src.shape.slice(1).every((d, i) => d === t.shape[i + 1]);
      if (classesOnly) { report.headReplaced.push(name); continue; }
      throw new FqtError(`--init ${file}: tensor '${name}' has shape ${fmtShape(src.shape)} in the file but the model expects ${fmtShape(t.shape)}`);
    }
    copies.push([t.data, src.data]);
  }
  for (const name of weights.keys()) {
    if (own.has(name)) continue;
    if (isScale(name)) { report.ignored.push(name); continue; }
    throw new FqtError(`--init ${file}: the file's tensor '${name}' does not exist in the model (is it a checkpoint of the same --model?)`);
  }
  for (const [dst, src] of copies) dst.set(src);
  report.loaded = copies.length;
  return report;
}
