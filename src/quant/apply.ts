/**
 * applyRecipe: attach a recipe to a model without changing any module's class (DESIGN.md). Walks
 * model.namedModules(), finds the GEMM layers (Linear, Conv2d: anything with a `gemm` slot and a `weight`),
 * resolves the per-layer overrides and installs a qgemm. Returns the resolved table: per layer and per GEMM
 * the path that runs (fp32 / int8 / int8-blocked / fp32-dequant) and the quantizer labels, for `fqt info`,
 * reports and run metadata. Conv paths depend on the output size (rowsPerSample = H·W); they are marked
 * provisional until the layer first runs, or resolved at once when `sampleShape` is given.
 */
import { Tensor } from '../tensor/tensor.js';
import { Rng } from '../tensor/random.js';
import { noGrad } from '../autograd/mode.js';
import { linearRows } from '../ops/matmul.js';
import { bmm } from '../ops/transformer.js';
import { fail, show } from './validate.js';
import { type BackwardSlot, GEMM_NAMES, type GemmName, type LayerOverride, type Recipe, type RecipeSlots, SLOT_OPERANDS } from './recipe.js';
import { specLabel, specOutputScale } from './quantizers/index.js';
import type { QuantizedOperand } from './quantize.js';
import { describeAddons, smpSamples } from './addons/index.js';
import { type ConvGeometryLike, effectiveSpec, type GemmPlan, type LayerPlans, makeQGemm, MIN_INT_KBLOCK, planFusedLayer, planLayer, type QGemmConfig, savedActivation } from './gemm/index.js';
import { type AttentionGemmLike, isAttentionGemm, qbmm } from './attention.js';

type Gemm = (x: Tensor, w: Tensor, rowsPerSample?: number, geometry?: ConvGeometryLike) => Tensor;

/** What applyRecipe needs of a model (nn/Module, structurally: quant/ does not import nn/). */
export interface ModelLike {
  namedModules(): [string, unknown][];
  forward(x: Tensor): Tensor;
  train(on?: boolean): unknown;
}

export interface GemmLayerLike {
  gemm: Gemm;
  readonly weight: Tensor;
  training?: boolean;
  /** Register a recipe-owned parameter (nn GemmLayer.attachParameter); needed by binary layers' a_c. */
  attachParameter?(name: string, data: Float32Array, shape: number[]): Tensor;
}

/** State-dict name (within the layer) of the learnable per-output-channel scale of binary layers (METHODS §3.2). */
export const OUTPUT_SCALE_PARAM = 'out_scale';

export function isGemmLayer(m: unknown): m is GemmLayerLike {
  const o = m as Partial<GemmLayerLike> | null;
  return typeof o === 'object' && o !== null && typeof o.gemm === 'function' && o.weight instanceof Tensor;
}

export interface ApplyOptions {
  /** Generator of the stochastic-rounding streams (shared by all layers, streams taken in call order). */
  rng?: Rng;
  /** Seed of a fresh generator when `rng` is not given (default 0). */
  seed?: number;
  /** One sample's shape (e.g. [3, 32, 32]): resolves conv paths now with a no-grad eval forward of one zero sample. */
  sampleShape?: readonly number[];
  /** Observes every quantization of every layer (tests, diagnostics). */
  trace?: (layer: string, gemm: GemmName, operand: 'x' | 'w' | 'dy', q: QuantizedOperand) => void;
}

/** A GEMM's plan (quant/gemm/plan.ts: path, kBlock, reason, fused, note) and the labels of its operands. */
export interface ResolvedGemm extends GemmPlan {
  /** Labels of the two NT operands (e.g. dY and W for grad-input). */
  a: string;
  b: string;
}

