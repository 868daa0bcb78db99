/** Optimizers and learning-rate schedules. */
import { check, FqtError } from '../tensor/errors.js';
import { Adam, AdamW, type AdamOptions } from './adam.js';
import type { Optimizer, ParamsInput } from './optimizer.js';
import { SGD } from './sgd.js';
import type { RECIPE_OPTIMIZERS } from '../quant/recipe-training.js';

export * from './optimizer.js';
export * from './sgd.js';
export * from './adam.js';
export * from './schedule.js';

export const OPTIMIZER_NAMES = ['sgd', 'adam', 'adamw'] as const;
export type OptimizerName = (typeof OPTIMIZER_NAMES)[number];
// Recipes name optimizers in their training defaults (quant/ sits below optim/): the two lists must agree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const RECIPE_OPTIMIZERS_AGREE: Same<OptimizerName, (typeof RECIPE_OPTIMIZERS)[number]> = true;
void RECIPE_OPTIMIZERS_AGREE;

/** Options of every optimizer; each optimizer rejects the keys it does not take. */
export interface OptimizerOptions extends AdamOptions {
  momentum?: number;
  nesterov?: boolean;
}

/** Build an optimizer by name ('sgd' needs opts.lr; Adam/AdamW default to lr 1e-3); `'sdg'` does not compile. */
export function createOptimizer(name: OptimizerName, params: ParamsInput, opts: OptimizerOptions = {}): Optimizer {
  switch (name) {
    case 'sgd':
      check(opts.lr !== undefined, 'sgd: option lr is required');
      return new SGD(params, { ...opts, lr: opts.lr });
    case 'adam':
      return new Adam(params, opts);
    case 'adamw':
      return new AdamW(params, opts);
    default:
      name satisfies never;
      throw new FqtError(`unknown optimizer '${String(name)}' (valid: ${OPTIMIZER_NAMES.join(', ')})`);
  }
}
export * from './clip.js';
