/**
 * Training phases from recipe add-ons, as a trainer hook. Only FNT (METHODS §2.5, quant/addons/fnt.ts) exists:
 * from its first epoch on, every GEMM runs in fp32 (the recipe is removed from the model) at a constant learning
 * rate. The phase of an epoch depends only on the epoch number and the config, so a resumed run switches at the
 * same epoch as an uninterrupted one.
 */
import { fntLr, fntStartEpoch, type FntAddon } from '../quant/addons/index.js';
import { removeRecipe, type ModelLike } from '../quant/apply.js';
import { FqtError } from '../tensor/errors.js';
import type { TrainHook } from './hooks.js';

export interface PhasePlan {
  /** 0-based first FNT epoch (≥ epochs: never). */
  fntStart: number;
  fntLr: number;
}

/** The run's FNT plan; rejects an FNT phase that leaves no quantized epoch. */
export function planFnt(f: FntAddon, epochs: number, baseLr: number, label: string, log: (line: string) => void): PhasePlan {
  const plan = { fntStart: fntStartEpoch(f, epochs), fntLr: fntLr(f, baseLr) };
  if (plan.fntStart === 0) {
    const key = f.fromEpoch !== undefined ? 'fromEpoch' : 'lastEpochs';
    throw new FqtError(`recipe.addons.fnt.${key}: ${f[key]} makes all ${epochs} epoch(s) full precision; ` +
      `train more epochs or drop the fnt add-on (recipe ${label})`);
  }
  if (plan.fntStart >= epochs) log(`fqt: recipe ${label}: FNT starts at epoch ${plan.fntStart + 1}, after the last epoch (${epochs}); no full-precision phase`);
  return plan;
}

/** Phases 'quant' then 'fnt'; entering 'fnt' removes the recipe from the model (idempotent). */
export function fntHook(model: ModelLike, f: FntAddon, epochs: number, baseLr: number, label: string, log: (line: string) => void): TrainHook {
  const plan = planFnt(f, epochs, baseLr, label, log);
  return {
    key: 'fnt',
    onEpochStart: (epoch) => {
      if (epoch < plan.fntStart) return { phase: 'quant', quantized: true };
      removeRecipe(model);
      return {
        phase: 'fnt', lr: plan.fntLr, quantized: false,
        message: `fqt: epoch ${epoch + 1}: FNT phase, all GEMMs fp32 at constant lr ${plan.fntLr} (recipe ${label} add-on)`,
      };
    },
  };
}
