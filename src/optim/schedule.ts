/**
 * Learning-rate schedules as pure functions of the iteration: `lrAt(iteration, itersPerEpoch)` has no
 * hidden state, so a resumed run gets exactly the lr it would have had.
 *
 * Durations (milestones, stepSize, total, warmup.length) are in `unit` ('epoch' by default, fractions
 * allowed) and are converted to whole iterations with round(x · itersPerEpoch).
 *   constant: lr
 *   step:     lr · gamma^k, k = milestones passed (iteration ≥ milestone) or ⌊iteration / stepSize⌋
 *   cosine:   minLr + (lr − minLr)·(1 + cos(π·min(iteration, total)/total))/2
 *   warmup:   multiplies any of them by startFactor + (1 − startFactor)·iteration/length while
 *             iteration < length (the underlying schedule is not shifted, as in timm).
 */
import { check, FqtError } from '../tensor/errors.js';

export type ScheduleUnit = 'epoch' | 'iteration';

export interface WarmupSpec {
  /** Length of the linear ramp, in the schedule's unit. */
  length: number;
  /** Multiplier at iteration 0. Default 0.1. */
  startFactor?: number;
}

interface BaseSpec {
  /** Peak (base) learning rate. */
  lr: number;
  unit?: ScheduleUnit;
  warmup?: WarmupSpec;
}

export interface ConstantSpec extends BaseSpec { kind: 'constant' }
export interface StepSpec extends BaseSpec {
  kind: 'step';
  /** Decay factor per step. Default 0.1. */
  gamma?: number;
  /** Points (ascending) where the lr is multiplied by gamma; give this or stepSize. */
  milestones?: number[];
  /** Multiply by gamma every stepSize units; give this or milestones. */
  stepSize?: number;
}
export interface CosineSpec extends BaseSpec {
  kind: 'cosine';
  /** Length of the decay; the lr stays at minLr after it. */
  total: number;
  /** Default 0. */
  minLr?: number;
}

export type ScheduleSpec = ConstantSpec | StepSpec | CosineSpec;

export const SCHEDULE_KINDS = ['constant', 'step', 'cosine'] as const;

export interface Schedule {
  readonly spec: Readonly<ScheduleSpec>;
  /** Short description for logs, e.g. 'cosine 0.1→0 over 90 epoch, warmup 5'. */
  readonly label: string;
  lrAt(iteration: number, itersPerEpoch: number): number;
}

const COMMON_KEYS = ['kind', 'lr', 'unit', 'warmup'];
const KIND_KEYS: Record<ScheduleSpec['kind'], string[]> = {
  constant: [],
  step: ['gamma', 'milestones', 'stepSize'],
  cosine: ['total', 'minLr'],
};

function positiveNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x > 0;
}

function nonNegativeNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && x >= 0;
}

function checkKeys(obj: object, valid: string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if ((obj as Record<string, unknown>)[key] === undefined) continue;
    check(valid.includes(key), () => `${where}: unknown key '${key}' (valid: ${valid.join(', ')})`);
  }
}

/** Validate a schedule spec (unknown keys and impossible values are rejected, naming the key). */
export function validateScheduleSpec(input: unknown): ScheduleSpec {
  check(input !== null && typeof input === 'object' && !Array.isArray(input), 'schedule: expected an object');
  const spec = input as Record<string, unknown>;
  const kind = spec.kind as ScheduleSpec['kind'];
  check(typeof kind === 'string' && (SCHEDULE_KINDS as readonly string[]).includes(kind), () =>
    `schedule: unknown kind ${JSON.stringify(spec.kind)} (valid: ${SCHEDULE_KINDS.join(', ')})`);
  const where = `schedule '${kind}'`;
  checkKeys(spec, [...COMMON_KEYS, ...KIND_KEYS[kind]], where);
  check(nonNegativeNumber(spec.lr), () => `${where}: 'lr' must be a finite number ≥ 0, got ${JSON.stringify(spec.lr)}`);
  check(spec.unit === undefined || spec.unit === 'epoch' || spec.unit === 'iteration', () =>
    `${where}: 'unit' must be 'epoch' or 'iteration', got ${JSON.stringify(spec.unit)}`);
  if (spec.warmup !== undefined) {
    const w = spec.warmup as Record<string, unknown>;
    check(w !== null && typeof w === 'object' && !Array.isArray(w), () => `${where}: 'warmup' must be an object {length, startFactor?}`);
    checkKeys(w, ['length', 'startFactor'], `${where}: warmup`);
    check(nonNegativeNumber(w.length), () => `${where}: 'warmup.length' must be a finite number ≥ 0, got ${JSON.stringify(w.length)}`);
    check(w.startFactor === undefined || (nonNegativeNumber(w.startFactor) && w.startFactor <= 1), () =>
      `${where}: 'warmup.startFactor' must be in [0, 1], got ${JSON.stringify(w.startFactor)}`);
  }
  if (kind === 'step') {
    check(spec.gamma === undefined || (nonNegativeNumber(spec.gamma) && spec.gamma <= 1), () =>
      `${where}: 'gamma' must be in [0, 1], got ${JSON.stringify(spec.gamma)}`);
    check((spec.milestones === undefined) !== (spec.stepSize === undefined), () => `${where}: give exactly one of 'milestones' and 'stepSize'`);
    if (spec.milestones !== undefined) {
      const ms = spec.milestones;
      check(Array.isArray(ms) && ms.every(positiveNumber), () => `${where}: 'milestones' must be a list of positive numbers, got ${JSON.stringify(ms)}`);
      check(ms.every((m, i) => i === 0 || m > ms[i - 1]), () => `${where}: 'milestones' must be strictly increasing, got ${JSON.stringify(ms)}`);
    } else {
      check(positiveNumber(spec.stepSize), () => `${where}: 'stepSize' must be a positive number, got ${JSON.stringify(spec.stepSize)}`);
    }
  }
  if (kind === 'cosine') {
    check(positiveNumber(spec.total), () => `${where}: 'total' must be a positive number, got ${JSON.stringify(spec.total)}`);
    check(spec.minLr === undefined || nonNegativeNumber(spec.minLr), () => `${where}: 'minLr' must be a finite number ≥ 0, got ${JSON.stringify(spec.minLr)}`);
    check((spec.minLr ?? 0) <= (spec.lr as number), () => `${where}: 'minLr' (${spec.minLr}) is above 'lr' (${spec.lr})`);
  }
  return JSON.parse(JSON.stringify(spec)) as ScheduleSpec;
}

