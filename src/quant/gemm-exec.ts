/**
 * Runs one layer GEMM C[M,N] = A[M,K]·B[N,K]ᵀ on the path chosen by gemm-plan.ts. Operands are layer-layout
 * matrices consumed as-is or transposed.
 *
 * Integer path with affine codes (METHODS §0.3 "Integer GEMM with affine codes"). Each operand is written as
 * x = Δ·(q' − ζ) with int8 codes q' = code − shift and a float residual zero point ζ = zp − shift − offset/Δ
 * per (row, K-block). The shift is chosen so q' fits int8 (and ζ = 0 when possible: symmetric codes, or
 * zero-aligned codes whose zero point fits). Then, per K-block with n_kb elements and code sums S:
 *   Σ_k A·B = ΔAΔB·[Σ qa'qb' − ζB·SA − ζA·SB + n_kb·ζA·ζB]
 * The first term is gemmI8 (symmetric scales in the epilogue); the rest is one small sgemm with K' = 2·nkb:
 *   A'[i, 2kb..] = [ΔA·SA, ΔA·ζA],  B'[j, 2kb..] = [−ΔB·ζB, ΔB·(n_kb·ζB − SB)].
 */
import { backend } from '../backend/index.js';
import { check } from '../tensor/errors.js';
import type { GemmPlan } from './gemm-plan.js';
import type { QuantizedOperand } from './quantize.js';
import { dequantize, type QTensor } from './qtensor.js';
import { applyBhq } from './transforms.js';
import { type PadInfo, runBitGemm, transposedF32 } from './bit-gemm.js';

/** `pad`: the operand holds conv im2col rows whose padded entries must count as 0 (sign(0) = +1, bit-gemm.ts). */
export type GemmOperand =
  | { kind: 'fp32'; data: Float32Array; rows: number; cols: number }
  | { kind: 'quant'; value: QuantizedOperand; pad?: PadInfo };

/**
 * Reusable buffers for a run of GEMMs on chunks of one layer (quant/qconv.ts): each role's buffer grows to the
 * largest request and is handed out again as a view, so a chunked layer leaves one buffer per role behind, not one
 * per chunk. A GEMM given a scratch returns a view into it: consume it before the next GEMM on the same scratch.
 */
export class GemmScratch {
  private readonly buffers = new Map<string, ArrayBuffer>();

  private bytes(role: string, n: number): ArrayBuffer {
    let b = this.buffers.get(role);
    if (!b || b.byteLength < n) this.buffers.set(role, (b = new ArrayBuffer(n)));
    return b;
  }

  f32(role: string, n: number): Float32Array {
    return new Float32Array(this.bytes(role, 4 * n), 0, n);
  }

  i8(role: string, n: number): Int8Array {
    return new Int8Array(this.bytes(role, n), 0, n);
  }

  u8(role: string, n: number): Uint8Array {
    return new Uint8Array(this.bytes(role, n), 0, n);
  }
}

function dims(op: GemmOperand): [number, number] {
  return op.kind === 'fp32' ? [op.rows, op.cols] : [op.value.q.rows, op.value.q.cols];
}

/** The operand's fp32 values in NT layout (dequantized, BHQ inverse applied, transposed as needed). */
export function materialize(op: GemmOperand, transpose: boolean, scratch?: GemmScratch, role = 'deq'): Float32Array {
  const [rows, cols] = dims(op);
  let x: Float32Array;
  if (op.kind === 'fp32') x = op.data;
  else {
    x = dequantize(op.value.q, scratch ? scratch.f32(role, rows * cols) : undefined);
    const t = op.value.transform;
    if (t) x = applyBhq(t, x, t.n > 0 ? (rows * cols) / t.n : 0, true);
    const pad = op.pad;
    if (pad && x.length > 0) {
      // Zero the padded entries: x[n, p, k] · (1 − pad[p, k]).
      const minusValid = new Float32Array(pad.mask.length), valid = new Float32Array(pad.mask.length);
      backend().unary('addScalar', pad.mask, minusValid, -1, 0);
      backend().unary('neg', minusValid, valid, 0, 0);
      const P = pad.pixels;
      backend().binary('mul', x, Int32Array.of(P * cols, cols, 1), valid, Int32Array.of(0, cols, 1), Int32Array.of(rows / P, P, cols), x);
    }
  }
  return transpose ? transposedF32(x, rows, cols) : x;
}

