/**
 * The int8 GEMM paths ('int8', 'int8-blocked') on layer-layout codes, with affine codes (METHODS §0.3 "Integer
 * GEMM with affine codes"). Each operand is written as x = Δ·(q' − ζ) with int8 codes q' = code − shift and a
 * float residual zero point ζ = zp − shift − offset/Δ per (row, K-block). The shift is chosen so q' fits int8
 * (and ζ = 0 when possible: symmetric codes, or zero-aligned codes whose zero point fits). Then, per K-block
 * with n_kb elements and code sums S:
 *   Σ_k A·B = ΔAΔB·[Σ qa'qb' − ζB·SA − ζA·SB + n_kb·ζA·ζB]
 * The first term is gemmI8 (symmetric scales in the epilogue); the rest is one small sgemm with K' = 2·nkb:
 *   A'[i, 2kb..] = [ΔA·SA, ΔA·ζA],  B'[j, 2kb..] = [−ΔB·ζB, ΔB·(n_kb·ζB − SB)].
 */
import { backend } from '../../backend/index.js';
import { check } from '../../tensor/errors.js';
import { groupAt, type QTensor } from '../qtensor.js';
import { applyBhq } from '../transforms.js';
import { specCodeBits, specMixesRows, specZeroNotExact } from '../quantizers/index.js';
import { type GemmDims, type GemmPathImpl, type GemmPlan, kBlockOf, MIN_INT_KBLOCK, type OperandPlan, type PlanAnswer } from './plan.js';
import type { GemmOperand } from './operand.js';

interface Int8Operand {
  codes: Int8Array;
  scale: Float32Array; // [rows·nkb]
  zero: Float32Array; // residual zero point ζ per (row, K-block)
  hasZero: boolean;
}

function int8Operand(q: QTensor, transpose: boolean, kBlock: number, k: number): Int8Operand {
  const g = q.grouping;
  const groups = g.rowGroups * g.colGroups;
  const shift = new Int32Array(groups), zeta = new Float64Array(groups);
  for (let i = 0; i < groups; i++) {
    const zp = q.zeroPoint[i];
    let s: number;
    if (q.signed) s = 0;
    else if (q.offset[i] === 0 && q.qmin - zp >= -128 && q.qmax - zp <= 127) s = zp;
    else s = q.qmax <= 127 ? 0 : 128;
    shift[i] = s;
    zeta[i] = zp - s - (q.offset[i] === 0 ? 0 : q.offset[i] / q.scale[i]);
  }
  const codes = new Int8Array(q.rows * q.cols);
  if (codes.length > 0) backend().codesToI8(q.codes, q.rows, q.cols, g.rowDiv, g.rowMod, g.colDiv, shift, transpose ? 1 : 0, codes);
  const m = transpose ? q.cols : q.rows;
  const nkb = Math.ceil(k / kBlock) || 0;
  const scale = new Float32Array(m * nkb), zero = new Float32Array(m * nkb);
  let hasZero = false;
  for (let i = 0; i < m; i++) {
    for (let kb = 0; kb < nkb; kb++) {
      const kk = kb * kBlock;
      const grp = transpose ? groupAt(g, kk, i) : groupAt(g, i, kk);
      scale[i * nkb + kb] = q.scale[grp];
      zero[i * nkb + kb] = zeta[grp];
      if (zeta[grp] !== 0) hasZero = true;
    }
  }
  return { codes, scale, zero, hasZero };
}

