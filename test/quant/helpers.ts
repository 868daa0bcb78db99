/** Shared test helpers: data generators and the Monte Carlo unbiasedness test of METHODS §8 conventions. */
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import type { QTensor } from '../../src/quant/qtensor.js';

export function normals(seed: number, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  new Rng(seed).fillNormal(out, 0, std);
  return out;
}

/** Rows ~ N(0,1)·scale[row] for a [rows, cols] matrix. */
export function scaledRows(seed: number, rows: number, cols: number, scale: (r: number) => number): Float32Array {
  const x = normals(seed, rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) x[r * cols + c] *= scale(r);
  return x;
}

/** METHODS §8.2 reference data: N=128 × D=256, row scale 1e-2 except `outliers` rows with scale 1. */
export function outlierRows(seed: number, rows = 128, cols = 256, outliers = 4): Float32Array {
  return scaledRows(seed, rows, cols, (r) => (r % Math.floor(rows / outliers) === 0 ? 1 : 1e-2));
}

/** Per-element running mean / variance over draws (float64). */
export class Welford {
  readonly mean: Float64Array;
  readonly m2: Float64Array;
  k = 0;

  constructor(n: number) {
    this.mean = new Float64Array(n);
    this.m2 = new Float64Array(n);
  }

  add(x: ArrayLike<number>): void {
    this.k++;
    for (let i = 0; i < this.mean.length; i++) {
      const d = x[i] - this.mean[i];
      this.mean[i] += d / this.k;
      this.m2[i] += d * (x[i] - this.mean[i]);
    }
  }

  variance(i: number): number {
    return this.k > 1 ? this.m2[i] / (this.k - 1) : 0;
  }
}

export interface ZTestResult {
  meanZ2: number;
  maxZ: number;
  tested: number;
  maxBound: number;
}

/**
 * METHODS §8: z = (mean_K − x)/(sd/√K); unbiased ⇔ mean(z²) ∈ [0.85, 1.15] and max|z| < sqrt(2 ln(2n/1e-3)).
 * `sd` gives the true per-element standard deviation when known (otherwise the sample sd is used).
 * Elements whose draws were all identical must equal the truth within `tol(i)` (absolute, default
 * 1e-6·|x|; the float32 output grid can be coarser than the code grid) and are then not z-tested.
 * `skipMax(i)` drops elements from the max test (skewed Bernoulli: p(1−p)·K < 5).
 * `floor(i)` is a deterministic float32-rounding allowance subtracted from |mean − x| before forming z
 * (an integer GEMM and an fp32 GEMM round differently; that difference does not average out with K).
 * `minSd(i)`: elements whose sample sd is below it are treated like zero-variance ones (checked against `tol`):
 * in a network, rare rounding events (an exact zero on a non-aligned grid sits at −1e-8 and rounds up with
 * p ≈ 1e-5) leave elements that are deterministic up to float noise, where a t-statistic means nothing.
 */
export function zTest(w: Welford, truth: ArrayLike<number>, opts: { sd?: (i: number) => number; skipMax?: (i: number) => boolean; tol?: (i: number) => number; floor?: (i: number) => number; minSd?: (i: number) => number } = {}): ZTestResult {
  let sumZ2 = 0, tested = 0, maxZ = 0;
  const K = w.k;
  for (let i = 0; i < truth.length; i++) {
    const obsVar = w.variance(i);
    const err = Math.abs(w.mean[i] - truth[i]);
    const tol = opts.tol ? opts.tol(i) : 1e-6 * Math.abs(truth[i]);
    const negligible = obsVar <= 1e-300 || (opts.minSd !== undefined && Math.sqrt(obsVar) < opts.minSd(i));
    if (negligible && err <= Math.max(tol, opts.floor?.(i) ?? 0)) continue; // exact (up to float noise)
    if (negligible && opts.minSd !== undefined) assert.fail(`element ${i} has negligible variance but mean ${w.mean[i]} ≠ ${truth[i]}`);
    const sd = opts.sd ? opts.sd(i) : Math.sqrt(obsVar);
    if (sd === 0 || obsVar <= 1e-300) {
      if (opts.sd && sd > 0 && opts.skipMax?.(i)) continue; // a rare event that did not happen in K draws
      assert.fail(`element ${i} has zero variance but mean ${w.mean[i]} ≠ ${truth[i]}`);
    }
    const z = Math.max(0, err - (opts.floor?.(i) ?? 0)) / (sd / Math.sqrt(K));
    sumZ2 += z * z;
    tested++;
    if (!opts.skipMax?.(i)) maxZ = Math.max(maxZ, Math.abs(z));
  }
  const maxBound = Math.sqrt(2 * Math.log((2 * Math.max(tested, 1)) / 1e-3));
  return { meanZ2: tested ? sumZ2 / tested : 1, maxZ, tested, maxBound };
}

export function assertUnbiased(r: ZTestResult, what: string, range: [number, number] = [0.85, 1.15]): void {
  assert.ok(r.tested > 0, `${what}: nothing to test`);
  assert.ok(r.meanZ2 >= range[0] && r.meanZ2 <= range[1], `${what}: mean z² = ${r.meanZ2.toFixed(3)} outside [${range[0]}, ${range[1]}] (${r.tested} elements)`);
  assert.ok(r.maxZ < r.maxBound, `${what}: max |z| = ${r.maxZ.toFixed(2)} ≥ ${r.maxBound.toFixed(2)}`);
}

export function sqErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
  return s;
}

export function assertBitEqual(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths differ`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: element ${i} differs: ${a[i]} vs ${b[i]}`);
  }
}

/** Group index of element i of a QTensor (backend/quant-kernels.ts layout). */
export function groupOf(q: QTensor, i: number): number {
  const g = q.grouping, r = Math.floor(i / q.cols), c = i % q.cols;
  return (Math.floor(r / g.rowDiv) % g.rowMod) * g.colGroups + Math.floor(c / g.colDiv);
}

/** s = t + zp of element i (quant/rounding.ts §1), recomputed from the QTensor's parameters. */
export function codeCoordinate(q: QTensor, x: ArrayLike<number>, i: number): number {
  const g = groupOf(q, i);
  return Math.fround(Math.fround(x[i] - q.offset[g]) * Math.fround(1 / q.scale[g])) + q.zeroPoint[g];
}

/** Exact SR variance of x̂ per element: scale²·f(1−f) (METHODS §0.2). */
export function srVariance(q: QTensor, x: ArrayLike<number>, i: number): number {
  const s = codeCoordinate(q, x, i), f = s - Math.floor(s);
  return q.scale[groupOf(q, i)] ** 2 * f * (1 - f);
}
