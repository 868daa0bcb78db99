/**
 * Recipe add-ons → trainer hooks: one typed entry per add-on key of RecipeAddons (the compiler checks that every
 * add-on has one), so the trainer runs them without knowing their names. An add-on with nothing to do in the
 * training loop (SMP runs inside the quantized GEMMs) returns null.
 */
import type { Module } from '../nn/module.js';
import type { ResolvedRecipe } from '../quant/apply.js';
import type { Recipe, RecipeAddons } from '../quant/recipe.js';
import { bnRectifyHook } from './bn-rectify.js';
import type { TrainHook } from './hooks.js';
import { fntHook } from './phase.js';

export interface AddonContext {
  model: Module;
  recipe: Recipe;
  resolved: ResolvedRecipe;
  epochs: number;
  /** The run's peak learning rate. */
  lr: number;
  log: (line: string) => void;
}

type AddonHooks = { [K in keyof Required<RecipeAddons>]: (spec: NonNullable<RecipeAddons[K]>, c: AddonContext) => TrainHook | null };

const ADDON_HOOKS: AddonHooks = {
  smp: () => null,
  fnt: (f, c) => fntHook(c.model, f, c.epochs, c.lr, c.recipe.label, c.log),
  bnRectify: (s, c) => bnRectifyHook(c.model, s, c.resolved, c.log),
};

/** The hooks of the recipe's add-ons, in the order of ADDON_HOOKS. */
export function recipeHooks(c: AddonContext): TrainHook[] {
  const addons = c.recipe.addons as Record<string, unknown>;
  return Object.entries(ADDON_HOOKS).flatMap(([key, make]) => {
    const spec = addons[key];
    if (spec === undefined) return [];
    const hook = (make as (s: unknown, c: AddonContext) => TrainHook | null)(spec, c);
    return hook ? [hook] : [];
  });
}
