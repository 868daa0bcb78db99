/**
 * The path table of the quantized layer GEMMs: one entry per GemmPath (plan.ts), with the planner that decides
 * whether the path fits two operands and the runner that computes C = op(A)·op(B)ᵀ on it. planGemm asks the
 * entries in PATH_ORDER (fp32, the exact bit paths, the int8 paths) and falls back to 'fp32-dequant', giving the
 * reason the integer paths refused; runGemm dispatches on the planned path. Adding a path = one entry here,
 * its reference kernels and conformance tests.
 */
import { backend } from '../../backend/index.js';
import { check } from '../../tensor/errors.js';
import { bitPaths } from './bit.js';
import { int8Paths } from './int8.js';
import { int8ConvRunners } from './int8-conv.js';
import { dequantConvRunners, fp32ConvRunners } from './dequant-conv.js';
import { dims as operandDims, type GemmOperand, materialize } from './operand.js';
import type { ConvRunners, GemmDims, GemmPath, GemmPathImpl, GemmPlan, LayerPass, OperandPlan, PlanAnswer } from './plan.js';
import type { QuantSpec } from '../spec.js';

/** fp32 / fp32-dequant: sgemmT reads a transposed operand where it is (no transposed copy). */
function runFloat(a: GemmOperand, aT: boolean, b: GemmOperand, bT: boolean, _plan: GemmPlan, dims: GemmDims): Float32Array {
  const { m, n, k } = dims;
  const c = new Float32Array(m * n);
  backend().sgemmT(m, n, k, materialize(a, false), aT ? 1 : 0, materialize(b, false), bT ? 1 : 0, c);
  return c;
}

export const GEMM_PATHS: { readonly [P in GemmPath]: GemmPathImpl } = {
  fp32: {
    plan: (a, b) => (a.spec === null && b.spec === null ? { path: 'fp32', kBlock: null } : null),
    run: runFloat,
    conv: fp32ConvRunners,
  },
  ...bitPaths,
  int8: { ...int8Paths.int8, conv: int8ConvRunners },
  'int8-blocked': { ...int8Paths['int8-blocked'], conv: int8ConvRunners },
  'fp32-dequant': {
    // The fallback: planGemm gives it the reason the integer paths refused.
    plan: () => ({ path: 'fp32-dequant', kBlock: null }),
    run: runFloat,
    conv: dequantConvRunners,
  },
};

/** The order planGemm asks the paths in: exact integer paths before the dequantized fallback. */
const PATH_ORDER: readonly GemmPath[] = ['fp32', 'b1', 'bitplane', 'bitplane-blocked', 'int8', 'int8-blocked', 'fp32-dequant'];

/** The first plan `ask` gives (entries in order); 'fp32-dequant' gets the first refusal's reason; null if all are silent. */
function firstPlan<T>(entries: readonly T[], ask: (e: T) => PlanAnswer, fallback: string): GemmPlan | null {
  let reason: string | undefined;
  for (const e of entries) {
    const answer = ask(e);
    if (answer === null) continue;
    if ('reject' in answer) {
      reason ??= answer.reject;
      continue;
    }
    return answer.path === 'fp32-dequant' ? { ...answer, reason: reason ?? fallback } : answer;
  }
  return null;
}

export function planGemm(a: OperandPlan, b: OperandPlan): GemmPlan {
  const plan = firstPlan(PATH_ORDER, (path) => GEMM_PATHS[path].plan(a, b), 'no integer path fits these operands');
  if (plan === null) throw new Error('internal: the fp32-dequant path accepts every GEMM');
  return plan;
}

/** The distinct conv runners, in PATH_ORDER (int8 and int8-blocked share theirs). */
const CONV_RUNNERS: readonly ConvRunners[] = [...new Set(PATH_ORDER.flatMap((path) => GEMM_PATHS[path].conv ?? []))];

/**
 * The plan of one pass of a conv-level fused layer (fused.ts): the first path in PATH_ORDER whose conv runners
 * take it; the reason the integer runners gave when a float path takes it; null when no conv runner fits (the layer
 * then runs on im2col rows).
 */
export function planConvPass(pass: LayerPass, a: QuantSpec | null, b: QuantSpec | null, shape: { oc: number; k: number; rowsPerSample: number }): GemmPlan | null {
  return firstPlan(CONV_RUNNERS, (runners) => runners.plan(pass, a, b, shape), 'no integer kernel fits these operands');
}

/** C = op(A)·op(B)ᵀ on the planned path; op = transpose when the flag is set. */
export function runGemm(a: GemmOperand, aT: boolean, b: GemmOperand, bT: boolean, plan: GemmPlan): Float32Array {
  const [ar, ac] = operandDims(a), [br, bc] = operandDims(b);
  const m = aT ? ac : ar, k = aT ? ar : ac, n = bT ? bc : br;
  check((bT ? br : bc) === k, () => `internal: GEMM operands disagree on K (${k} vs ${bT ? br : bc})`);
  return GEMM_PATHS[plan.path].run(a, aT, b, bT, plan, { m, n, k });
}
