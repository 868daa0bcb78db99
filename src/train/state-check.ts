/**
 * Validation of the run state a checkpoint carries (state.json "state", written by the trainer) before a resume
 * trusts it (issue 18): types, ranges and the relations between the fields, each error naming the field. A state
 * that fails is skipped for the previous checkpoint (train/checkpoint.ts). Also the resume compatibility check:
 * the keys that must not change, and the recipe compared by its contents, not by the file path that named it.
 */
import path from 'node:path';
import { check, FqtError } from '../tensor/errors.js';
import { RESUME_KEYS, type RunConfig } from './config.js';

/** What the state of the run being resumed must be consistent with. */
export interface RunShape {
  stepsPerEpoch: number;
  batchSize: number;
  trainSamples: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (v === undefined ? 'missing' : JSON.stringify(v) ?? String(v));

/** Throws naming `state.<field>` unless the state is a well-formed resume point of a run of this shape. */
export function validateRunState(state: Record<string, unknown>, ckpt: string, shape: RunShape): void {
  const where = path.join(ckpt, 'state.json');
  const bad = (field: string, rule: string, v: unknown): never => {
    throw new FqtError(`${where}: state.${field} must be ${rule}, got ${show(v)}`);
  };
  const int = (field: string, v: unknown, lo: number, hi: number): number =>
    (Number.isInteger(v) && (v as number) >= lo && (v as number) <= hi ? (v as number) : bad(field, `an integer in [${lo}, ${hi}]`, v));
  const num = (field: string, v: unknown, lo = 0): number =>
    (typeof v === 'number' && Number.isFinite(v) && v >= lo ? v : bad(field, `a finite number ≥ ${lo}`, v));

  if (!isObject(state.config)) bad('config', 'an object', state.config);
  if (typeof state.recipe !== 'string') bad('recipe', 'a string', state.recipe);
  for (const key of ['rng', 'quantRng']) {
    const r = state[key];
    if (!isObject(r)) bad(key, 'an object {seed, stream}', r);
    int(`${key}.seed`, (r as Record<string, unknown>).seed, 0, 2 ** 32 - 1);
    int(`${key}.stream`, (r as Record<string, unknown>).stream, 0, 2 ** 32 - 1);
  }
  const epoch = int('epoch', state.epoch, 0, 1e6);
  const batch = int('batch', state.batch, 0, shape.stepsPerEpoch);
  const history = Array.isArray(state.history) ? state.history : bad('history', 'an array', state.history);
  if (history.length !== epoch) bad('history', `a list of ${epoch} epoch records (one per finished epoch)`, `${history.length} records`);
  history.forEach((m: unknown, i: number) => {
    if (!isObject(m)) bad(`history[${i}]`, 'an object', m);
    int(`history[${i}].epoch`, (m as Record<string, unknown>).epoch, i + 1, i + 1);
    for (const k of ['train_loss', 'test_loss', 'train_acc', 'test_acc', 'seconds']) num(`history[${i}].${k}`, (m as Record<string, unknown>)[k]);
  });
  const p = state.partial;
  if (!isObject(p)) bad('partial', 'an object', p);
  const part = p as Record<string, unknown>;
  // Steps skipped for a non-finite loss (--on-nonfinite skip) count as steps but add no samples.
  const seen = int('partial.seen', part.seen, 0, Math.min(batch * shape.batchSize, shape.trainSamples));
  int('partial.steps', part.steps, batch, batch);
  if (part.skipped !== undefined) int('partial.skipped', part.skipped, 0, batch);
  int('partial.correct', part.correct, 0, seen);
  num('partial.lossSum', part.lossSum);
  num('partial.seconds', part.seconds);
  if (part.bnrSum !== undefined) num('partial.bnrSum', part.bnrSum);
}

/**
 * Throws unless a checkpoint saved by a run with `saved` config and recipe contents can be resumed with `config`:
 * the RESUME_KEYS must match, and the recipe must have the same contents (a recipe file edited mid-run is refused,
 * the same recipe under another path is fine). Checkpoints from before recipe contents were saved compare the name.
 */
export function checkResumable(ckpt: string, saved: { config: RunConfig; recipeSpec?: unknown }, config: RunConfig, recipeSpec: string | null): void {
  for (const key of RESUME_KEYS) {
    if (key === 'recipe' && typeof saved.recipeSpec === 'string') continue;
    check(saved.config[key] === config[key],
      () => `cannot resume ${ckpt}: it was trained with ${key} = ${JSON.stringify(saved.config[key])}, not ${JSON.stringify(config[key])}`);
  }
  if (typeof saved.recipeSpec === 'string' && saved.recipeSpec !== (recipeSpec ?? 'fp32')) {
    throw new FqtError(`cannot resume ${ckpt}: the recipe ${config.recipe ?? 'fp32'} has other contents than the one it was trained with ` +
      '(was the recipe file edited? use a new --out for the new recipe)');
  }
}