interface Int8Operand {
  codes: Int8Array;
  scale: Float32Array; // [rows·nkb]
  zero: Float32Array; // residual zero point ζ per (row, K-block)
  hasZero: boolean;
}

function int8Operand(q: QTensor, transpose: boolean, kBlock: number, k: number, codesOut?: Int8Array): Int8Operand {
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
  const codes = codesOut ?? new Int8Array(q.rows * q.cols);
  if (codes.length > 0) backend().codesToI8(q.codes, q.rows, q.cols, g.rowDiv, g.rowMod, g.colDiv, shift, transpose ? 1 : 0, codes);
  const m = transpose ? q.cols : q.rows;
  const nkb = Math.ceil(k / kBlock) || 0;
  const scale = new Float32Array(m * nkb), zero = new Float32Array(m * nkb);
  let hasZero = false;
  for (let i = 0; i < m; i++) {
    for (let kb = 0; kb < nkb; kb++) {
      const kk = kb * kBlock;
      const r = transpose ? kk : i, c = transpose ? i : kk;
      const grp = (Math.floor(r / g.rowDiv) % g.rowMod) * g.colGroups + Math.floor(c / g.colDiv);
      scale[i * nkb + kb] = q.scale[grp];
      zero[i * nkb + kb] = zeta[grp];
      if (zeta[grp] !== 0) hasZero = true;
    }
  }
  return { codes, scale, zero, hasZero };
}

function int8Gemm(a: QTensor, aT: boolean, b: QTensor, bT: boolean, m: number, n: number, k: number, kBlock: number,
  scratch?: GemmScratch): Float32Array {
  const A = int8Operand(a, aT, kBlock, k, scratch?.i8('a8', m * k)), B = int8Operand(b, bT, kBlock, k, scratch?.i8('b8', n * k));
  const be = backend();
  const c = scratch ? scratch.f32('c', m * n) : new Float32Array(m * n);
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
  const corr = scratch ? scratch.f32('corr', m * n) : new Float32Array(m * n);
  be.sgemm(m, n, 2 * nkb, a2, b2, corr);
  const strides = Int32Array.of(1);
  be.binary('add', c, strides, corr, strides, Int32Array.of(m * n), c);
  return c;
}

/** C = op(A)·op(B)ᵀ on the planned path; op = transpose when the flag is set. */
export function runGemm(a: GemmOperand, aT: boolean, b: GemmOperand, bT: boolean, plan: GemmPlan, scratch?: GemmScratch): Float32Array {
  const [ar, ac] = dims(a), [br, bc] = dims(b);
  const m = aT ? ac : ar, k = aT ? ar : ac, n = bT ? bc : br;
  check((bT ? br : bc) === k, () => `internal: GEMM operands disagree on K (${k} vs ${bT ? br : bc})`);
  if (plan.path === 'b1' || plan.path === 'bitplane' || plan.path === 'bitplane-blocked') {
    check(a.kind === 'quant' && b.kind === 'quant', 'internal: bit GEMM path with an fp32 operand');
    check(a.value.transform === null && b.value.transform === null, 'internal: bit GEMM path with a row transform');
    return runBitGemm(plan.path, { q: a.value.q, pad: a.pad }, aT, { q: b.value.q, pad: b.pad }, bT, m, n, k, plan.kBlock);
  }
  if (plan.path === 'int8' || plan.path === 'int8-blocked') {
    check(a.kind === 'quant' && b.kind === 'quant', 'internal: integer GEMM path with an fp32 operand');
    check(b.value.transform === null && (!aT || a.value.transform === null), 'internal: integer GEMM path with a row transform along K');
    const kBlock = plan.kBlock === null ? Math.max(1, k) : plan.kBlock;
    let c = int8Gemm(a.value.q, aT, b.value.q, bT, m, n, k, kBlock, scratch);
    const t = a.value.transform; // the plan guarantees: only on A, not transposed → undo it on C's rows
    if (t && c.length > 0) c = applyBhq(t, c, (m * n) / t.n, true);
    return c;
  }
  // fp32 / fp32-dequant: sgemmT reads a transposed operand where it is (no transposed copy).
  const c = scratch ? scratch.f32('c', m * n) : new Float32Array(m * n);
  backend().sgemmT(m, n, k, materialize(a, false, scratch, 'a32'), aT ? 1 : 0, materialize(b, false, scratch, 'b32'), bT ? 1 : 0, c);
  return c;
}
