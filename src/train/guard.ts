/**
 * Divergence guard (issue 18): every step, the loss, every gradient and (after the update) every weight is checked
 * for NaN / ±∞ with the firstNonFinite kernel (native, with a reference twin), in the model's parameter order, so
 * the message names the first layer whose gradient went non-finite. `stop` (default) ends training with that
 * message, before anything non-finite reaches a checkpoint; `skip` drops a step whose loss or gradient is non-finite
 * (no update) and counts it. Weights that become non-finite after a finite update always stop: the update cannot
 * be undone.
 */
import { backend } from '../backend/index.js';
import { grad, type GradStore } from '../autograd/graph.js';
import { FqtError } from '../tensor/errors.js';
import type { Tensor } from '../tensor/tensor.js';
import { hasCheckpoint } from './checkpoint.js';

export const ON_NONFINITE = ['stop', 'skip'] as const;
export type OnNonFinite = (typeof ON_NONFINITE)[number];

/** Where a step is, for messages. */
export interface StepPlace {
  epoch: number; // 0-based
  batch: number; // 0-based
  lr: number;
  /** What else the loss holds, for the message (e.g. ' (extra loss terms: bn-rectify 0.3)'). */
  note?: string;
  /** The run's checkpoint directory (named as untouched when it holds a checkpoint). */
  checkpoint?: string | null;
}

const probe = new Float64Array(1);

/** Index of the first non-finite element of `x`, or −1. */
export function firstNonFinite(x: Float32Array): number {
  if (x.length === 0) return -1;
  backend().firstNonFinite(x, probe);
  return probe[0];
}

/** "NaN at index 3 of 'features.0.weight'", or null when every tensor is finite (checked in order). */
export function describeNonFinite(tensors: Iterable<[string, Float32Array]>): string | null {
  for (const [name, data] of tensors) {
    const i = firstNonFinite(data);
    if (i >= 0) return `'${name}' (${data[i]} at index ${i})`;
  }
  return null;
}

export class DivergenceGuard {
  /** Steps dropped by `skip`. */
  skipped = 0;

  constructor(private readonly params: readonly [string, Tensor][], readonly mode: OnNonFinite = 'stop') {}

  /**
   * The gradients of a step whose loss is `loss` (task loss) / `total` (what is differentiated), or null when the
   * step is to be skipped; throws when training must stop.
   */
  gradients(loss: number, total: Tensor, at: StepPlace): GradStore | null {
    return this.checked(loss, total.item(), () => grad(total), at);
  }

  /**
   * The same for gradients the caller computed (a GradStore, or a function computed only when the loss is finite),
   * e.g. summed over data-parallel processes (train/parallel.ts).
   */
  checked(loss: number, totalValue: number, gradients: GradStore | (() => GradStore), at: StepPlace): GradStore | null {
    if (!Number.isFinite(loss) || !Number.isFinite(totalValue)) {
      return this.reject(`loss is ${Number.isFinite(loss) ? totalValue : loss}${at.note ?? ''}`, at);
    }
    const grads = typeof gradients === 'function' ? gradients() : gradients;
    const bad = describeNonFinite(this.params.flatMap(([name, p]): [string, Float32Array][] => {
      const g = grads.get(p);
      return g ? [[name, g.data]] : [];
    }));
    return bad === null ? grads : this.reject(`the gradient of ${bad} is non-finite (loss ${loss})`, at);
  }

  /** After the update: every weight must be finite (always stops otherwise). */
  checkWeights(at: StepPlace): void {
    const bad = describeNonFinite(this.params.map(([name, p]) => [name, p.data]));
    if (bad !== null) throw diverged(`weight ${bad} became non-finite in the update`, at);
  }

  private reject(what: string, at: StepPlace): null {
    if (this.mode === 'stop') throw diverged(what, at);
    this.skipped++;
    return null;
  }
}

function diverged(what: string, at: StepPlace): FqtError {
  const kept = at.checkpoint && hasCheckpoint(at.checkpoint) ? `; the last good checkpoint in ${at.checkpoint} is untouched` : '';
  return new FqtError(`training diverged: ${what} at epoch ${at.epoch + 1}, batch ${at.batch + 1} (lr ${at.lr.toPrecision(3)})${kept}`);
}
