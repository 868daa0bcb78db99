/** Optimizers and learning-rate schedules. */
import { check, FqtError } from '../tensor/errors.js';
import { Adam, AdamW, type AdamOptions } from './adam.js';
import type { Optimizer, ParamsInput } from './optimizer.js';
import { SGD } from './sgd.js';

export * from './optimizer.js';
export * from './sgd.js';
export * from './adam.js';
export * from './schedule.js';

export const OPTIMIZER_NAMES = ['sgd', 'adam', 'adamw'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];

/** Options of every optimizer; each optimizer rejects the keys it does not take. */
export interface OptimizerOptions extends AdamOptions {
  momentum?: number;
  nesterov?: boolean;
}

/** Build an optimizer by name ('sgd' needs opts.lr; Adam/AdamW default to lr 1e-3). */
export function createOptimizer(name: string, params: ParamsInput, opts: OptimizerOptions = {}): Optimizer {
  switch (name as OptimizerName) {
    case 'sgd':
      check(opts.lr !== undefined, 'sgd: option lr is required');
      return new SGD(params, { ...opts, lr: opts.lr });
    case 'adam':
      return new Adam(params, opts);
    case 'adamw':
      return new AdamW(params, opts);
    default:
      throw new FqtError(`unknown optimizer '${name}' (valid: ${OPTIMIZER_NAMES.join(', ')})`);
  }
}