export interface ResolvedLayer {
  name: string;
  type: string;
  /** Position among the model's GEMM layers. */
  index: number;
  weightShape: number[];
  /** 'recipe' then each override that matched, e.g. "overrides[0] '@first'". */
  sources: string[];
  slots: RecipeSlots;
  /** null until a conv layer has run (paths assume rowsPerSample ≥ MIN_INT_KBLOCK meanwhile). */
  rowsPerSample: number | null;
  provisional: boolean;
  /** What the backward pass keeps of X for the grad-weight GEMM. */
  savedX: 'codes' | 'fp32';
  gemms: Record<GemmName, ResolvedGemm>;
  /** State-dict name of the learnable output scale a_c, when the layer has one. */
  outputScale?: string;
}

export interface ResolvedRecipe {
  version: number;
  label: string;
  seed: number;
  recipe: Recipe;
  layers: ResolvedLayer[];
}

function slotLabel(slot: BackwardSlot, forward: 'fp32' | RecipeSlots['forward']['x']): string {
  const s = effectiveSpec(slot, forward);
  return s === null ? 'fp32' : slot === 'forward' ? `${specLabel(s)} (fwd codes)` : specLabel(s);
}

function describe(slots: RecipeSlots, plans: LayerPlans): Record<GemmName, ResolvedGemm> {
  const labels: Record<GemmName, [string, string]> = {
    forward: [slotLabel(slots.forward.x, 'fp32'), slotLabel(slots.forward.w, 'fp32')],
    gradInput: [slotLabel(slots.gradInput.dy, 'fp32'), slotLabel(slots.gradInput.w, slots.forward.w)],
    gradWeight: [slotLabel(slots.gradWeight.dy, 'fp32'), slotLabel(slots.gradWeight.x, slots.forward.x)],
  };
  const out = {} as Record<GemmName, ResolvedGemm>;
  for (const g of GEMM_NAMES) {
    const p = plans[g];
    out[g] = {
      path: p.path, kBlock: p.kBlock, a: labels[g][0], b: labels[g][1],
      ...(p.reason ? { reason: p.reason } : {}), ...(p.fused ? { fused: true } : {}), ...(p.note ? { note: p.note } : {}),
    };
  }
  return out;
}

function globMatch(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(name);
}

/** Matches that name a role rather than a layer: '@conv1x1' = every 1×1 conv (ResNet shortcut projections, METHODS §3.2). */
const ROLE_MATCHES = ['@first', '@last', '@conv1x1'];

function is1x1Conv(weightShape: readonly number[] | undefined): boolean {
  return weightShape !== undefined && weightShape.length === 4 && weightShape[2] === 1 && weightShape[3] === 1;
}

function matches(ov: LayerOverride, name: string, index: number, count: number, weightShape?: readonly number[]): boolean {
  if (ov.match === '@first') return index === 0;
  if (ov.match === '@last') return index === count - 1;
  if (ov.match === '@conv1x1') return is1x1Conv(weightShape);
  return globMatch(ov.match, name);
}

const ALL_FP32: RecipeSlots = { forward: { x: 'fp32', w: 'fp32' }, gradInput: { dy: 'fp32', w: 'fp32' }, gradWeight: { dy: 'fp32', x: 'fp32' } };

/** The slots of one layer: the recipe's, then every matching override in order. */
export function layerSlots(recipe: Recipe, name: string, index: number, count: number, weightShape?: readonly number[]): { slots: RecipeSlots; sources: string[] } {
  let slots: RecipeSlots = { forward: { ...recipe.forward }, gradInput: { ...recipe.gradInput }, gradWeight: { ...recipe.gradWeight } };
  const sources = ['recipe'];
  recipe.overrides.forEach((ov, i) => {
    if (!matches(ov, name, index, count, weightShape)) return;
    sources.push(`overrides[${i}] ${show(ov.match)}`);
    if (ov.fp32) { slots = JSON.parse(JSON.stringify(ALL_FP32)) as RecipeSlots; return; }
    for (const g of GEMM_NAMES) {
      const patch = ov[g] as Record<string, BackwardSlot> | undefined;
      if (!patch) continue;
      const dst = slots[g] as Record<string, BackwardSlot>;
      for (const operand of SLOT_OPERANDS[g]) if (patch[operand] !== undefined) dst[operand] = patch[operand];
    }
  });
  return { slots, sources };
}

