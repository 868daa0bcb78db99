/**
 * PyTorch ↔ fqt state-dict names for the built-in models (`fqt convert`, `fqt train --init`). fqt's models already
 * name their modules as PyTorch does (conv1, bn1, layer1.0.conv1, fc, features.3, classifier.5), and BatchNorm keeps
 * weight / bias / running_mean / running_var, so most names are equal. The differences, one rename per path segment:
 *   torch `downsample`  ↔ fqt `shortcut`    ResNet 1×1 conv + BN shortcut ("option B"; torchvision's BasicBlock)
 *   torch `linear`      → fqt `fc`          ResNet head of the common CIFAR ResNet code (first segment; import only:
 *                                            exports keep torchvision's `fc`)
 *   torch `…num_batches_tracked` (int64)     BatchNorm's step counter: skipped on import (fqt's BN has a fixed
 *                                            momentum and no counter); written as 0 on export so PyTorch's strict
 *                                            load_state_dict accepts the file.
 * Parameter-free "option A" shortcuts (zero padding) have no fqt counterpart: such a file lacks the shortcut
 * tensors and --init names the first missing one.
 */
import { isIgnoredBuffer, type AnyTensorLike } from './safetensors.js';

interface SegmentRename {
  torch: string;
  fqt: string;
  /** Only as the first path segment. */
  first?: boolean;
  /** Only PyTorch → fqt (the export convention is torchvision's). */
  importOnly?: boolean;
}

const RENAMES: readonly SegmentRename[] = [
  { torch: 'downsample', fqt: 'shortcut' },
  { torch: 'linear', fqt: 'fc', first: true, importOnly: true },
];

function rename(name: string, from: 'torch' | 'fqt'): string {
  const to = from === 'torch' ? 'fqt' : 'torch';
  const rule = (seg: string, i: number) => RENAMES.find((r) => r[from] === seg && (!r.first || i === 0) && (!r.importOnly || from === 'torch'));
  return name.split('.').map((seg, i) => rule(seg, i)?.[to] ?? seg).join('.');
}

/** A PyTorch name as fqt names it (renames above; names without a counterpart come back unchanged). */
export function fqtName(torchName: string): string {
  return rename(torchName, 'torch');
}

/** An fqt name as PyTorch (torchvision-style) names it. */
export function torchName(fqtName: string): string {
  return rename(fqtName, 'fqt');
}

export interface Renamed<T> {
  tensors: Map<string, T>;
  /** How many names changed. */
  renamed: number;
}

/**
 * File tensors under fqt's names. With `target` (the model's names) a name is renamed only when the model lacks it
 * and has its fqt form, so a file already in fqt's names passes unchanged.
 */
export function fromTorchNames<T>(tensors: Map<string, T>, target?: ReadonlySet<string>): Renamed<T> {
  const out = new Map<string, T>();
  let renamed = 0;
  for (const [name, t] of tensors) {
    if (isIgnoredBuffer(name)) continue;
    const mapped = fqtName(name);
    const use = mapped !== name && (!target || (!target.has(name) && target.has(mapped))) ? mapped : name;
    if (use !== name) renamed++;
    out.set(use, t);
  }
  return { tensors: out, renamed };
}

/** fqt tensors under PyTorch's names, with a num_batches_tracked (int64 0) per BatchNorm (a `.running_var`). */
export function toTorchNames(tensors: Map<string, AnyTensorLike>): Renamed<AnyTensorLike> {
  const out = new Map<string, AnyTensorLike>();
  let renamed = 0;
  for (const [name, t] of tensors) {
    const mapped = torchName(name);
    if (mapped !== name) renamed++;
    out.set(mapped, t);
    if (mapped.endsWith('.running_var')) out.set(`${mapped.slice(0, -'running_var'.length)}num_batches_tracked`, { shape: [], data: new BigInt64Array(1) });
  }
  return { tensors: out, renamed };
}
