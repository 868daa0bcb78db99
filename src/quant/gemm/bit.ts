/**
 * The bit GEMM paths of the path table (run.ts, METHODS §3.6), with exact integer parts:
 *   'b1'        C = A·Bᵀ for ±1 operands: gemmB1 (K − 2·popcount(a ⊕ b)).
 *   'bitplane'  A = unsigned affine codes, one group per GEMM row i: Â[i,k] = lo_i + Δ_i·q[i,k] (lo = offset −
 *               zp·scale, Δ = scale); B = ±1. Σ_k Â[i,k]·b[j,k] = lo_i·Σ_k b[j,k] + Δ_i·Σ_k q[i,k]·b[j,k], the
 *               second sum by gemmBitplane on the bit planes of q, the first from B's row sums (gemmB1 against
 *               an all-ones row). Rows with offset = scale = 0 (AGP-pruned groups) are exactly zero: they are
 *               left out of the GEMM (compact → GEMM → scatter), so pruned rows cost nothing.
 * Conv zero padding (METHODS §3.2): im2col writes 0 at padded positions and sign(0) = +1, but the padded entries
 * must contribute 0. pad[p, k] ∈ {0,1} (pixel p = row mod P) marks them:
 *   forward (A = X rows, padded):   C[r, j] −= Σ_k pad[p(r), k]·b[j, k]    — gemmBitplane with one plane, exact
 *   grad-weight (B = Xᵀ, K = rows): C[i, j] −= Σ_r Â[i, r]·pad[p(r), j]
 *                                 = lo_i·N·padCount_j + Δ_i·Σ_p Qs[i, p]·pad[p, j],  Qs[i, p] = Σ_n q[i, n·P + p]
 *     (the code sums and their product with pad are integers below 2^24 for N·P·(2^bits − 1) < 2^24, so the
 *     float32 sgemm that computes them is exact; larger layers round them to float32).
 *   'bitplane-blocked' (per-sample dY scales along K of the grad-weight GEMM): one such GEMM per K-block.
 * Everything runs through backend() kernels; the float epilogue (scales, zero points) is float32.
 */
import { backend } from '../../backend/index.js';
import { check } from '../../tensor/errors.js';
import { dequantize, groupAt, type QTensor } from '../qtensor.js';
import { specBitRole, specCodeBits, specMixesRows } from '../quantizers/index.js';
import { type GemmOperand, type PadInfo, transposedF32 } from './operand.js';
import { type GemmDims, type GemmPathImpl, type GemmPlan, kBlockOf, MIN_INT_KBLOCK, type OperandPlan, type PlanAnswer } from './plan.js';

/** Widest codes the bit-plane path takes (its code transposition goes through int8). */
export const MAX_BITPLANE_BITS = 7;

export interface BitOperand {
  q: QTensor;
  pad?: PadInfo;
}

const words = (k: number): number => (k + 31) >>> 5;

/** A sign QTensor (quantizers/binary.ts): its 0/1 codes are the bits gemmB1 wants. */
function isSignTensor(q: QTensor): boolean {
  return q.bits === 1 && !q.signed && q.offset.length === 1 && q.offset[0] === -1 && q.scale[0] === 2 && q.zeroPoint[0] === 0;
}

/**
 * Packed signs of a ±1 QTensor in NT layout: one bit plane of the (transposed) sign codes, never an fp32 copy;
 * other QTensors (a dequantized value's sign) through packSigns.
 */
function packedSigns(q: QTensor, transpose: boolean): Uint32Array {
  const rows = transpose ? q.cols : q.rows, k = transpose ? q.rows : q.cols;
  const out = new Uint32Array(rows * words(k));
  if (out.length === 0) return out;
  if (isSignTensor(q)) backend().packPlanes(rows, k, 1, codesNT(q, transpose), out);
  else backend().packSigns(rows, k, transpose ? transposedF32(dequantize(q), q.rows, q.cols) : dequantize(q), out);
  return out;
}

/** Packed signs of rows [k0, k0 + len) of a sign QTensor, transposed: its K-block as a B operand (bT). */
function packedSignBlock(q: QTensor, k0: number, len: number): Uint32Array {
  const cols = q.cols, out = new Uint32Array(cols * words(len));
  if (out.length === 0) return out;
  const t = new Int8Array(len * cols);
  backend().codesToI8(q.codes.subarray(k0 * cols, (k0 + len) * cols), len, cols, 1, 1, Math.max(1, cols), Int32Array.of(0), 1, t);
  backend().packPlanes(cols, len, 1, new Uint8Array(t.buffer, t.byteOffset, t.length), out);
  return out;
}

