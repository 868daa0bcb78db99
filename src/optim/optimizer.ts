/**
 * Optimizer base: named parameters in groups (each group with its own lr multiplier and weight decay),
 * per-parameter state buffers, and a state dict `{tensors, meta}` that a checkpoint stores as a
 * safetensors file plus JSON. Subclasses implement one method, `updateParam`, which calls a backend
 * kernel (DESIGN.md: no loops over data outside the reference backend).
 */
import type { GradStore } from '../autograd/graph.js';
import { check } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import type { Tensor } from '../tensor/tensor.js';

export type NamedParams = [string, Tensor][];

/** A group of parameters with its own settings (e.g. fine-tuning: head at lrScale 1, body at 0.01). */
export interface ParamGroup {
  /** Shown in error messages and saved in the state dict ('group0', 'group1' ... when omitted). */
  name?: string;
  params: NamedParams;
  /** The group's lr is the optimizer's lr (as set by setLr / the schedule) times this. Default 1. */
  lrScale?: number;
  /** Overrides the optimizer's weight decay for this group (e.g. 0 for BN and bias parameters). */
  weightDecay?: number;
}

/** Either a flat list of named parameters (one group) or a list of groups. */
export type ParamsInput = NamedParams | ParamGroup[];

export interface ResolvedGroup {
  readonly name: string;
  readonly params: NamedParams;
  readonly lrScale: number;
  readonly weightDecay: number;
}

/** JSON part of an optimizer state dict. */
export interface OptimizerMeta {
  format: 'fqt-optimizer';
  version: 1;
  kind: string;
  lr: number;
  /** Hyperparameters at save time (informational: the constructor's values are used on load). */
  hyper: Record<string, unknown>;
  groups: { name: string; lrScale: number; weightDecay: number; params: string[] }[];
  /** Updates applied so far, per parameter (absent or 0: the parameter never had a gradient). */
  steps: Record<string, number>;
}

export interface OptimizerState {
  /** Buffers keyed `${param}.${slot}` (e.g. 'fc.weight.exp_avg'). */
  tensors: Map<string, Float32Array>;
  meta: OptimizerMeta;
}

interface ParamState {
  step: number;
  buffers: Map<string, Float32Array>;
}

export function isFiniteNonNegative(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}

/** Reject option keys an optimizer does not take, naming the key and listing the valid ones. */
export function checkOptionKeys(what: string, opts: object, valid: readonly string[]): void {
  for (const key of Object.keys(opts)) {
    if ((opts as Record<string, unknown>)[key] === undefined) continue;
    check(valid.includes(key), () => `${what} does not take option '${key}' (valid: ${valid.join(', ')})`);
  }
}

function isGroupList(params: ParamsInput): params is ParamGroup[] {
  return params.length > 0 && !Array.isArray(params[0]);
}

export abstract class Optimizer {
  /** 'sgd' | 'adam' | 'adamw' (saved in the state dict and checked on load). */
  abstract readonly kind: string;
  /** Names of the per-parameter buffers this optimizer keeps, e.g. ['exp_avg', 'exp_avg_sq']. */
  protected abstract readonly slots: readonly string[];
  readonly groups: readonly ResolvedGroup[];
  private currentLr: number;
  private readonly state = new Map<string, ParamState>();
  private readonly byName = new Map<string, Tensor>();

  constructor(params: ParamsInput, lr: number, weightDecay: number) {
    check(isFiniteNonNegative(lr), () => `optimizer: lr must be a finite number ≥ 0, got ${lr}`);
    check(isFiniteNonNegative(weightDecay), () => `optimizer: weightDecay must be a finite number ≥ 0, got ${weightDecay}`);
    check(Array.isArray(params) && params.length > 0, 'optimizer: no parameters to optimize');
    this.currentLr = lr;
    const groups: ParamGroup[] = isGroupList(params) ? params : [{ params }];
    const seen = new Set<Tensor>();
    this.groups = groups.map((g, i) => {
      const name = g.name ?? `group${i}`;
      const lrScale = g.lrScale ?? 1;
      const wd = g.weightDecay ?? weightDecay;
      check(isFiniteNonNegative(lrScale), () => `optimizer: param group '${name}' has lrScale ${lrScale}; expected a finite number ≥ 0`);
      check(isFiniteNonNegative(wd), () => `optimizer: param group '${name}' has weightDecay ${wd}; expected a finite number ≥ 0`);
      check(Array.isArray(g.params), () => `optimizer: param group '${name}' has no 'params' list`);
      for (const entry of g.params) {
        check(Array.isArray(entry) && entry.length === 2 && typeof entry[0] === 'string', () =>
          `optimizer: param group '${name}' must list [name, tensor] pairs`);
        const [pname, t] = entry;
        check(!this.byName.has(pname), () => `optimizer: parameter '${pname}' is listed twice`);
        check(!seen.has(t), () => `optimizer: parameter '${pname}' is the same tensor as another listed parameter`);
        seen.add(t);
        this.byName.set(pname, t);
      }
      return Object.freeze({ name, params: g.params.slice(), lrScale, weightDecay: wd });
    });
  }

  get lr(): number { return this.currentLr; }

  /** Set the base learning rate (each group uses lr · lrScale); schedules call this every iteration. */
  setLr(lr: number): void {
    check(isFiniteNonNegative(lr), () => `optimizer: lr must be a finite number ≥ 0, got ${lr}`);
    this.currentLr = lr;
  }

  /** Hyperparameters, saved in the state dict for information. */
  protected abstract hyper(): Record<string, unknown>;

