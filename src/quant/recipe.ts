/**
 * Recipes are data (DESIGN.md): JSON-serialisable, versioned, validated, with a short label. One slot per
 * (GEMM, operand) of a layer (METHODS §0.1):
 *   forward    { x, w }   Y  = Q(X)·Q(W)ᵀ
 *   gradInput  { dy, w }  dX = Q(dY)·Q(W)
 *   gradWeight { dy, x }  dW = Q(dY)ᵀ·Q(X)
 * A slot is 'fp32', a quantizer spec, or (gradInput.w / gradWeight.x only) 'forward' = the operand exactly as
 * the forward GEMM saw it (its codes are kept for the backward pass): the exact STE/QAT choice.
 * The two dY slots are drawn independently (StatQuant, METHODS §1.3) unless backwardDraws = 'shared'.
 * Overrides apply per layer, in order, after the base slots; '@first' / '@last' name the first / last GemmLayer
 * (default: both fp32), '@conv1x1' every 1×1 conv (ResNet shortcut projections; the binary presets keep them fp32).
 * Add-ons (quant/addons/: LUQ SMP and FNT, the reconstructed bnRectify) live in `addons`; training defaults
 * (optimizer, lr, schedule; recipe-training.ts) in `training`. Both are inherited through `extends`.
 */
import type { QuantSpec } from './spec.js';
import { parseQuantSpec, specCode, specIsStochastic } from './quantizers/index.js';
import { addonsLabel, parseAddons, type RecipeAddons } from './addons/index.js';
import { parseTraining, type RecipeTraining } from './recipe-training.js';
import { checkKeys, expectObject, expectOneOf, expectString, fail, show } from './validate.js';
import { checkHadamardSlots, type HadamardBlocks, parseHadamard } from './gemm/hadamard-recipe.js';

export const RECIPE_VERSION = 1;

export type Slot = 'fp32' | QuantSpec;
/** gradInput.w / gradWeight.x may reuse the forward operand. */
export type BackwardSlot = Slot | 'forward';

export interface RecipeSlots {
  forward: { x: Slot; w: Slot };
  gradInput: { dy: Slot; w: BackwardSlot };
  gradWeight: { dy: Slot; x: BackwardSlot };
}

export type GemmName = keyof RecipeSlots;
export const GEMM_NAMES: readonly GemmName[] = ['forward', 'gradInput', 'gradWeight'];
export const SLOT_OPERANDS = { forward: ['x', 'w'], gradInput: ['dy', 'w'], gradWeight: ['dy', 'x'] } as const;

export type SlotPatch = { [G in GemmName]?: Partial<RecipeSlots[G]> };

export interface LayerOverride extends SlotPatch {
  /** '@first', '@last', '@conv1x1', an exact layer name, or a glob where '*' matches any characters ('layer3.*'). */
  match: string;
  /** All six slots fp32 (exclusive with slot keys). */
  fp32?: boolean;
}

/** Training add-ons (quant/addons/): `smp` (LUQ SMP, §2.4), `fnt` (LUQ fine-tuning phase, §2.5). */
export type { RecipeAddons } from './addons/index.js';

export interface Recipe extends RecipeSlots {
  version: typeof RECIPE_VERSION;
  label: string;
  description?: string;
  backwardDraws: 'independent' | 'shared';
  overrides: LayerOverride[];
  addons: RecipeAddons;
  /** Training defaults (optimizer, lr, …) used when the caller gives none; absent when the recipe has none. */
  training?: RecipeTraining;
  /** Random Hadamard transform block per GEMM of every quantized layer (quant/gemm/hadamard.ts); absent: none. */
  hadamard?: HadamardBlocks;
  /**
   * Slots of attention's batched products Q·Kᵀ and P·V (quant/attention.ts): the left operand in the x slots, the
   * right one in the w slots, the output gradient in dy. Absent: fp32.
   */
  attention?: RecipeSlots;
}

export const DEFAULT_OVERRIDES: readonly LayerOverride[] = [{ match: '@first', fp32: true }, { match: '@last', fp32: true }];

const LABEL_RE = /^[A-Za-z0-9][A-Za-z0-9_.+-]{0,47}$/;
const TOP_KEYS = ['version', 'label', 'description', 'extends', 'forward', 'gradInput', 'gradWeight', 'backwardDraws', 'overrides', 'addons', 'training',
  'hadamard', 'attention'];

function roleOf(operand: string): 'x' | 'w' | 'dy' {
  return operand as 'x' | 'w' | 'dy';
}