/** Install the recipe's qgemm into every GEMM layer of `model`; returns the resolved table. */
export function applyRecipe(model: ModelLike, recipe: Recipe, opts: ApplyOptions = {}): ResolvedRecipe {
  const rng = opts.rng ?? new Rng(opts.seed ?? 0);
  const layers = model.namedModules().filter((e): e is [string, GemmLayerLike] => isGemmLayer(e[1]));
  recipe.overrides.forEach((ov, i) => {
    if (ROLE_MATCHES.includes(ov.match)) return;
    if (!layers.some(([name]) => globMatch(ov.match, name))) {
      fail(`recipe.overrides[${i}].match`, `${show(ov.match)} matches no GEMM layer (layers: ${layers.map(([n]) => n).join(', ') || 'none'})`);
    }
  });
  const resolved: ResolvedRecipe = { version: recipe.version, label: recipe.label, seed: rng.seed, recipe, layers: [] };
  layers.forEach(([name, layer], index) => {
    const { slots, sources } = layerSlots(recipe, name, index, layers.length, layer.weight.shape);
    if (recipe.backwardDraws === 'shared' && JSON.stringify(slots.gradInput.dy) !== JSON.stringify(slots.gradWeight.dy)) {
      fail('recipe.backwardDraws', `'shared' needs the same dY quantizer for both backward GEMMs, but the overrides give layer '${name}' different ones (${sources.join(' + ')})`);
    }
    const w = layer.weight;
    const outF = w.shape[0], inF = w.size / Math.max(1, outF);
    const isLinear = w.rank === 2; // a conv weight is [out, in, kh, kw]; its rows per sample are H·W
    const rps = isLinear ? 1 : null;
    const entry: ResolvedLayer = {
      name, type: (layer as object).constructor?.name ?? 'GemmLayer', index, weightShape: [...w.shape], sources, slots,
      rowsPerSample: rps, provisional: rps === null, savedX: savedActivation(slots),
      gemms: describe(slots, planFusedLayer(slots, { oc: outF, k: inF, rowsPerSample: rps ?? MIN_INT_KBLOCK }) ?? planLayer(slots, inF, outF, rps ?? MIN_INT_KBLOCK, !isLinear)),
    };
    const wSpec = effectiveSpec(slots.forward.w, 'fp32');
    let outputScale: Tensor | undefined;
    if (wSpec !== null && specOutputScale(wSpec)) {
      if (!layer.attachParameter) fail('recipe.forward.w.scale', `layer '${name}' cannot take the learnable output scale (no attachParameter)`);
      outputScale = layer.attachParameter(OUTPUT_SCALE_PARAM, new Float32Array(outF).fill(1), [outF]);
      entry.outputScale = `${name ? `${name}.` : ''}${OUTPUT_SCALE_PARAM}`;
    }
    resolved.layers.push(entry);
    // ('forward' counts as fp32 here only when the forward slots are fp32 too, which `every` also checks.)
    const allFp32 = GEMM_NAMES.every((g) => SLOT_OPERANDS[g].every((o) => effectiveSpec((slots[g] as Record<string, BackwardSlot>)[o], 'fp32') === null));
    layer.gemm = allFp32 ? linearRows : makeQGemm({
      slots, backwardDraws: recipe.backwardDraws, rng, samples: smpSamples(recipe.addons), ...(outputScale ? { outputScale } : {}),
      ...(recipe.hadamard ? { hadamard: recipe.hadamard } : {}),
      ...(opts.trace ? { trace: (g: GemmName, o: 'x' | 'w' | 'dy', q: QuantizedOperand) => opts.trace!(name, g, o, q) } : {}),
      onPlan: (r, plans) => {
        entry.rowsPerSample = r;
        entry.provisional = false;
        entry.gemms = describe(slots, plans);
      },
    });
    if (allFp32 && entry.provisional) entry.provisional = false;
  });
  if (recipe.attention) resolved.layers.push(...applyAttention(model, recipe.attention, recipe, rng, resolved.layers.length, opts));
  if (opts.sampleShape) resolveGeometry(model, opts.sampleShape, rng);
  return resolved;
}

