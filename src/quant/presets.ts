/**
 * Named recipes (METHODS §11 "Recommended presets") and loading recipes from JSON files.
 *   fp32                     no quantization (every GEMM is linearRows' fp32 GEMM)
 *   qat8                     StatQuant forward (X: 8-bit min/max, W: 8-bit zero-aligned, nearest), fp32 backward
 *   ptqB  (B = 8, 6, 5, 4)   + PTQ: per-tensor zero-aligned SR on both dY draws
 *   psqB                     + PSQ: per-sample SR for grad-input, per-(column, pixel) SR for grad-weight (§1.3)
 *   bhqB                     + BHQ for grad-input, per-(column, pixel) SR for grad-weight
 *   luq4                     LUQ (METHODS §2.6): SAWB INT4 nearest forward (x: unsigned [0,15] when ≥ 0 else
 *                            [−7,7]; w: [−7,7]), LUQ 4-bit (sign + 3-bit exponent) dY, one draw shared by both
 *                            backward GEMMs; every GEMM runs on gemmI8 (LUQ codes sign·2^k are exact int8)
 *   luq4-smp2                + SMP with 2 samples (backward GEMMs run twice, outputs averaged; §2.4)
 *   luq4-smp2-fnt            + FNT: the last epoch in full precision at 0.1× the peak lr (§2.5; the paper's
 *                            FNT lr and length for small models are not known: our default, documented)
 *   ptq4-bnr, psq4-bnr,      + BN rectification, ratio form, λ = 1e-3 (METHODS §4.2: OUR RECONSTRUCTION, not the
 *   bhq4-bnr                 paper's published formula; labels end in '-bnr-recon')
 *   statquant-compat[-P]     preset P (default ptq8: the released code's default flags) with the first and
 *                            last layers quantized too, as in StatQuant's code (METHODS §11.1)
 *   bin-qat                  binary forward (sign X, sign W + learnable a_c, clipped STE), fp32 backward: the QAT
 *                            pre-training / baseline of 1-bit FQT (METHODS §3.2)
 *   fqt1-psq                 binary forward; 1-bit per-sample SR dY on both backward GEMMs (the paper's PSQ
 *                            baseline, b = 1, METHODS §3.3, §6.2)
 *   fqt1-agp-scq             binary forward; AGP + SCQ with b = 4: per-sample 4-bit SR dY on the top N/4 samples
 *                            (grad-input), per-channel 4-bit SR dY on the top C/4 channels (grad-weight) (§3.4, §3.7)
 *   nvfp4, mxfp4-quartet,    today's block-format recipes (NVFP4, Quartet, Jetfire): presets-lowp.ts
 *   int8-jetfire
 * All presets keep the first and last GemmLayer in fp32 unless stated; the binary ones also keep every 1×1 conv
 * (ResNet shortcut projections) fp32 ('@conv1x1'), as the paper does. Binary presets carry the training defaults
 * `training: {optimizer: 'adam', lr: 1e-3}` (§3.5) as recipe data, inherited by recipes that extend them.
 */
import { readFileSync } from 'node:fs';
import { FqtError } from '../tensor/errors.js';
import type { LuqSpec, QuantSpec, SawbSpec, UniformSpec } from './spec.js';
import { parseRecipe, type Recipe } from './recipe.js';
import { BN_RECTIFY_NAME } from './addons/bn-rectify.js';
import { LOWP_PRESET_NAMES, LOWP_PRESETS } from './presets-lowp.js';
import { expectObject, expectString, fail, show } from './validate.js';

export const PRESET_BITS = [8, 6, 5, 4] as const;

const act8: UniformSpec = { kind: 'uniform', bits: 8, format: 'asymmetric', granularity: 'tensor', rounding: 'nearest' };
const wgt8: UniformSpec = { kind: 'uniform', bits: 8, format: 'zeroAligned', granularity: 'tensor', rounding: 'nearest' };
const ptq = (bits: number): UniformSpec => ({ kind: 'uniform', bits, format: 'zeroAligned', granularity: 'tensor', rounding: 'stochastic' });
const perSample = (bits: number): UniformSpec => ({ kind: 'uniform', bits, format: 'asymmetric', granularity: 'sample', rounding: 'stochastic' });
const perFeature = (bits: number): UniformSpec => ({ kind: 'uniform', bits, format: 'asymmetric', granularity: 'feature', rounding: 'stochastic' });
const bhq = (bits: number): QuantSpec => ({ kind: 'bhq', bits, rounding: 'stochastic' });

