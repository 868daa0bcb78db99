/**
 * Orthogonal-ish row transforms applied before quantization and undone after the GEMM (DESIGN.md).
 * Block Householder (BHQ) construction, exactly as METHODS §1.5 (StatQuant `get_transform`), stored as a
 * permutation + group sizes + per-row scales and applied in O(N·D) by the blockHouseholder kernel.
 */
import { backend } from '../backend/index.js';
import { uninitF32 } from '../ops/util.js';

export const BHQ_RANGE_EPS = 1e-8;

/** T = P·blockdiag(H_G)·Pᵀ·diag(s) over N rows. */
export interface BhqTransform {
  readonly n: number;
  /** Original row indices group by group, leader first then its helpers (largest first). */
  readonly order: Int32Array;
  readonly groupSizes: Int32Array;
  /** s per original row (leader s1, helpers s2 of their group). */
  readonly rowScale: Float32Array;
  /** Number of helper rows z (METHODS §1.5 step 3). */
  readonly helpers: number;
}

/** max |H_G| entries (q_G in §1.5 step 5), from the closed form H = I − wwᵀ/(1 − a), w = (a−1, a, …, a). */
export function householderMaxAbs(g: number): number {
  if (g <= 1) return 1;
  const a = 1 / Math.sqrt(g);
  const off = (a * a) / (1 - a); // H_jj = 1 − off (j ≥ 1); H_jk = −off for j ≠ k ≥ 1 (only when G ≥ 3)
  return Math.max(a, Math.abs(1 - off), g >= 3 ? off : 0);
}

/**
 * Build T from per-row ranges r_i = max − min (ε is added here). Steps 2–7 of METHODS §1.5:
 * sort descending; grow the helper count z until z·v_{N−z−1}/S > 1 (at most N−1); allocate helpers to
 * leaders in proportion to range (c_i = round(Σ_{k≤i} z·v_k/S)); per group s1 = (λ1/√G)^(−1/3),
 * s2 = (λ2·q_G/(G−1))^(−1/3), both multiplied by sqrt(s1⁻² + s2⁻²).
 */
export function buildBhqTransform(ranges: ArrayLike<number>): BhqTransform {
  const n = ranges.length;
  const v = Array.from(ranges, (r) => r + BHQ_RANGE_EPS);
  if (n <= 1) return { n, order: Int32Array.from({ length: n }, (_, i) => i), groupSizes: Int32Array.from(n ? [1] : []), rowScale: new Float32Array(n).fill(1), helpers: 0 };
  const pi = Array.from({ length: n }, (_, i) => i).sort((i, j) => v[j] - v[i] || i - j); // descending, stable
  const sv = pi.map((i) => v[i]);
  let S = sv.reduce((a, b) => a + b, 0);
  let z = 0;
  for (;;) {
    z += 1;
    S -= sv[n - z];
    if (z >= n - 1 || (z * sv[n - z - 1]) / S > 1) break;
  }
  const L = n - z;
  const order = new Int32Array(n), groupSizes = new Int32Array(L), rowScale = new Float32Array(n);
  let cum = 0, prev = 0, pos = 0;
  for (let i = 0; i < L; i++) {
    cum += sv[i];
    const ci = i === L - 1 ? z : Math.round((z * cum) / S);
    const G = 1 + ci - prev;
    groupSizes[i] = G;
    order[pos] = pi[i];
    for (let h = 0; h < G - 1; h++) order[pos + 1 + h] = pi[L + prev + h];
    const lambda1 = sv[i], lambda2 = sv[L + prev];
    const w1 = lambda1 / Math.sqrt(G), w2 = lambda2 * householderMaxAbs(G);
    let s1 = Math.pow(w1, -1 / 3), s2 = Math.pow(w2 / (G - 1), -1 / 3);
    const norm = Math.sqrt(s1 ** -2 + s2 ** -2);
    s1 *= norm;
    s2 *= norm;
    rowScale[pi[i]] = s1;
    for (let h = 0; h < G - 1; h++) rowScale[pi[L + prev + h]] = s2;
    pos += G;
    prev = ci;
  }
  return { n, order, groupSizes, rowScale, helpers: z };
}

/** out = T·x (inverse = false) or T⁻¹·x for x viewed as [t.n, d]; inPlace overwrites x (a buffer the caller owns). */
export function applyBhq(t: BhqTransform, x: Float32Array, d: number, inverse: boolean, inPlace = false): Float32Array {
  const out = inPlace ? x : uninitF32(x.length);
  if (x.length > 0) backend().blockHouseholder(x, t.n, d, t.order, t.groupSizes, t.rowScale, inverse ? 1 : 0, out);
  return out;
}
