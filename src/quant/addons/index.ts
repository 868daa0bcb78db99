/** Recipe add-ons (recipe.ts `addons`): parsing, labels and descriptions, one file per add-on. */
import { checkKeys, expectObject } from '../validate.js';
import { parseSmp, type SmpAddon } from './smp.js';
import { describeFnt, type FntAddon, parseFnt } from './fnt.js';
import { type BnRectifySpec, describeBnRectify, parseBnRectify } from './bn-rectify.js';

export interface RecipeAddons {
  /** LUQ SMP: average of s gradient-quantizer draws (METHODS §2.4). */
  smp?: SmpAddon;
  /** LUQ FNT: full-precision fine-tuning phase at the end of the run (METHODS §2.5). */
  fnt?: FntAddon;
  /** BN rectification penalty, OUR RECONSTRUCTION of METHODS §4.2 (train/bn-rectify.ts). */
  bnRectify?: BnRectifySpec;
}

export const ADDON_KEYS: readonly string[] = ['smp', 'fnt', 'bnRectify'];

/**
 * Validate `addons` (absent keys come from `base`, e.g. a preset named by `extends`; `"bnRectify": null` removes
 * an inherited penalty).
 */
export function parseAddons(raw: unknown, path: string, base: RecipeAddons = {}): RecipeAddons {
  const out: RecipeAddons = JSON.parse(JSON.stringify(base)) as RecipeAddons;
  if (raw === undefined) return out;
  const o = expectObject(raw, path);
  checkKeys(o, ADDON_KEYS, path);
  if (o.smp !== undefined) out.smp = parseSmp(o.smp, `${path}.smp`);
  if (o.fnt !== undefined) out.fnt = parseFnt(o.fnt, `${path}.fnt`);
  if (o.bnRectify === null) delete out.bnRectify;
  else if (o.bnRectify !== undefined) out.bnRectify = parseBnRectify(o.bnRectify, `${path}.bnRectify`);
  return out;
}

/** Suffix of a derived recipe label, e.g. '_smp2_fnt'. */
export function addonsLabel(a: RecipeAddons): string {
  return `${a.smp && a.smp.samples > 1 ? `_smp${a.smp.samples}` : ''}${a.fnt ? '_fnt' : ''}${a.bnRectify ? '_bnr-recon' : ''}`;
}

export function describeAddons(a: RecipeAddons): string {
  const parts: string[] = [];
  if (a.smp) parts.push(`smp ${a.smp.samples} sample${a.smp.samples === 1 ? '' : 's'}`);
  if (a.fnt) parts.push(describeFnt(a.fnt));
  if (a.bnRectify) parts.push(describeBnRectify(a.bnRectify));
  return parts.join('; ');
}

export { type SmpAddon, smpSamples } from './smp.js';
export { type FntAddon, fntLr, fntStartEpoch } from './fnt.js';
export type { BnRectifySpec } from './bn-rectify.js';