/** A preset whose backward GEMMs reuse the forward codes of W and X (the exact STE choice, METHODS §0.4). */
function build(label: string, description: string, forward: { x: QuantSpec; w: QuantSpec }, gi: QuantSpec | 'fp32',
  gw: QuantSpec | 'fp32', extra: Record<string, unknown> = {}): Recipe {
  return parseRecipe({
    version: 1, label, description, forward,
    gradInput: { dy: gi, w: 'forward' },
    gradWeight: { dy: gw, x: 'forward' },
    ...extra,
  }, { path: `preset '${label}'` });
}

const fqt = (label: string, description: string, gi: QuantSpec | 'fp32', gw: QuantSpec | 'fp32'): Recipe =>
  build(label, description, { x: act8, w: wgt8 }, gi, gw);

const sawbX: SawbSpec = { kind: 'sawb', bits: 4, c1: 12.1, c2: 12.2, range: 'auto', paperCompat: false };
const sawbW: SawbSpec = { ...sawbX, range: 'signed' };
const luq4: LuqSpec = { kind: 'luq', bits: 4 };

const luq = (label: string, description: string, addons: Record<string, unknown>): Recipe =>
  build(label, description, { x: sawbX, w: sawbW }, luq4, luq4, { backwardDraws: 'shared', addons });

const signX: QuantSpec = { kind: 'sign', ste: 'clipped', scale: 'none' };
const signW: QuantSpec = { kind: 'sign', ste: 'clipped', scale: 'channel' };
const BINARY_OVERRIDES = [{ match: '@first', fp32: true }, { match: '@last', fp32: true }, { match: '@conv1x1', fp32: true }];

/** The 1-bit FQT paper trains with Adam (METHODS §3.5, §3.8). */
const BINARY_TRAINING = { optimizer: 'adam', lr: 1e-3 };

const binary = (label: string, description: string, gi: QuantSpec | 'fp32', gw: QuantSpec | 'fp32'): Recipe =>
  build(label, description, { x: signX, w: signW }, gi, gw, { overrides: BINARY_OVERRIDES, training: BINARY_TRAINING });

/** Names of the 1-bit FQT presets (METHODS §3, §11). */
export const BINARY_PRESETS = ['bin-qat', 'fqt1-psq', 'fqt1-agp-scq'] as const;

type Bits = (typeof PRESET_BITS)[number];
type BasePresetName = 'fp32' | 'qat8' | `ptq${Bits}` | `psq${Bits}` | `bhq${Bits}` | 'luq4' | 'luq4-smp2' | 'luq4-smp2-fnt'
  | 'ptq4-bnr' | 'psq4-bnr' | 'bhq4-bnr' | (typeof BINARY_PRESETS)[number] | (typeof LOWP_PRESET_NAMES)[number];
/** Every preset name: `preset('psq44')` does not compile (and is an error listing the valid names at run time). */
export type PresetName = BasePresetName | 'statquant-compat' | `statquant-compat-${BasePresetName}`;
/** What `fit({recipe})` and resolveRecipe() take by name: a preset or a JSON recipe file. */
export type RecipeName = PresetName | `${string}.json`;

