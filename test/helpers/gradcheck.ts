/**
 * Finite-difference gradient checks (DESIGN.md "Testing ladder", step 2).
 *
 * Method. For f: inputs → output y (float32), the check differentiates the scalar
 *     L(inputs) = Σ_i r_i · y_i         (r: a fixed random direction, the sum taken in float64)
 * Reverse mode gives ∂L/∂x in one `grad(y, r)` call (r is the seed gradient). The numerical
 * derivative of L along each input element x_j is a central difference
 *     (L(x_j + h) − L(x_j − h)) / (x_j⁺ − x_j⁻),        h = step · max(1, |x_j|)
 * where x_j^± are the float32 values actually stored (so the rounding of x_j ± h cancels exactly).
 *
 * Error budget (why the default tolerances hold with a wide margin):
 * - Truncation of the central difference: h²/6 · |∂³L/∂x_j³| ≈ 2·10⁻⁵·|L'''| for step 1e-2 and unit-scale
 *   inputs; the ops are checked on inputs where L''' = O(1..10) (log and sqrt away from 0, kinks of
 *   relu/abs/clamp/max at least `margin` > h away), i.e. ≲ 2·10⁻⁴ relative.
 * - Rounding: y is float32 (relative error ε = 6·10⁻⁸ per stored value, a few roundings in composed ops).
 *   Only the outputs that depend on x_j change between the two evaluations — the others are bitwise
 *   identical and cancel — so the error of the difference quotient is ≈ √k·c·ε·|y|/(2h) ≈ 10⁻⁵ for k
 *   dependent outputs of unit size (k ≤ a few hundred here).
 * - The analytic gradient itself is computed in float32 with float64 accumulation: relative error ≈ 10⁻⁶.
 * Hence the default test: |num − ana| ≤ atol·scale + rtol·|ana| with rtol = atol = 2·10⁻³ and scale =
 * max(1, max_j |ana_j|) — an order of magnitude above the budget, yet a wrong backward (a missing
 * factor, a wrong index, a transposed operand) is off by O(1)·scale and fails by orders of magnitude.
 */
import assert from 'node:assert/strict';
import { grad } from '../../src/autograd/graph.js';
import { noGrad } from '../../src/autograd/mode.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { fmtShape } from '../../src/tensor/shape.js';
import { randn } from './tensors.js';

export interface GradCheckOptions {
  /** Relative central-difference step (h = step · max(1, |x|)). Default 1e-2. */
  step?: number;
  /** Default 2e-3 (see the error budget above). */
  rtol?: number;
  /** Absolute tolerance in units of max(1, max |analytic gradient|). Default 2e-3. */
  atol?: number;
  /** Seed of the projection direction r. Default 12345. */
  seed?: number;
  /** Indices of the inputs to check (default: all). The others are constants. */
  wrt?: readonly number[];
}

export interface GradCheckResult {
  /** Per checked input: worst |num − ana| / allowed (≤ 1 passes). */
  ratios: number[];
  /** Per checked input: worst |num − ana| / max(1, max|ana|). */
  scaledErrors: number[];
}

/** Project y onto r in float64. */
function project(y: Tensor, r: Float32Array): number {
  let s = 0;
  for (let i = 0; i < r.length; i++) s += r[i] * y.data[i];
  return s;
}

/**
 * Check every backward reached from `f` against central differences. `f` must be a pure function of
 * its inputs' values (build any mutable state, e.g. BN running statistics or a dropout Rng, inside f).
 */
