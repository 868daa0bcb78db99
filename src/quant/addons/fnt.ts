/**
 * FNT add-on (METHODS §2.5): high-precision fine-tuning at the end of a quantized run. From its first epoch on,
 * the trainer trains with every slot fp32 (the recipe is removed from the model) at a constant learning rate
 * of its own. `addons.fnt` = exactly one of
 *   {fromEpoch: E}    epochs E, E+1, … (1-based, as in the epoch metrics) run in full precision
 *   {lastEpochs: N}   the last N epochs of the run
 * plus at most one of `lr` (absolute) or `lrScale` (× the run's peak lr; default 0.1 — the paper's value was
 * not retrievable, METHODS §11.7 [UNVERIFIED]). The phase is a pure function of the epoch number, so resuming
 * a run lands in the same phase (train/trainer.ts).
 */
import { checkKeys, expectInt, expectObject, fail, show } from '../validate.js';

export interface FntAddon {
  fromEpoch?: number;
  lastEpochs?: number;
  lr?: number;
  lrScale?: number;
}

export const DEFAULT_FNT_LR_SCALE = 0.1;

function positive(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(path, `must be a positive number, got ${show(v)}`);
  return v;
}

export function parseFnt(raw: unknown, path: string): FntAddon {
  const o = expectObject(raw, path);
  checkKeys(o, ['fromEpoch', 'lastEpochs', 'lr', 'lrScale'], path);
  const out: FntAddon = {};
  if ((o.fromEpoch === undefined) === (o.lastEpochs === undefined)) fail(path, 'needs exactly one of fromEpoch or lastEpochs');
  if (o.fromEpoch !== undefined) out.fromEpoch = expectInt(o.fromEpoch, `${path}.fromEpoch`, 1, 1e6);
  if (o.lastEpochs !== undefined) out.lastEpochs = expectInt(o.lastEpochs, `${path}.lastEpochs`, 1, 1e6);
  if (o.lr !== undefined && o.lrScale !== undefined) fail(`${path}.lrScale`, 'give either lr or lrScale, not both');
  if (o.lr !== undefined) out.lr = positive(o.lr, `${path}.lr`);
  if (o.lrScale !== undefined) out.lrScale = positive(o.lrScale, `${path}.lrScale`);
  return out;
}

/** 0-based index of the first full-precision epoch of a run of `epochs` epochs (≥ epochs: FNT never starts). */
export function fntStartEpoch(f: FntAddon, epochs: number): number {
  return f.fromEpoch !== undefined ? f.fromEpoch - 1 : Math.max(0, epochs - (f.lastEpochs ?? 0));
}

/** The constant learning rate of the FNT phase for a run whose peak lr is `baseLr`. */
export function fntLr(f: FntAddon, baseLr: number): number {
  return f.lr ?? baseLr * (f.lrScale ?? DEFAULT_FNT_LR_SCALE);
}

export function describeFnt(f: FntAddon): string {
  const when = f.fromEpoch !== undefined ? `from epoch ${f.fromEpoch}` : `last ${f.lastEpochs} epoch${f.lastEpochs === 1 ? '' : 's'}`;
  const lr = f.lr !== undefined ? `lr ${f.lr}` : `lr ${f.lrScale ?? DEFAULT_FNT_LR_SCALE}× base`;
  return `fnt ${when}, ${lr}`;
}