function int8Gemm(a: QTensor, aT: boolean, b: QTensor, bT: boolean, m: number, n: number, k: number, kBlock: number): Float32Array {
  const A = int8Operand(a, aT, kBlock, k), B = int8Operand(b, bT, kBlock, k);
  const be = backend();
  const c = new Float32Array(m * n);
  be.gemmI8(m, n, k, kBlock, A.codes, B.codes, A.scale, B.scale, c);
  if (!A.hasZero && !B.hasZero) return c;
  const nkb = Math.ceil(k / kBlock) || 0;
  const sumA = new Int32Array(m * nkb), sumB = new Int32Array(n * nkb);
  be.codeBlockSums(m, k, kBlock, A.codes, sumA);
  be.codeBlockSums(n, k, kBlock, B.codes, sumB);
  const a2 = new Float32Array(m * 2 * nkb), b2 = new Float32Array(n * 2 * nkb);
  for (let i = 0; i < m; i++) {
    for (let kb = 0; kb < nkb; kb++) {
      const s = A.scale[i * nkb + kb];
      a2[i * 2 * nkb + 2 * kb] = s * sumA[i * nkb + kb];
      a2[i * 2 * nkb + 2 * kb + 1] = s * A.zero[i * nkb + kb];
    }
  }
  for (let j = 0; j < n; j++) {
    for (let kb = 0; kb < nkb; kb++) {
      const s = B.scale[j * nkb + kb], z = B.zero[j * nkb + kb];
      const len = Math.min(k, (kb + 1) * kBlock) - kb * kBlock;
      b2[j * 2 * nkb + 2 * kb] = -s * z;
      b2[j * 2 * nkb + 2 * kb + 1] = s * (len * z - sumB[j * nkb + kb]);
    }
  }
  const corr = new Float32Array(m * n);
  be.sgemm(m, n, 2 * nkb, a2, b2, corr);
  const strides = Int32Array.of(1);
  be.binary('add', c, strides, corr, strides, Int32Array.of(m * n), c);
  return c;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** Why two quantized operands cannot take an int8 path (null: they can, given suitable K-blocks). */
function int8Obstacle(a: OperandPlan, b: OperandPlan): string | null {
  if (a.spec === null || b.spec === null) return `the ${a.spec === null ? 'first' : 'second'} operand is fp32`;
  if ([a, b].some((op) => op.padded && specZeroNotExact(op.spec!))) return 'sign(0) = +1 on conv padding needs the bit-GEMM correction (no integer path fits)';
  if ([a, b].some((op) => specCodeBits(op.spec!) > 8)) return 'codes wider than 8 bits';
  if (specMixesRows(b.spec)) return 'a row transform on the second operand';
  if (a.transposed && specMixesRows(a.spec)) return 'the BHQ transform mixes rows along the reduced axis K';
  return null;
}

/** The K-block both operands' scales are constant on (null: all of K). */
function commonKBlock(a: OperandPlan, b: OperandPlan): number | null {
  const blocks = [kBlockOf(a), kBlockOf(b)].filter((x): x is number => x !== null);
  if (blocks.length === 0) return null;
  const kBlock = blocks.reduce(gcd);
  // A non-transposed operand's K is its (known) width: a block covering it is one block.
  const kKnown = !a.transposed ? a.cols : !b.transposed ? b.cols : null;
  return kKnown !== null && kBlock >= kKnown ? null : kBlock;
}

function runInt8(a: GemmOperand, aT: boolean, b: GemmOperand, bT: boolean, plan: GemmPlan, dims: GemmDims): Float32Array {
  const { m, n, k } = dims;
  check(a.kind === 'quant' && b.kind === 'quant', 'internal: integer GEMM path with an fp32 operand');
  check(b.value.transform === null && (!aT || a.value.transform === null), 'internal: integer GEMM path with a row transform along K');
  const kBlock = plan.kBlock === null ? Math.max(1, k) : plan.kBlock;
  let c = int8Gemm(a.value.q, aT, b.value.q, bT, m, n, k, kBlock);
  const t = a.value.transform; // the plan guarantees: only on A, not transposed → undo it on C's rows
  if (t && c.length > 0) c = applyBhq(t, c, (m * n) / t.n, true, true);
  return c;
}

export const int8Paths: { readonly [P in 'int8' | 'int8-blocked']: GemmPathImpl } = {
  int8: {
    plan(a, b): PlanAnswer {
      const why = int8Obstacle(a, b);
      if (why !== null) return { reject: why };
      return commonKBlock(a, b) === null ? { path: 'int8', kBlock: null } : null;
    },
    run: runInt8,
  },
  'int8-blocked': {
    plan(a, b): PlanAnswer {
      if (int8Obstacle(a, b) !== null) return null;
      const kBlock = commonKBlock(a, b);
      if (kBlock === null) return null;
      if (kBlock < MIN_INT_KBLOCK) return { reject: `scales change every ${kBlock} element${kBlock === 1 ? '' : 's'} along K (min K-block ${MIN_INT_KBLOCK})` };
      return { path: 'int8-blocked', kBlock };
    },
    run: runInt8,
  },
};