  /**
   * Update one parameter in place. `step` counts this parameter's updates including this one (1 on the
   * first); `buffers` holds the slots (zero-filled on the first update).
   */
  protected abstract updateParam(w: Float32Array, g: Float32Array, buffers: Map<string, Float32Array>, lr: number,
    weightDecay: number, step: number): void;

  /** Apply one update to every parameter that has a gradient in `grads` (the others are left alone). */
  step(grads: GradStore): void {
    for (const group of this.groups) {
      const lr = this.currentLr * group.lrScale;
      for (const [name, p] of group.params) {
        const g = grads.get(p);
        if (g === undefined) continue;
        check(g.size === p.size, () => `optimizer: gradient of '${name}' has shape ${fmtShape(g.shape)} but the parameter has shape ${fmtShape(p.shape)}`);
        let st = this.state.get(name);
        if (st === undefined) {
          st = { step: 0, buffers: new Map(this.slots.map((s) => [s, new Float32Array(p.size)])) };
          this.state.set(name, st);
        }
        st.step++;
        this.updateParam(p.data, g.data, st.buffers, lr, group.weightDecay, st.step);
      }
    }
  }

  /** Number of updates applied to parameter `name` so far (0 if it never had a gradient). */
  stepsOf(name: string): number { return this.state.get(name)?.step ?? 0; }

  /** A snapshot (copies) of the optimizer's buffers and settings. */
  stateDict(): OptimizerState {
    const tensors = new Map<string, Float32Array>();
    const steps: Record<string, number> = {};
    for (const [name, st] of this.state) {
      steps[name] = st.step;
      for (const [slot, buf] of st.buffers) tensors.set(`${name}.${slot}`, new Float32Array(buf));
    }
    const meta: OptimizerMeta = {
      format: 'fqt-optimizer',
      version: 1,
      kind: this.kind,
      lr: this.currentLr,
      hyper: this.hyper(),
      groups: this.groups.map((g) => ({ name: g.name, lrScale: g.lrScale, weightDecay: g.weightDecay, params: g.params.map(([n]) => n) })),
      steps,
    };
    return { tensors, meta };
  }

  /**
   * Restore buffers, step counts and lr from a state dict saved by an optimizer of the same kind over
   * the same parameter names. Group settings and hyperparameters come from this optimizer's
   * construction (the run's config). Everything is validated before anything changes.
   */
  loadStateDict(sd: OptimizerState): void {
    check(sd !== null && typeof sd === 'object' && sd.tensors instanceof Map && sd.meta !== null && typeof sd.meta === 'object',
      'optimizer state: expected {tensors: Map, meta}');
    const meta = sd.meta as Partial<OptimizerMeta>;
    check(meta.format === 'fqt-optimizer' && meta.version === 1, () =>
      `optimizer state: unsupported format ${JSON.stringify(meta.format)} version ${JSON.stringify(meta.version)} (expected fqt-optimizer version 1)`);
    check(meta.kind === this.kind, () => `optimizer state was saved by '${meta.kind}' but this optimizer is '${this.kind}'`);
    check(isFiniteNonNegative(meta.lr), () => `optimizer state: 'lr' must be a finite number ≥ 0, got ${JSON.stringify(meta.lr)}`);
    check(Array.isArray(meta.groups), "optimizer state: 'groups' must be a list");
    check(meta.steps !== null && typeof meta.steps === 'object' && !Array.isArray(meta.steps), "optimizer state: 'steps' must be an object");

    const saved = new Set<string>();
    for (const g of meta.groups) {
      check(g !== null && typeof g === 'object' && Array.isArray(g.params), "optimizer state: each group needs a 'params' list");
      for (const n of g.params) saved.add(String(n));
    }
    for (const n of saved) check(this.byName.has(n), () => `optimizer state has parameter '${n}', which this optimizer does not have`);
    for (const n of this.byName.keys()) check(saved.has(n), () => `optimizer state has no entry for parameter '${n}'`);

    const next = new Map<string, ParamState>();
    const expected = new Set<string>();
    for (const [name, step] of Object.entries(meta.steps)) {
      const p = this.byName.get(name);
      check(p !== undefined, () => `optimizer state: 'steps' names parameter '${name}', which this optimizer does not have`);
      check(Number.isInteger(step) && step >= 0, () => `optimizer state: step count of '${name}' must be an integer ≥ 0, got ${JSON.stringify(step)}`);
      if (step === 0) continue;
      const buffers = new Map<string, Float32Array>();
      for (const slot of this.slots) {
        const key = `${name}.${slot}`;
        expected.add(key);
        const buf = sd.tensors.get(key);
        check(buf instanceof Float32Array, () => `optimizer state: entry '${key}' is missing or not float32`);
        check(buf.length === p.size, () => `optimizer state: entry '${key}' has ${buf.length} values but parameter '${name}' has ${p.size}`);
        buffers.set(slot, new Float32Array(buf));
      }
      next.set(name, { step, buffers });
    }
    for (const key of sd.tensors.keys()) {
      check(expected.has(key), () => `optimizer state: unexpected entry '${key}' (no parameter with a step count owns it)`);
    }

    this.currentLr = meta.lr;
    this.state.clear();
    for (const [k, v] of next) this.state.set(k, v);
  }
}

/** Split named parameters in two by a predicate, e.g. rank ≤ 1 (BN and bias) vs. the rest. */
export function splitParams(params: NamedParams, pred: (name: string, t: Tensor) => boolean): [NamedParams, NamedParams] {
  const yes: NamedParams = [];
  const no: NamedParams = [];
  for (const entry of params) (pred(entry[0], entry[1]) ? yes : no).push(entry);
  return [yes, no];
}
