/**
 * Training phases from recipe add-ons. Only FNT (METHODS §2.5, quant/addons/fnt.ts) exists: from its first
 * epoch on, every GEMM runs in fp32 (the recipe is removed from the model) at a constant learning rate.
 * The phase of an epoch depends only on the epoch number and the config, so a resumed run switches at the
 * same epoch as an uninterrupted one.
 */
import { fntLr, fntStartEpoch } from '../quant/addons/index.js';
import { removeRecipe, type ModelLike } from '../quant/apply.js';
import type { Recipe } from '../quant/recipe.js';
import { FqtError } from '../tensor/errors.js';
import type { TrainConfig } from './config.js';

export type Phase = 'quant' | 'fnt';

export interface PhasePlan {
  /** 0-based first FNT epoch (≥ epochs: never). */
  fntStart: number;
  fntLr: number;
}

/** The run's phase plan (null without FNT); rejects an FNT phase that leaves no quantized epoch. */
export function planPhases(recipe: Recipe | null, config: TrainConfig, log: (line: string) => void): PhasePlan | null {
  const f = recipe?.addons.fnt;
  if (!f) return null;
  const plan = { fntStart: fntStartEpoch(f, config.epochs), fntLr: fntLr(f, config.lr) };
  if (plan.fntStart === 0) {
    const key = f.fromEpoch !== undefined ? 'fromEpoch' : 'lastEpochs';
    throw new FqtError(`recipe.addons.fnt.${key}: ${f[key]} makes all ${config.epochs} epoch(s) full precision; ` +
      `train more epochs or drop the fnt add-on (recipe ${recipe!.label})`);
  }
  if (plan.fntStart >= config.epochs) log(`fqt: recipe ${recipe!.label}: FNT starts at epoch ${plan.fntStart + 1}, after the last epoch (${config.epochs}); no full-precision phase`);
  return plan;
}

export function phaseAt(plan: PhasePlan | null, epoch: number): Phase {
  return plan !== null && epoch >= plan.fntStart ? 'fnt' : 'quant';
}

/** Enter the phase of `epoch` (idempotent): FNT removes the recipe from the model. Returns true on a switch. */
export function enterPhase(plan: PhasePlan | null, epoch: number, current: Phase, model: ModelLike): boolean {
  if (phaseAt(plan, epoch) === current) return false;
  if (phaseAt(plan, epoch) === 'fnt') removeRecipe(model);
  return true;
}