/** Install recipe.attention into every attention product (quant/attention.ts); their rows in the resolved table. */
function applyAttention(model: ModelLike, slots: RecipeSlots, recipe: Recipe, rng: Rng, first: number, opts: ApplyOptions): ResolvedLayer[] {
  const mods = model.namedModules().filter((e): e is [string, AttentionGemmLike] => isAttentionGemm(e[1]));
  return mods.map(([name, m], i) => {
    const entry: ResolvedLayer = {
      name, type: `AttentionGemm(${m.role})`, index: first + i, weightShape: [], sources: ['recipe.attention'], slots,
      rowsPerSample: 1, provisional: true, savedX: savedActivation(slots), gemms: describe(slots, planLayer(slots, 64, 64, 1)),
    };
    const cfg: QGemmConfig = {
      slots, backwardDraws: recipe.backwardDraws, rng, samples: smpSamples(recipe.addons),
      ...(opts.trace ? { trace: (g: GemmName, o: 'x' | 'w' | 'dy', q: QuantizedOperand) => opts.trace!(name, g, o, q) } : {}),
      onPlan: (_r, plans) => { entry.provisional = false; entry.gemms = describe(slots, plans); },
    };
    m.bmm = (a, b) => qbmm(a, b, cfg);
    return entry;
  });
}

/** Run one zero sample through the model (eval mode, no grad, RNG state restored) so conv layers report their paths. */
function resolveGeometry(model: ModelLike, sampleShape: readonly number[], rng: Rng): void {
  const modes = model.namedModules().map(([, m]) => [m, (m as { training?: boolean }).training] as const);
  const state = rng.state();
  const size = sampleShape.reduce((a, b) => a * b, 1);
  try {
    model.train(false);
    noGrad(() => model.forward(new Tensor(new Float32Array(size), [1, ...sampleShape])));
  } finally {
    for (const [m, t] of modes) if (t !== undefined) (m as { training: boolean }).training = t;
    rng.setState(state);
  }
}

/** Put the fp32 GEMM back into every GEMM layer and attention product. */
export function removeRecipe(model: ModelLike): void {
  for (const [, m] of model.namedModules()) {
    if (isGemmLayer(m)) m.gemm = linearRows;
    else if (isAttentionGemm(m)) m.bmm = bmm;
  }
}

/** A plain-text table of the resolved recipe (one line per layer and GEMM). */
export function formatResolved(r: ResolvedRecipe): string {
  const addons = describeAddons(r.recipe.addons);
  const h = r.recipe.hadamard ? Object.entries(r.recipe.hadamard).map(([g, b]) => `${g} ${b}`).join(', ') : '';
  const lines = [`recipe ${r.label} (version ${r.version}, seed ${r.seed})${addons ? `; add-ons: ${addons}` : ''}${h ? `; random Hadamard blocks: ${h}` : ''}`];
  for (const l of r.layers) {
    const geo = l.rowsPerSample === null ? 'rows/sample ?' : `rows/sample ${l.rowsPerSample}`;
    lines.push(`  ${l.name} ${l.type}[${l.weightShape.join('×')}] ${geo}${l.provisional ? ' (provisional)' : ''}; saves X as ${l.savedX}; ${l.sources.join(' + ')}` +
      `${l.outputScale ? `; output scale ${l.outputScale}` : ''}`);
    for (const g of GEMM_NAMES) {
      const e = l.gemms[g];
      const kb = e.kBlock !== null ? ` kBlock=${e.kBlock}` : '';
      const how = [e.fused ? 'fused conv kernel' : 'im2col rows', e.note, e.reason].filter(Boolean).join('; ');
      lines.push(`    ${g.padEnd(10)} ${e.path.padEnd(12)}${kb} ${e.a} × ${e.b}  (${how})`);
    }
  }
  return lines.join('\n');
}
