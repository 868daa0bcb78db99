/**
 * The start of a data-parallel run as one byte string that rank 0 broadcasts: weights and buffers, optimizer
 * buffers (safetensors, as in checkpoints) and, in the safetensors metadata, the optimizer settings, the run state
 * (position, random streams, history, the epoch's sums) and the hooks' epoch state. Ranks > 0 load it, so every
 * rank continues from rank 0's checkpoint without reading the run directory (which may be on another machine).
 */
import { decodeSafetensors, encodeSafetensors, type TensorLike } from '../train/safetensors.js';
import type { Run } from '../train/run-setup.js';
import type { RunState } from '../train/run-state.js';
import { Tensor } from '../tensor/tensor.js';
import { FqtError } from '../tensor/errors.js';

const MODEL = 'model/', OPTIMIZER = 'optimizer/';

export function sendStart(run: Run, state: RunState): Uint8Array {
  const opt = run.optimizer.stateDict();
  const tensors: [string, TensorLike][] = [
    ...[...run.model.stateDict()].map(([k, t]): [string, TensorLike] => [MODEL + k, t]),
    ...[...opt.tensors].map(([k, v]): [string, TensorLike] => [OPTIMIZER + k, { shape: [v.length], data: v }]),
  ];
  const hooks = Object.fromEntries(run.hooks.flatMap((h) => (h.saveEpoch ? [[h.key, h.saveEpoch()]] : [])));
  const meta = { optimizer: JSON.stringify(opt.meta), state: JSON.stringify(state), hooks: JSON.stringify(hooks) };
  return Buffer.concat(encodeSafetensors(tensors, meta));
}

export function receiveStart(bytes: Uint8Array, run: Run, state: RunState): void {
  const content = decodeSafetensors(bytes, 'the start state broadcast by rank 0');
  const model = new Map<string, Tensor>(), optimizer = new Map<string, Float32Array>();
  for (const [name, e] of content.tensors) {
    if (!(e.data instanceof Float32Array)) throw new FqtError(`start state from rank 0: '${name}' is ${e.dtype}, expected F32`);
    if (name.startsWith(MODEL)) model.set(name.slice(MODEL.length), new Tensor(e.data, e.shape));
    else optimizer.set(name.slice(OPTIMIZER.length), e.data);
  }
  run.model.loadStateDict(model);
  run.optimizer.loadStateDict({ tensors: optimizer, meta: JSON.parse(content.metadata.optimizer) });
  const saved = JSON.parse(content.metadata.state) as RunState;
  Object.assign(state, saved, { config: state.config });
  run.dropoutRng.setState(saved.rng);
  run.quantRng.setState(saved.quantRng);
  const hooks = JSON.parse(content.metadata.hooks) as Record<string, unknown>;
  for (const h of run.hooks) if (hooks[h.key] !== undefined) h.loadEpoch?.(hooks[h.key]);
}