function buildPresets(): Map<BasePresetName, Recipe> {
  const m = new Map<BasePresetName, Recipe>();
  m.set('fp32', parseRecipe({ version: 1, label: 'fp32', description: 'no quantization' }, { path: "preset 'fp32'" }));
  m.set('qat8', fqt('qat8', '8-bit forward (StatQuant quantizers), fp32 backward: the QAT baseline', 'fp32', 'fp32'));
  for (const b of PRESET_BITS) {
    m.set(`ptq${b}`, fqt(`ptq${b}`, `8-bit forward; ${b}-bit per-tensor zero-aligned SR gradients (PTQ)`, ptq(b), ptq(b)));
    m.set(`psq${b}`, fqt(`psq${b}`, `8-bit forward; ${b}-bit per-sample SR (grad-input) and per-column SR (grad-weight) gradients (PSQ)`, perSample(b), perFeature(b)));
    m.set(`bhq${b}`, fqt(`bhq${b}`, `8-bit forward; ${b}-bit block Householder (grad-input) and per-column SR (grad-weight) gradients (BHQ)`, bhq(b), perFeature(b)));
  }
  const luqText = 'SAWB INT4 forward, LUQ 4-bit gradients (one draw for both backward GEMMs)';
  m.set('luq4', luq('luq4', luqText, {}));
  m.set('luq4-smp2', luq('luq4-smp2', `${luqText}; SMP 2 samples`, { smp: { samples: 2 } }));
  m.set('luq4-smp2-fnt', luq('luq4-smp2-fnt', `${luqText}; SMP 2 samples; last epoch fp32 at 0.1× lr (FNT)`,
    { smp: { samples: 2 }, fnt: { lastEpochs: 1, lrScale: 0.1 } }));
  for (const name of ['ptq4', 'psq4', 'bhq4'] as const) {
    const base = m.get(name)!;
    m.set(`${name}-bnr`, parseRecipe({
      ...clone(base), label: `${name}-bnr-recon`, description: `${base.description}; + ${BN_RECTIFY_NAME}, ratio form, λ = 1e-3`,
      addons: { bnRectify: { form: 'ratio', lambda: 1e-3 } },
    }, { path: `preset '${name}-bnr'` }));
  }
  m.set('bin-qat', binary('bin-qat', 'binary forward (sign X, sign W with learnable per-channel scale, clipped STE), fp32 backward', 'fp32', 'fp32'));
  m.set('fqt1-psq', binary('fqt1-psq', 'binary forward; 1-bit per-sample SR gradients on both backward GEMMs (PSQ baseline, b = 1)', perSample(1), perSample(1)));
  m.set('fqt1-agp-scq', binary('fqt1-agp-scq', 'binary forward; AGP+SCQ b = 4: 4-bit SR dY per sample on the top N/4 samples (grad-input), per channel on the top C/4 channels (grad-weight)',
    { kind: 'agp', bits: 4, granularity: 'sample', keepDivisor: 4, rescale: 'none' }, { kind: 'agp', bits: 4, granularity: 'column', keepDivisor: 4, rescale: 'none' }));
  for (const name of LOWP_PRESET_NAMES) m.set(name, parseRecipe({ version: 1, label: name, ...LOWP_PRESETS[name] }, { path: `preset '${name}'` }));
  return m;
}

let presets: Map<BasePresetName, Recipe> | null = null;

function table(): Map<BasePresetName, Recipe> {
  presets ??= buildPresets();
  return presets;
}

const COMPAT = 'statquant-compat';

export function presetNames(): PresetName[] {
  return [...table().keys(), COMPAT];
}

/** A preset by name (a fresh copy). `statquant-compat-<preset>` quantizes the first and last layers too. */
export function preset(name: PresetName): Recipe {
  if (name === COMPAT || name.startsWith(`${COMPAT}-`)) {
    const baseName = name === COMPAT ? 'ptq8' : name.slice(COMPAT.length + 1);
    const base = table().get(baseName as BasePresetName);
    if (!base) throw new FqtError(`unknown preset '${name}' (${COMPAT}-<preset> needs one of: ${[...table().keys()].join(', ')})`);
    return { ...clone(base), label: `sqc-${base.label}`, description: `${base.description ?? base.label}; first and last layers quantized too (StatQuant code)`, overrides: [] };
  }
  const r = table().get(name as BasePresetName);
  if (!r) throw new FqtError(`unknown preset '${name}' (valid: ${presetNames().join(', ')}, ${COMPAT}-<preset>, or a .json recipe file)`);
  return clone(r);
}

function clone(r: Recipe): Recipe {
  return JSON.parse(JSON.stringify(r)) as Recipe;
}

/** Validate parsed JSON; `"extends": "<preset>"` starts from a preset and overrides the given keys. */
export function recipeFromData(raw: unknown, path = 'recipe'): Recipe {
  const o = expectObject(raw, path);
  let base: Recipe | undefined;
  if (o.extends !== undefined) {
    const name = expectString(o.extends, `${path}.extends`);
    try {
      base = preset(name as PresetName); // checked at run time: an unknown name throws
    } catch {
      fail(`${path}.extends`, `unknown preset ${show(name)} (valid: ${presetNames().join(', ')})`);
    }
  }
  return parseRecipe(o, { path, base });
}

export function loadRecipeFile(file: string): Recipe {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FqtError(`cannot read recipe file '${file}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FqtError(`recipe file '${file}' is not valid JSON: ${(err as Error).message}`);
  }
  return recipeFromData(raw, `recipe file '${file}'`);
}

/**
 * A preset name or a path to a .json recipe (any path with '/'). Takes untyped text (CLI flags, saved configs) and
 * checks it at run time; typed code can use RecipeName / preset() to have names checked at compile time.
 */
export function resolveRecipe(nameOrFile: RecipeName | string): Recipe {
  if (nameOrFile.endsWith('.json') || nameOrFile.includes('/')) return loadRecipeFile(nameOrFile);
  return preset(nameOrFile as PresetName);
}
