/**
 * Integer and bit GEMMs (DESIGN.md "Scales"). Integer results are bit-exact on every backend.
 */
export interface IntKernels {
  /**
   * int8 × int8 NT GEMM with int32 accumulation per K-block and scales in the epilogue:
   *   C[i,j] = Σ_kb sA[i·nkb + kb] · sB[j·nkb + kb] · Σ_{k ∈ block kb} A[i,k]·B[j,k]
   * with nkb = ceil(k / kBlock). Per-row scales are the case kBlock ≥ k (nkb = 1). Overwrites C.
   * The float epilogue is applied in block order kb = 0, 1, ... in float32 (Math.fround in ref).
   */
  gemmI8(m: number, n: number, k: number, kBlock: number, a: Int8Array, b: Int8Array,
    scaleA: Float32Array, scaleB: Float32Array, c: Float32Array): void;

  /**
   * Binary NT GEMM on ±1 operands packed one bit per element (bit = 1 ⇔ +1), little-endian within
   * Uint32 words, each row padded with zero bits to `words = ceil(k/32)` words:
   *   C[i,j] = Σ_k a_ik·b_jk = k − 2·popcount(A_i xor B_j)   (int32, exact). Overwrites C.
   */
  gemmB1(m: number, n: number, k: number, a: Uint32Array, b: Uint32Array, c: Int32Array): void;

  /**
   * Sign bits of x[rows, k] in gemmB1's layout: bit = 1 ⇔ x ≥ 0, so sign(0) = +1 (METHODS §3.2); NaN packs
   * as 0 (−1). Bits past k in the last word of a row are zero. Overwrites out[rows·words].
   */
  packSigns(rows: number, k: number, x: Float32Array, out: Uint32Array): void;

  /**
   * Sign codes of x[n] as bytes, the bits of packSigns one per byte: codes[i] = 1 ⇔ x[i] ≥ 0 (sign(0) = +1), NaN → 0;
   * nan[0] = 1 when some x[i] is NaN, else 0. Overwrites codes[n] and nan[0]. (The 1-bit QTensor of the sign
   * quantizer, quantizers/binary.ts.)
   */
  signCodes(n: number, x: Float32Array, codes: Uint8Array, nan: Int32Array): void;

  /**
   * Bit planes of unsigned codes q[rows, k] ∈ [0, 2^bits): bit j of codes[r·k + c] goes to bit (c mod 32) of
   * out[(j·rows + r)·words + floor(c/32)]; bits past k are zero. Codes ≥ 2^bits are the caller's bug (their high
   * bits are dropped). Overwrites out[bits·rows·words].
   */
  packPlanes(rows: number, k: number, bits: number, codes: Uint8Array, out: Uint32Array): void;

  /**
   * Multi-bit × binary NT GEMM by bit planes (METHODS §3.6): A holds unsigned codes as `bits` planes from
   * packPlanes ([bits, m, words]); B is ±1 packed as for gemmB1 ([n, words]). For a {0,1} plane a and ±1 row b,
   *   Σ_k a_k·b_k = 2·popcount(a ∧ b⁺) − popcount(a)      (b⁺: the packed bits, 1 ⇔ +1)
   * so C[i,j] = Σ_plane 2^plane · (2·popcount(A_plane,i ∧ B_j) − popcount(A_plane,i)) = Σ_k q_ik·b_jk (int32,
   * exact for bits ≤ 8 and k < 2^23). Overwrites C[m, n].
   */
  gemmBitplane(m: number, n: number, k: number, bits: number, planes: Uint32Array, b: Uint32Array, c: Int32Array): void;
}
