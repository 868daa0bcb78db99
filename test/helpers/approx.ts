/** Approximate comparisons that name the worst element on failure. */
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/tensor/tensor.js';
import { fmtShape, type Shape } from '../../src/tensor/shape.js';

export interface Tolerance {
  /** Absolute tolerance (default 0). */
  atol?: number;
  /** Relative tolerance, applied to |expected| (default 0). */
  rtol?: number;
}

type Values = ArrayLike<number> | Tensor;

function valuesOf(v: Values): ArrayLike<number> {
  return 'data' in v && (v as Tensor).data instanceof Float32Array ? (v as Tensor).data : (v as ArrayLike<number>);
}

/** Largest |a−e| / (atol + rtol·|e|) over all elements; ≤ 1 passes. */
export function worstRatio(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance): { ratio: number; at: number } {
  const atol = tol.atol ?? 0, rtol = tol.rtol ?? 0;
  let ratio = 0, at = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i], e = expected[i];
    const err = Math.abs(a - e);
    const allowed = atol + rtol * Math.abs(e);
    const r = Number.isNaN(a) !== Number.isNaN(e) ? Infinity : err === 0 || Number.isNaN(err) ? 0 : err / allowed;
    if (r > ratio) { ratio = r; at = i; }
  }
  return { ratio, at };
}

/** assert |actual − expected| ≤ atol + rtol·|expected| elementwise. */
export function assertClose(actual: Values, expected: Values, tol: Tolerance, what = 'values'): void {
  const a = valuesOf(actual), e = valuesOf(expected);
  assert.equal(a.length, e.length, `${what}: ${a.length} values, expected ${e.length}`);
  const { ratio, at } = worstRatio(a, e, tol);
  if (ratio > 1) {
    assert.fail(`${what}: element ${at} is ${a[at]}, expected ${e[at]} (|diff| ${Math.abs(a[at] - e[at]).toExponential(3)}, ` +
      `${ratio.toFixed(2)}× the tolerance atol ${tol.atol ?? 0} + rtol ${tol.rtol ?? 0}·|expected|)`);
  }
}

/** Exact equality of values (as float32). */
export function assertValues(actual: Values, expected: readonly number[], what = 'values'): void {
  assert.deepEqual(Array.from(valuesOf(actual)), expected.map(Math.fround), what);
}

export function assertShape(t: Tensor, shape: Shape, what = 'shape'): void {
  assert.deepEqual([...t.shape], [...shape], `${what}: got ${fmtShape(t.shape)}, expected ${fmtShape(shape)}`);
}