/** Duration in `unit` → whole iterations. */
function toIters(x: number, unit: ScheduleUnit, itersPerEpoch: number): number {
  return unit === 'iteration' ? Math.round(x) : Math.round(x * itersPerEpoch);
}

function baseLrAt(spec: ScheduleSpec, it: number, unit: ScheduleUnit, ipe: number): number {
  switch (spec.kind) {
    case 'constant':
      return spec.lr;
    case 'step': {
      const gamma = spec.gamma ?? 0.1;
      let k: number;
      if (spec.milestones !== undefined) {
        k = spec.milestones.filter((m) => it >= toIters(m, unit, ipe)).length;
      } else {
        k = Math.floor(it / Math.max(1, toIters(spec.stepSize!, unit, ipe)));
      }
      return spec.lr * Math.pow(gamma, k);
    }
    case 'cosine': {
      const total = Math.max(1, toIters(spec.total, unit, ipe));
      const minLr = spec.minLr ?? 0;
      const t = Math.min(it, total) / total;
      return minLr + (spec.lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * t));
    }
    default: {
      const unknown: never = spec; // a new kind must be handled above
      throw new FqtError(`schedule: unknown kind '${(unknown as { kind: string }).kind}'`);
    }
  }
}

function describe(spec: ScheduleSpec): string {
  const unit = spec.unit ?? 'epoch';
  let s: string;
  switch (spec.kind) {
    case 'constant': s = `constant ${spec.lr}`; break;
    case 'step': s = spec.milestones !== undefined
      ? `step ${spec.lr} ×${spec.gamma ?? 0.1} at ${unit} ${spec.milestones.join(',')}`
      : `step ${spec.lr} ×${spec.gamma ?? 0.1} every ${spec.stepSize} ${unit}`; break;
    case 'cosine': s = `cosine ${spec.lr}→${spec.minLr ?? 0} over ${spec.total} ${unit}`; break;
  }
  return spec.warmup && spec.warmup.length > 0 ? `${s}, warmup ${spec.warmup.length}` : s;
}

/** Build a schedule from a (validated) spec. */
export function createSchedule(input: ScheduleSpec | unknown): Schedule {
  const spec = Object.freeze(validateScheduleSpec(input));
  const unit = spec.unit ?? 'epoch';
  return {
    spec,
    label: describe(spec),
    lrAt(iteration: number, itersPerEpoch: number): number {
      check(Number.isInteger(iteration) && iteration >= 0, () => `schedule: iteration must be an integer ≥ 0, got ${iteration}`);
      check(Number.isInteger(itersPerEpoch) && itersPerEpoch > 0, () => `schedule: itersPerEpoch must be a positive integer, got ${itersPerEpoch}`);
      let lr = baseLrAt(spec, iteration, unit, itersPerEpoch);
      if (spec.warmup !== undefined) {
        const w = toIters(spec.warmup.length, unit, itersPerEpoch);
        if (iteration < w) {
          const start = spec.warmup.startFactor ?? 0.1;
          lr *= start + (1 - start) * (iteration / w);
        }
      }
      return lr;
    },
  };
}