/** Σ_k b[j, k] of packed ±1 rows: gemmB1 against an all-+1 row. */
function signRowSums(b: Uint32Array, n: number, k: number): Int32Array {
  const ones = new Uint32Array(words(k));
  const onesF = new Float32Array(k).fill(1);
  if (k > 0) backend().packSigns(1, k, onesF, ones);
  const s = new Int32Array(n);
  backend().gemmB1(1, n, k, ones, b, s);
  return s;
}

/** Unsigned codes in NT layout (rows = GEMM rows) as bytes. */
function codesNT(q: QTensor, transpose: boolean): Uint8Array {
  if (!transpose) return q.codes as Uint8Array;
  const g = q.grouping;
  const out = new Int8Array(q.rows * q.cols);
  if (out.length > 0) backend().codesToI8(q.codes, q.rows, q.cols, g.rowDiv, g.rowMod, g.colDiv, new Int32Array(g.rowGroups * g.colGroups), 1, out);
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** C[m, n] −= corr[(r mod P), n] for the rows of a padded forward operand. */
function subtractPerPixel(c: Float32Array, corr: Float32Array, m: number, n: number, pixels: number): void {
  if (c.length > 0) backend().binary('sub', c, Int32Array.of(pixels * n, n, 1), corr, Int32Array.of(0, n, 1), Int32Array.of(m / pixels, pixels, n), c);
}

/** pad[p, k]·b[j, k] summed over k, exactly (one bit plane of the mask against the ±1 rows). */
function padTimesSigns(pad: PadInfo, b: Uint32Array, n: number, k: number): Float32Array {
  const be = backend();
  const P = pad.pixels;
  const codes = new Uint8Array(P * k);
  if (codes.length > 0) be.quantizeAffine(pad.mask, P, k, 1, 1, Math.max(1, k), Float32Array.of(0), Float32Array.of(1), Int32Array.of(0), 0, 1, 0, 0, 0, codes);
  const planes = new Uint32Array(P * words(k));
  if (planes.length > 0) be.packPlanes(P, k, 1, codes, planes);
  const c = new Int32Array(P * n);
  be.gemmBitplane(P, n, k, 1, planes, b, c);
  return Float32Array.from(c);
}

function b1Gemm(a: BitOperand, aT: boolean, b: BitOperand, bT: boolean, m: number, n: number, k: number): Float32Array {
  const pa = packedSigns(a.q, aT), pb = packedSigns(b.q, bT);
  const ci = new Int32Array(m * n);
  backend().gemmB1(m, n, k, pa, pb, ci);
  const c = Float32Array.from(ci);
  if (a.pad) subtractPerPixel(c, padTimesSigns(a.pad, pb, n, k), m, n, a.pad.pixels);
  return c;
}

/**
 * Σ_k Â[i,k]·b[j,k] for A = codes[mk, k] with per-row lo / Δ and B = packed ±1 rows [n, words(k)]; `pad` removes
 * the padded entries of B = Xᵀ (K = N·P rows, see the file comment).
 */
function planeCore(codes: Uint8Array, bits: number, lo: Float32Array, delta: Float32Array, pb: Uint32Array, mk: number, n: number, k: number,
  pad?: PadInfo): Float32Array {
  const be = backend();
  let colSum = signRowSums(pb, n, k);
  const planes = new Uint32Array(bits * mk * words(k));
  be.packPlanes(mk, k, bits, codes, planes);
  const ci = new Int32Array(mk * n);
  be.gemmBitplane(mk, n, k, bits, planes, pb, ci);
  const dot = Float32Array.from(ci);
  if (pad) {
    const P = pad.pixels, N = k / P;
    const qs = new Float32Array(mk * P);
    be.reduce('sum', Float32Array.from(codes), mk, N, P, qs);
    const corr = new Float32Array(mk * n);
    be.sgemmT(mk, n, P, qs, 0, pad.mask, 1, corr);
    be.binary('sub', dot, Int32Array.of(n, 1), corr, Int32Array.of(n, 1), Int32Array.of(mk, n), dot);
    const padCount = new Float32Array(n);
    be.reduce('sum', pad.mask, 1, P, n, padCount);
    colSum = Int32Array.from(colSum, (v, j) => v - N * padCount[j]);
  }
  // Epilogue: out = Δ_i·dot[i, j] + lo_i·colSum_j (float32).
  const out = new Float32Array(mk * n);
  be.binary('mul', dot, Int32Array.of(n, 1), delta, Int32Array.of(1, 0), Int32Array.of(mk, n), out);
  const zeroTerm = new Float32Array(mk * n);
  be.sgemm(mk, n, 1, lo, Float32Array.from(colSum), zeroTerm);
  be.binary('add', out, Int32Array.of(n, 1), zeroTerm, Int32Array.of(n, 1), Int32Array.of(mk, n), out);
  return out;
}

/** lo = offset − zp·scale and Δ = scale of group g (x̂ = lo + Δ·code). */
function affineOf(q: QTensor, g: number): [number, number] {
  return [Math.fround(q.offset[g] - Math.fround(q.zeroPoint[g] * q.scale[g])), q.scale[g]];
}

function bitplaneGemm(a: BitOperand, aT: boolean, b: BitOperand, bT: boolean, m: number, n: number, k: number): Float32Array {
  const q = a.q;
  check(!q.signed && q.bits <= 8, 'internal: the bit-plane path needs unsigned codes of at most 8 bits');
  const pb = packedSigns(b.q, bT);
  // Compact: the GEMM rows whose group is not pruned.
  const kept: number[] = [], lo: number[] = [], delta: number[] = [];
  for (let i = 0; i < m; i++) {
    const g = aT ? groupAt(q.grouping, 0, i) : groupAt(q.grouping, i, 0); // the plan guarantees one group per row of A
    if (q.offset[g] === 0 && q.scale[g] === 0) continue;
    const [l, d] = affineOf(q, g);
    kept.push(i);
    lo.push(l);
    delta.push(d);
  }
  const mk = kept.length;
  const c = new Float32Array(m * n);
  if (mk === 0 || n === 0) return c;
  const all = codesNT(q, aT);
  const codes = mk === m ? all : new Uint8Array(mk * k);
  if (mk !== m) kept.forEach((i, r) => codes.set(all.subarray(i * k, (i + 1) * k), r * k));
  const out = planeCore(codes, q.bits, Float32Array.from(lo), Float32Array.from(delta), pb, mk, n, k, b.pad);
  if (mk === m) return out;
  kept.forEach((i, r) => c.set(out.subarray(r * n, (r + 1) * n), i * n));
  return c;
}

/** Columns [k0, k0 + len) of a row-major [rows, k] float matrix. */
function columnBlock(x: Float32Array, rows: number, k: number, k0: number, len: number): Float32Array {
  const out = new Float32Array(rows * len);
  if (out.length > 0) backend().copyStrided(x, k0, Int32Array.of(k, 1), Int32Array.of(rows, len), out, 0, Int32Array.of(len, 1));
  return out;
}

/**
 * 'bitplane-blocked': A's parameters are constant on K-blocks of `kBlock` (per-sample scales of dYᵀ on the
 * grad-weight GEMM: blocks of H·W rows, METHODS §0.1): one gemmBitplane per block, C = Σ_blocks (Δ·dot + lo·Σb),
 * accumulated in float32 in block order. Padding is corrected per block (each block is one sample).
 */
function bitplaneBlockedGemm(a: BitOperand, aT: boolean, b: BitOperand, bT: boolean, m: number, n: number, k: number, kBlock: number): Float32Array {
  const q = a.q;
  check(!q.signed && q.bits <= 8, 'internal: the bit-plane path needs unsigned codes of at most 8 bits');
  check(!b.pad || b.pad.pixels === kBlock, 'internal: padded blocks must be whole samples');
  const codesF = new Float32Array(codesNT(q, aT));
  // B's K-blocks: rows of a transposed sign operand (X on the grad-weight GEMM), else columns of its dequantized values.
  const bFast = bT && isSignTensor(b.q);
  const bNT = bFast ? null : bT ? transposedF32(dequantize(b.q), b.q.rows, b.q.cols) : dequantize(b.q);
  const c = new Float32Array(m * n);
  const g = q.grouping;
  for (let k0 = 0; k0 < k; k0 += kBlock) {
    const len = Math.min(kBlock, k - k0);
    const lo = new Float32Array(m), delta = new Float32Array(m);
    let any = false;
    for (let i = 0; i < m; i++) {
      const grp = aT ? groupAt(g, k0, i) : groupAt(g, i, k0);
      [lo[i], delta[i]] = affineOf(q, grp);
      if (q.offset[grp] !== 0 || q.scale[grp] !== 0) any = true;
    }
    if (!any) continue;
    const pb = bNT === null ? packedSignBlock(b.q, k0, len) : new Uint32Array(n * words(len));
    if (bNT !== null) backend().packSigns(n, len, columnBlock(bNT, n, k, k0, len), pb);
    const out = planeCore(new Uint8Array(columnBlock(codesF, m, k, k0, len)), q.bits, lo, delta, pb, m, n, len, b.pad);
    const s = Int32Array.of(1);
    backend().binary('add', c, s, out, s, Int32Array.of(m * n), c);
  }
  return c;
}

type BitPath = 'b1' | 'bitplane' | 'bitplane-blocked';

/** The bit path of two quantized operands, or null (METHODS §3.6). */
function planBitGemm(a: OperandPlan, b: OperandPlan): GemmPlan | null {
  if (a.spec === null || b.spec === null) return null;
  const ra = specBitRole(a.spec), rb = specBitRole(b.spec);
  if (rb !== 'sign') return null;
  // A padded sign operand is corrected on A rows (forward X) or along K of B (grad-weight X), nowhere else.
  if ((a.padded && (a.transposed || ra !== 'sign')) || (b.padded && !b.transposed)) return null;
  if (ra === 'sign') return { path: 'b1', kBlock: null };
  if (ra !== 'unsigned' || specMixesRows(a.spec) || specCodeBits(a.spec) > MAX_BITPLANE_BITS) return null;
  const kb = kBlockOf(a);
  if (kb === null) return { path: 'bitplane', kBlock: null };
  // Blocks along K: padding is corrected per block only when a block is one sample (kb = rows per sample).
  if (kb >= MIN_INT_KBLOCK && (!b.padded || kb === b.rowsPerSample)) return { path: 'bitplane-blocked', kBlock: kb };
  return null;
}

/** C[m, n] on a bit path; a and b are layer-layout operands consumed as-is or transposed. */
function runBitGemm(a: GemmOperand, aT: boolean, b: GemmOperand, bT: boolean, plan: GemmPlan, dims: GemmDims): Float32Array {
  const { m, n, k } = dims;
  check(a.kind === 'quant' && b.kind === 'quant', 'internal: bit GEMM path with an fp32 operand');
  check(a.value.transform === null && b.value.transform === null, 'internal: bit GEMM path with a row transform');
  const A: BitOperand = { q: a.value.q, pad: a.pad }, B: BitOperand = { q: b.value.q, pad: b.pad };
  check(!B.pad || (bT && plan.path !== 'b1'), 'internal: padding on the second operand is only corrected on the bit-plane paths (transposed X)');
  check(!A.pad || (!aT && plan.path === 'b1'), 'internal: padding on the first operand is only corrected on the b1 path');
  check(plan.path !== 'bitplane-blocked' || (plan.kBlock !== null && plan.kBlock >= 1), 'internal: bitplane-blocked without a K-block');
  const c = plan.path === 'b1' ? b1Gemm(A, aT, B, bT, m, n, k)
    : plan.path === 'bitplane' ? bitplaneGemm(A, aT, B, bT, m, n, k) : bitplaneBlockedGemm(A, aT, B, bT, m, n, k, plan.kBlock!);
  // A NaN input has no bit: its quantizer marked the operand with a NaN scale, and the product is NaN (issue 18).
  return A.q.scale.some(Number.isNaN) || B.q.scale.some(Number.isNaN) ? c.fill(NaN) : c;
}

/** Each bit path accepts exactly the plan planBitGemm picks for it. */
function bitEntry(path: BitPath): GemmPathImpl {
  return {
    plan(a, b): PlanAnswer {
      const p = planBitGemm(a, b);
      return p !== null && p.path === path ? p : null;
    },
    run: runBitGemm,
  };
}

export const bitPaths: { readonly [P in BitPath]: GemmPathImpl } = {
  b1: bitEntry('b1'),
  bitplane: bitEntry('bitplane'),
  'bitplane-blocked': bitEntry('bitplane-blocked'),
};
