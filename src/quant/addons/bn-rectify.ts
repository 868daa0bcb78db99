/**
 * The recipe add-on `addons.bnRectify` (METHODS §4.2): a penalty on the BN noise gain (γ/σ)² added to the
 * task loss. The formula is OUR RECONSTRUCTION — the paper's loss (ICLR 2023 submission 87n67AtiHo) was
 * never published — so every place a user meets it says "reconstructed". The loss is the autograd op of
 * ops/bn-rectify.ts (which also defines the spec type), its trainer hook is train/bn-rectify.ts; this file only
 * validates the data.
 *   { "form": "ratio", "lambda": 1e-3 }              R = Σ_l (1/C_l) Σ_c (γ_c/σ_c)²
 *   { "form": "hinge", "lambda": 1e-3, "tau": 1 }    R = Σ_l (1/C_l) Σ_c max(0, (γ_c/σ_c)² − τ)
 */
import { checkKeys, expectObject, expectOneOf, fail, show } from '../validate.js';
import type { BnRectifySpec } from '../../ops/bn-rectify.js';

export type { BnRectifySpec };

export const BN_RECTIFY_FORMS = ['ratio', 'hinge'] as const;

/** What reports and logs call the add-on (METHODS §4.2 asks for exactly this wording). */
export const BN_RECTIFY_NAME = "BN rectification (reconstructed, not the paper's published formula)";

function finiteNumber(v: unknown, path: string, what: string, ok: (x: number) => boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) fail(path, `must be ${what}, got ${show(v)}`);
  return v;
}

export const MAX_LAMBDA = 100;

/** Validate `addons.bnRectify` (form defaults to 'ratio', tau to 1 for the hinge; lambda is required). */
export function parseBnRectify(raw: unknown, path: string): BnRectifySpec {
  const o = expectObject(raw, path);
  checkKeys(o, ['form', 'lambda', 'tau'], path);
  const form = o.form === undefined ? 'ratio' : expectOneOf(o.form, `${path}.form`, BN_RECTIFY_FORMS);
  if (o.lambda === undefined) fail(`${path}.lambda`, 'missing (the weight λ of the penalty, e.g. 1e-3; METHODS §4.2 sweeps 1e-4 … 1e-2)');
  // λ ≤ 100: METHODS §4.2 sweeps 1e-4 … 1e-2; far larger weights only drown the task loss (1e30 overflowed it).
  const lambda = finiteNumber(o.lambda, `${path}.lambda`, `a finite number in [0, ${MAX_LAMBDA}]`, (x) => x >= 0 && x <= MAX_LAMBDA);
  if (form === 'ratio') {
    if (o.tau !== undefined) fail(`${path}.tau`, "is only used by form 'hinge' (form 'ratio' penalizes every channel)");
    return { form, lambda };
  }
  const tau = o.tau === undefined ? 1 : finiteNumber(o.tau, `${path}.tau`, 'a finite number in (0, 1e6] (the gain (γ/σ)² above which a channel is penalized)', (x) => x > 0 && x <= 1e6);
  return { form, lambda, tau };
}

/** One line for logs: "BN rectification (reconstructed, …): ratio, λ = 0.001". */
export function describeBnRectify(s: BnRectifySpec): string {
  return `${BN_RECTIFY_NAME}: ${s.form}${s.form === 'hinge' ? ` τ = ${s.tau}` : ''}, λ = ${s.lambda}`;
}
