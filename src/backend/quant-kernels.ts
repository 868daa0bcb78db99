/**
 * Quantization kernels (range statistics, affine quantize / dequantize, int8 operand preparation, block
 * Householder transform). Owned by the FQT core (quant/). The arithmetic of every kernel is specified
 * once, in the comment block of quant/rounding.ts; the reference implementation (ref/quant.ts,
 * ref/quant-transform.ts) follows it literally and native kernels must match it bit-exactly.
 *
 * Groups. A quantized matrix x[rows, cols] (row-major) is split into scale groups by three integers:
 *     group(r, c) = (floor(r / rowDiv) mod rowMod) · colGroups + floor(c / colDiv)
 *     colGroups = ceil(cols / colDiv)          (rowGroups = min(rowMod, ceil(rows / rowDiv)))
 * e.g. per tensor (rowDiv=1,rowMod=1,colDiv=cols), per sample (rowDiv=H·W,rowMod=rows,colDiv=cols),
 * per column (1,1,1), StatQuant per (column, pixel) (1,H·W,1), K-blocks along columns (1,rows,block).
 * Every per-group array (mins, maxs, offset, inv, scale, zeroPoint, shift) has rowGroups·colGroups entries.
 *
 * Codes are bytes: Uint8Array for unsigned formats (0..2^b−1), Int8Array for signed ones.
 */
export interface QuantKernels {
  /** Per-group minimum and maximum of x (float32, exact). NaN inputs give unspecified results. */
  quantRange(x: Float32Array, rows: number, cols: number, rowDiv: number, rowMod: number, colDiv: number,
    mins: Float32Array, maxs: Float32Array): void;

  /**
   * Affine quantization of x into codes (quant/rounding.ts): with g = group(r, c), i = r·cols + c,
   *   t = f32(f32(x[i] − offset[g]) · inv[g]);  s = t + zeroPoint[g]  (exact)
   *   q = stochastic ? floor(s + uniform(seed, stream, i)) : roundHalfEven(s);  codes[i] = clamp(q, qmin, qmax).
   */
  quantizeAffine(x: Float32Array, rows: number, cols: number, rowDiv: number, rowMod: number, colDiv: number,
    offset: Float32Array, inv: Float32Array, zeroPoint: Int32Array, qmin: number, qmax: number,
    stochastic: number, seed: number, stream: number, codes: Int8Array | Uint8Array): void;

  /** Per-group parameters (quant/rounding.ts §2) from the groups' min and max: format 0 asymmetric, 1 zeroAligned, 2 symmetric
   *  (the order of quant/spec.ts INT_FORMATS); unaligned[0] = the zeroAligned groups that fell back to the asymmetric grid. */
  affineParams(format: number, bits: number, mins: Float32Array, maxs: Float32Array, offset: Float32Array, scale: Float32Array,
    inv: Float32Array, zeroPoint: Int32Array, unaligned: Int32Array): void;

  /** quantRange of the rows view [n·hw, c] (row s·hw + p, column ch) of NCHW planes x[n][c][hw], not transposing them. */
  quantRangePlanes(x: Float32Array, n: number, c: number, hw: number, rowDiv: number, rowMod: number, colDiv: number,
    mins: Float32Array, maxs: Float32Array): void;

  /** quantizeAffine of the same rows view of NCHW planes: the same groups, RNG indices r·c + ch, codes in rows layout. */
  quantizeAffinePlanes(x: Float32Array, n: number, c: number, hw: number, rowDiv: number, rowMod: number, colDiv: number,
    offset: Float32Array, inv: Float32Array, zeroPoint: Int32Array, qmin: number, qmax: number,
    stochastic: number, seed: number, stream: number, codes: Int8Array | Uint8Array): void;

  /** out[i] = f32(offset[g] + f32((codes[i] − zeroPoint[g]) · scale[g])). */
  dequantizeAffine(codes: Int8Array | Uint8Array, rows: number, cols: number, rowDiv: number, rowMod: number,
    colDiv: number, offset: Float32Array, scale: Float32Array, zeroPoint: Int32Array, out: Float32Array): void;

  /**
   * Signed int8 GEMM operand from codes: v = codes[r·cols + c] − shift[group(r, c)] (the caller guarantees
   * v ∈ [−128, 127]); written to out[r·cols + c], or to out[c·rows + r] when `transpose` is 1.
   */
  codesToI8(codes: Int8Array | Uint8Array, rows: number, cols: number, rowDiv: number, rowMod: number, colDiv: number,
    shift: Int32Array, transpose: number, out: Int8Array): void;