function parseSlot(raw: unknown, path: string, gemm: GemmName, operand: string): BackwardSlot {
  const reusable = (gemm === 'gradInput' && operand === 'w') || (gemm === 'gradWeight' && operand === 'x');
  if (raw === 'fp32') return 'fp32';
  if (raw === 'forward') {
    if (!reusable) fail(path, `'forward' (reuse the forward operand) is only valid for gradInput.w and gradWeight.x`);
    return 'forward';
  }
  if (typeof raw === 'string') fail(path, `must be 'fp32'${reusable ? ", 'forward'" : ''} or a quantizer object, got ${show(raw)}`);
  return parseQuantSpec(raw, path, roleOf(operand));
}

function parsePatch(raw: Record<string, unknown>, path: string, out: SlotPatch): void {
  for (const gemm of GEMM_NAMES) {
    if (raw[gemm] === undefined) continue;
    const o = expectObject(raw[gemm], `${path}.${gemm}`);
    checkKeys(o, SLOT_OPERANDS[gemm], `${path}.${gemm}`);
    const dst: Record<string, BackwardSlot> = { ...(out[gemm] ?? {}) };
    for (const operand of SLOT_OPERANDS[gemm]) {
      if (o[operand] !== undefined) dst[operand] = parseSlot(o[operand], `${path}.${gemm}.${operand}`, gemm, operand);
    }
    (out as Record<string, unknown>)[gemm] = dst;
  }
}

function parseOverride(raw: unknown, path: string): LayerOverride {
  const o = expectObject(raw, path);
  checkKeys(o, ['match', 'fp32', ...GEMM_NAMES], path);
  const match = expectString(o.match, `${path}.match`, /\S/, "a layer name, a glob or '@first' / '@last'");
  const out: LayerOverride = { match };
  if (o.fp32 !== undefined) {
    if (typeof o.fp32 !== 'boolean') fail(`${path}.fp32`, `must be true or false, got ${show(o.fp32)}`);
    if (o.fp32 && GEMM_NAMES.some((g) => o[g] !== undefined)) fail(`${path}.fp32`, 'cannot be combined with slot keys (forward / gradInput / gradWeight) in the same override');
    out.fp32 = o.fp32;
  }
  parsePatch(o, path, out);
  return out;
}

