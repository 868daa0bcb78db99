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
}

export type IntKernelName = keyof IntKernels;
