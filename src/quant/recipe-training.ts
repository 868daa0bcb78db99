/**
 * Training defaults a recipe carries as data (`recipe.training`), e.g. the 1-bit presets train with Adam at
 * lr 1e-3 (METHODS §3.5, §3.8). They are defaults only: an explicit CLI flag or API option wins. A recipe that
 * `extends` a preset inherits them key by key; `"training": {"lr": 0.01}` overrides one key and keeps the rest.
 * quant/ sits below optim/, so the optimizer names are listed here and optim/index.ts checks at compile time
 * that its own list is the same.
 */
import { checkKeys, expectObject, expectOneOf, fail, show } from './validate.js';

export const RECIPE_OPTIMIZERS = ['sgd', 'adam', 'adamw'] as const;
export const RECIPE_SCHEDULES = ['constant', 'cosine', 'step'] as const;

export interface RecipeTraining {
  optimizer?: (typeof RECIPE_OPTIMIZERS)[number];
  /** Peak learning rate. */
  lr?: number;
  weightDecay?: number;
  schedule?: (typeof RECIPE_SCHEDULES)[number];
  /** Linear warm-up length in epochs. */
  warmupEpochs?: number;
}

const TRAINING_KEYS = ['optimizer', 'lr', 'weightDecay', 'schedule', 'warmupEpochs'] as const;

function finite(v: unknown, path: string, what: string, ok: (x: number) => boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(path, `must be ${what}, got ${show(v)}`);
  return v;
}

/** Validate `recipe.training` over the inherited `base` (absent keys keep the base's values). */
export function parseTraining(raw: unknown, path: string, base: RecipeTraining = {}): RecipeTraining {
  const out: RecipeTraining = { ...base };
  if (raw === undefined) return out;
  const o = expectObject(raw, path);
  checkKeys(o, TRAINING_KEYS, path);
  if (o.optimizer !== undefined) out.optimizer = expectOneOf(o.optimizer, `${path}.optimizer`, RECIPE_OPTIMIZERS);
  if (o.lr !== undefined) out.lr = finite(o.lr, `${path}.lr`, 'a positive number', (x) => x > 0);
  if (o.weightDecay !== undefined) out.weightDecay = finite(o.weightDecay, `${path}.weightDecay`, 'a number ≥ 0', (x) => x >= 0);
  if (o.schedule !== undefined) out.schedule = expectOneOf(o.schedule, `${path}.schedule`, RECIPE_SCHEDULES);
  if (o.warmupEpochs !== undefined) out.warmupEpochs = finite(o.warmupEpochs, `${path}.warmupEpochs`, 'a number ≥ 0', (x) => x >= 0);
  return out;
}