function sameSlot(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Validate raw data (parsed JSON) into a fully explicit Recipe. `base` supplies the values of absent keys
 * (used by `extends`); without it absent slots are fp32 ('forward' for the reusable ones).
 */
export function parseRecipe(raw: unknown, opts: { path?: string; base?: Recipe } = {}): Recipe {
  const path = opts.path ?? 'recipe';
  const o = expectObject(raw, path);
  checkKeys(o, TOP_KEYS, path);
  if (o.version === undefined) fail(`${path}.version`, `missing (this fqt reads recipe version ${RECIPE_VERSION})`);
  if (o.version !== RECIPE_VERSION) fail(`${path}.version`, `unsupported version ${show(o.version)} (this fqt reads version ${RECIPE_VERSION})`);
  const base = opts.base;
  const slots: SlotPatch = base
    ? { forward: { ...base.forward }, gradInput: { ...base.gradInput }, gradWeight: { ...base.gradWeight } }
    : { forward: { x: 'fp32', w: 'fp32' }, gradInput: { dy: 'fp32', w: 'forward' }, gradWeight: { dy: 'fp32', x: 'forward' } };
  parsePatch(o, path, slots);
  const backwardDraws = o.backwardDraws === undefined ? base?.backwardDraws ?? 'independent'
    : expectOneOf(o.backwardDraws, `${path}.backwardDraws`, ['independent', 'shared'] as const);
  let overrides: LayerOverride[];
  if (o.overrides === undefined) overrides = base ? base.overrides.map((x) => ({ ...x })) : DEFAULT_OVERRIDES.map((x) => ({ ...x }));
  else {
    if (!Array.isArray(o.overrides)) fail(`${path}.overrides`, `must be an array, got ${show(o.overrides)}`);
    overrides = o.overrides.map((v, i) => parseOverride(v, `${path}.overrides[${i}]`));
  }
  const addons = parseAddons(o.addons, `${path}.addons`, base?.addons);
  const hadamard = o.hadamard === undefined ? base?.hadamard : parseHadamard(o.hadamard, `${path}.hadamard`);
  let attention = base?.attention;
  if (o.attention !== undefined) {
    const a = expectObject(o.attention, `${path}.attention`);
    checkKeys(a, GEMM_NAMES, `${path}.attention`);
    const patch: SlotPatch = attention ? JSON.parse(JSON.stringify(attention)) as SlotPatch
      : { forward: { x: 'fp32', w: 'fp32' }, gradInput: { dy: 'fp32', w: 'forward' }, gradWeight: { dy: 'fp32', x: 'forward' } };
    parsePatch(a, `${path}.attention`, patch);
    attention = patch as RecipeSlots;
  }
  const training = parseTraining(o.training, `${path}.training`, base?.training);
  const recipe: Recipe = {
    version: RECIPE_VERSION,
    label: '',
    forward: slots.forward as Recipe['forward'],
    gradInput: slots.gradInput as Recipe['gradInput'],
    gradWeight: slots.gradWeight as Recipe['gradWeight'],
    backwardDraws,
    overrides,
    addons,
  };
  if (Object.keys(training).length > 0) recipe.training = training;
  if (hadamard) recipe.hadamard = hadamard;
  if (attention) recipe.attention = attention;
  checkHadamardSlots(recipe, path);
  if (o.description !== undefined) recipe.description = expectString(o.description, `${path}.description`);
  else if (base?.description !== undefined && o.label === undefined) recipe.description = base.description;
  if (backwardDraws === 'shared' && !sameSlot(recipe.gradInput.dy, recipe.gradWeight.dy)) {
    fail(`${path}.backwardDraws`, "'shared' uses one draw of Q(dY) for both backward GEMMs, so gradInput.dy and gradWeight.dy must be the same quantizer");
  }
  if (addons.smp && addons.smp.samples > 1) {
    const dys = [recipe.gradInput.dy, recipe.gradWeight.dy, ...overrides.flatMap((ov) => [ov.gradInput?.dy, ov.gradWeight?.dy])];
    if (!dys.some((s) => s !== undefined && s !== 'fp32' && specIsStochastic(s))) {
      fail(`${path}.addons.smp`, 'averages draws of a stochastic gradient quantizer, but no gradInput.dy / gradWeight.dy slot is stochastic');
    }
  }
  recipe.label = o.label !== undefined ? expectString(o.label, `${path}.label`, LABEL_RE, 'a short label (letters, digits, _ . + -, at most 48 characters)')
    : base ? `${base.label}+` : (deriveLabel(recipe).slice(0, 48 - addonsLabel(addons).length - (hadamard ? 4 : 0)) + (hadamard ? '_rht' : '') + addonsLabel(addons));
  return recipe;
}

/**
 * A compact label for a recipe that has none, e.g. 'x-a8T_w-z8T_gi-bhq4_gw-a4F' (Quantizer.code); add-ons append
 * their suffix (addonsLabel), e.g. '_bnr-recon' for the reconstructed BN rectification (METHODS §4.2).
 */
export function deriveLabel(r: RecipeSlots): string {
  const all = [r.forward.x, r.forward.w, r.gradInput.dy, r.gradWeight.dy].every((s) => s === 'fp32');
  if (all && [r.gradInput.w, r.gradWeight.x].every((s) => s === 'fp32' || s === 'forward')) return 'fp32';
  const code = (s: BackwardSlot): string => (s === 'fp32' ? 'f' : s === 'forward' ? 'fwd' : specCode(s));
  let label = `x-${code(r.forward.x)}_w-${code(r.forward.w)}_gi-${code(r.gradInput.dy)}_gw-${code(r.gradWeight.dy)}`;
  if (r.gradInput.w !== 'forward') label += `_giw-${code(r.gradInput.w)}`;
  if (r.gradWeight.x !== 'forward') label += `_gwx-${code(r.gradWeight.x)}`;
  return label.slice(0, 48);
}

/** Same forward, exact (fp32, STE) backward: the QAT gradient that the FQT gradient estimates (METHODS §0.5). */
export function qatOf(r: Recipe): Recipe {
  const patch = (p: SlotPatch): SlotPatch => {
    const out: SlotPatch = JSON.parse(JSON.stringify(p)) as SlotPatch;
    if (out.gradInput) out.gradInput = { ...out.gradInput, ...(out.gradInput.dy !== undefined ? { dy: 'fp32' } : {}), ...(out.gradInput.w !== undefined ? { w: 'forward' } : {}) };
    if (out.gradWeight) out.gradWeight = { ...out.gradWeight, ...(out.gradWeight.dy !== undefined ? { dy: 'fp32' } : {}), ...(out.gradWeight.x !== undefined ? { x: 'forward' } : {}) };
    return out;
  };
  return {
    ...r,
    label: r.label.endsWith('-qat') ? r.label : `${r.label.slice(0, 44)}-qat`,
    gradInput: { dy: 'fp32', w: 'forward' },
    gradWeight: { dy: 'fp32', x: 'forward' },
    backwardDraws: 'independent',
    overrides: r.overrides.map((ov) => ({ ...ov, ...patch(ov) })),
  };
}

/** A deep copy that is plain JSON (for run metadata and checkpoints). */
export function recipeToJSON(r: Recipe): string {
  return JSON.stringify(r, null, 2);
}