export function gradCheck(name: string, f: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[],
  opts: GradCheckOptions = {}): GradCheckResult {
  const step = opts.step ?? 1e-2, rtol = opts.rtol ?? 2e-3, atol = opts.atol ?? 2e-3;
  const wrt = opts.wrt ?? inputs.map((_, i) => i);
  const leaves = inputs.map((t, i) => new Tensor(new Float32Array(t.data), t.shape, wrt.includes(i)));
  const y = f(...leaves);
  assert.ok(y.requiresGrad, `${name}: output does not require a gradient`);
  const r = randn(y.shape, opts.seed ?? 12345);
  const grads = grad(y, r);
  const ratios: number[] = [];
  const scaledErrors: number[] = [];
  for (const k of wrt) {
    const x = leaves[k];
    const g = grads.get(x);
    const ana = g ? g.data : new Float32Array(x.size);
    if (g) assert.deepEqual([...g.shape], [...x.shape], `${name}: gradient of input ${k} has shape ${fmtShape(g.shape)}, input ${fmtShape(x.shape)}`);
    let scale = 1;
    for (const v of ana) scale = Math.max(scale, Math.abs(v));
    let worst = 0, worstAt = -1, worstNum = 0, worstErr = 0;
    for (let j = 0; j < x.size; j++) {
      const orig = x.data[j];
      const h = step * Math.max(1, Math.abs(orig));
      x.data[j] = orig + h;
      const xp = x.data[j];
      const lp = noGrad(() => project(f(...leaves), r.data));
      x.data[j] = orig - h;
      const xm = x.data[j];
      const lm = noGrad(() => project(f(...leaves), r.data));
      x.data[j] = orig;
      const num = (lp - lm) / (xp - xm);
      const err = Math.abs(num - ana[j]);
      const ratio = err / (atol * scale + rtol * Math.abs(ana[j]));
      worstErr = Math.max(worstErr, err / scale);
      if (!(ratio <= worst)) { worst = ratio; worstAt = j; worstNum = num; }
    }
    ratios.push(worst);
    scaledErrors.push(worstErr);
    if (process.env.GRADCHECK_VERBOSE) {
      process.stderr.write(`gradcheck ${name} input ${k}: worst ratio ${worst.toFixed(4)}, worst |num−ana|/scale ${worstErr.toExponential(2)}\n`);
    }
    assert.ok(worst <= 1, `${name}: d/d(input ${k} ${fmtShape(x.shape)})[${worstAt}] analytic ${ana[worstAt]} vs numerical ${worstNum} ` +
      `(${worst.toFixed(2)}× the tolerance; scale ${scale.toPrecision(3)})`);
  }
  return { ratios, scaledErrors };
}

export interface ParamCheckOptions {
  /** Central-difference steps tried (absolute); the element passes if any of them agrees. Default [1e-3, 2.5e-4]. */
  steps?: readonly number[];
  /** Default 1e-2. */
  rtol?: number;
  /** In units of max(1e-2, max |analytic| over the tensor). Default 2e-3. */
  atol?: number;
  /** Elements checked per tensor (spread evenly; all when the tensor is smaller). Default 6. */
  samples?: number;
}

/**
 * Model-level check: `loss()` computes a scalar from tensors it owns (a model's parameters, an input);
 * each listed tensor's data is perturbed in place, a few elements per tensor. The loss must be a pure
 * function of those values (BN in training mode is: it normalises with batch statistics, and the
 * running statistics it updates are not read).
 *
 * Through a whole network one weight moves many ReLU inputs, and a difference that straddles a kink is
 * off by O(h·Δslope) — observed up to 4 % at h = 1e-3 in a pre-activation stem, shrinking to 0.1 % at
 * h = 3e-4. A smaller step is limited by float32 rounding of the loss instead (≈ 10⁻⁷/h). So each
 * element is tried at two steps, one in each regime, and passes when either agrees within
 * |num − ana| ≤ atol·scale + rtol·|ana| (rtol 1 %, atol 0.2 % of the tensor's largest gradient entry).
 * A wrong backward fails at both steps. Returns the worst best-of-steps ratio (≤ 1 passes).
 */
export function gradCheckParams(name: string, loss: () => Tensor, tensors: readonly [string, Tensor][],
  opts: ParamCheckOptions = {}): number {
  const steps = opts.steps ?? [1e-3, 2.5e-4], rtol = opts.rtol ?? 1e-2, atol = opts.atol ?? 2e-3, samples = opts.samples ?? 6;
  const grads = grad(loss());
  let worstOverall = 0;
  for (const [pname, t] of tensors) {
    const g = grads.get(t);
    assert.ok(g, `${name}: no gradient for ${pname}`);
    let scale = 1e-2;
    for (const v of g.data) scale = Math.max(scale, Math.abs(v));
    const count = Math.min(samples, t.size);
    for (let s = 0; s < count; s++) {
      const j = Math.floor(((s + 0.5) * t.size) / count) % t.size;
      const orig = t.data[j];
      let best = Infinity, bestNum = NaN;
      for (const h of steps) {
        t.data[j] = orig + h;
        const xp = t.data[j];
        const lp = noGrad(() => loss().item());
        t.data[j] = orig - h;
        const xm = t.data[j];
        const lm = noGrad(() => loss().item());
        t.data[j] = orig;
        const num = (lp - lm) / (xp - xm);
        const ratio = Math.abs(num - g.data[j]) / (atol * scale + rtol * Math.abs(g.data[j]));
        if (ratio < best) { best = ratio; bestNum = num; }
      }
      worstOverall = Math.max(worstOverall, best);
      if (process.env.GRADCHECK_VERBOSE) process.stderr.write(`gradcheck ${name} ${pname}[${j}]: analytic ${g.data[j].toExponential(4)} numerical ${bestNum.toExponential(4)} ratio ${best.toFixed(3)}\n`);
      assert.ok(best <= 1, `${name}: d/d${pname}[${j}] analytic ${g.data[j]} vs numerical ${bestNum} (${best.toFixed(2)}× the tolerance; scale ${scale.toPrecision(3)})`);
    }
  }
  return worstOverall;
}