  /**
   * Two 4-bit codes per byte, for codes kept in memory at their bit width (the fused layers' saved X):
   * out[i] = (codes[2i] & 15) | (codes[2i + 1] & 15) << 4, the high nibble 0 past an odd end. The caller guarantees
   * every code fits 4 bits (unsigned 0..15, signed −8..7).
   */
  packNibbles(codes: Int8Array | Uint8Array, out: Uint8Array): void;

  /** The inverse of packNibbles for out.length codes: zero-extended into a Uint8Array, sign-extended into an Int8Array. */
  unpackNibbles(packed: Uint8Array, out: Int8Array | Uint8Array): void;

  /** out[i·nkb + kb] = Σ_{k ∈ block kb} a[i·k + k'] (int32), nkb = ceil(k / kBlock): the row sums of int8 codes. */
  codeBlockSums(m: number, k: number, kBlock: number, a: Int8Array, out: Int32Array): void;

  /**
   * Block Householder transform of the rows of x[n, d] (METHODS §1.5, BHQ). `order` lists the row indices
   * group by group (leader first), `groupSizes` the consecutive group sizes (Σ = n), `rowScale` one
   * scale per original row. inverse = 0: out = T·x = P·blockdiag(H_G)·Pᵀ·diag(s)·x;
   * inverse = 1: out = T⁻¹·x = diag(1/s)·P·blockdiag(H_G)·Pᵀ·x (H_G is symmetric and involutive).
   * Float32 arithmetic as specified in quant/rounding.ts. `out` may be `x` itself (in place).
   */
  blockHouseholder(x: Float32Array, n: number, d: number, order: Int32Array, groupSizes: Int32Array,
    rowScale: Float32Array, inverse: number, out: Float32Array): void;
  /** BHQ's codes of planes x in one pass, not storing Z = T·x (blockHouseholder on the n sample vectors): per sample of Z its
   *  range (quantRangePlanes; a zero extreme is +0, whose sign changes no parameter; no values: [0, 0]), the asymmetric
   *  parameters affineParams(format 0, bits) gives, and the codes of quantizeAffinePlanes (qmin 0, qmax 2^bits − 1, rows layout). */
  quantizeBhqPlanes(x: Float32Array, n: number, c: number, hw: number, order: Int32Array, groupSizes: Int32Array, rowScale: Float32Array,
    bits: number, stochastic: number, seed: number, stream: number, offset: Float32Array, scale: Float32Array, inv: Float32Array,
    zeroPoint: Int32Array, codes: Uint8Array): void;

  /**
   * Whole-array statistics for SAWB clipping (METHODS §2.2), accumulated in float64 in index order:
   * out[0] = Σ x², out[1] = Σ |x|, out[2] = max |x|, out[3] = min x (n = 0: 0, 0, 0, +∞; a zero minimum is +0). Any NaN
   * makes every statistic NaN. The sums are blocked so that native code can vectorise and parallelise them with the
   * same result (quant/rounding.ts §4): per chunk of MOMENT_CHUNK elements, eight float64 partial sums p[i mod 8] in
   * index order, the chunk's sum ((p0 + p1) + (p2 + p3)) + ((p4 + p5) + (p6 + p7)), then the chunks added in order.
   */
  momentSums(x: Float32Array, n: number, out: Float64Array): void;

  /**
   * LUQ logarithmic stochastic rounding (METHODS §2.3, quant/rounding.ts §4): with α = alpha[0] and
   * u = uniform(seed, stream, i): codes[i] = sign(x)·2^k·floor(r/2^k + u), r = f32(|x|/α),
   * k = clamp(⌊log2 r⌋, 0, kmax), magnitude capped at 2^kmax; x = 0 or NaN → 0. kmax ≤ 6 (int8 codes).
   */
  quantizeLuq(x: Float32Array, n: number, alpha: Float32Array, kmax: number, seed: number, stream: number, codes: Int8Array): void;
  /** quantizeLuq of the rows view [n·hw, c] of NCHW planes x[n][c][hw] (as quantizeAffinePlanes): codes in rows layout. */
  quantizeLuqPlanes(x: Float32Array, n: number, c: number, hw: number, alpha: Float32Array, kmax: number, seed: number, stream: number,
    codes: Int8Array): void;
}
