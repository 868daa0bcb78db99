// Generic register tiles of the direct (stride-1) fp32 convolution (conv_direct.cc), included once per
// ISA tier inside a `#pragma GCC target` region and a tier namespace that defines the vector traits `V`
// (fp32_simd.h) and the tile sizes: CMR × CNV vectors (forward / grad-input), DMR × DKC (grad-weight).
//
// The input planes of a sample are zero-padded into P[ci][Hp][Wp], and the output is computed over
// "wide" rows of Wp pixels (the last Wp − ow of each row are discarded): then the column-matrix element
// B[k = (ci, i, j)][q] = P[ci][oy + i][ox + j] for wide pixel q = oy·Wp + ox is simply P[off[k] + q] with
// off[k] = ci·Hp·Wp + i·Wp + j — an implicit GEMM whose operand rows are contiguous runs of P, so no
// im2col copy is made and the output comes out in NCHW.

static constexpr int CNR = CNV * V::W;

// out[r][0 .. NVT·W) = Σ_k wp[k·CMR + r] · src[off[k] + 0 .. NVT·W) for the CMR rows of one weight block.
template <int NVT>
static void fwd_tile(int64_t kk, const float* __restrict wp, const int32_t* __restrict off, const float* src,
                     float* out, int64_t ldo) {
  typename V::T acc[CMR][NVT];
#pragma GCC unroll 16
  for (int r = 0; r < CMR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NVT; v++) acc[r][v] = V::zero();
  for (int64_t k = 0; k < kk; k++) {
    const float* b = src + off[k];
    typename V::T bv[NVT];
#pragma GCC unroll 4
    for (int v = 0; v < NVT; v++) bv[v] = V::loadu(b + v * V::W);
    const float* a = wp + k * CMR;
#pragma GCC unroll 16
    for (int r = 0; r < CMR; r++) {
      const typename V::T av = V::bcast(a + r);
#pragma GCC unroll 4
      for (int v = 0; v < NVT; v++) acc[r][v] = V::fma(av, bv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < CMR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NVT; v++) V::storeu(out + r * ldo + v * V::W, acc[r][v]);
}

template <int NVT>
static void fwd_tile_n(int nv, int64_t kk, const float* wp, const int32_t* off, const float* src, float* out,
                       int64_t ldo) {
  if constexpr (NVT > 0) {
    if (nv == NVT) return fwd_tile<NVT>(kk, wp, off, src, out, ldo);
    fwd_tile_n<NVT - 1>(nv, kk, wp, off, src, out, ldo);
  }
}

// out[rows_p][ncols] = Wpack · B with B[k][q] = src[off[k] + q]; rows_p is a multiple of CMR (wpack holds
// rows_p/CMR blocks of [kk][CMR]), ncols a multiple of W. Pixel tiles outside, weight blocks inside: the
// kk short runs of src that one pixel tile reads stay in L1 while every weight block uses them.
static void fwd_planes(int64_t rows_p, int64_t kk, const float* wpack, const int32_t* off, const float* src,
                       int64_t ncols, float* out) {
  for (int64_t q0 = 0; q0 < ncols; q0 += CNR) {
    const int nv = static_cast<int>(std::min<int64_t>(CNV, (ncols - q0) / V::W));
    for (int64_t i = 0; i < rows_p; i += CMR)
      fwd_tile_n<CNV>(nv, kk, wpack + i * kk, off, src + q0, out + i * ncols + q0, ncols);
  }
}

// out[r·ldo + q] += Σ_s Σ_{p < n} a_r[s·as + p] · b_q[s·bs + p] for r < rows, q < cols (n a multiple of W;
// the DMR / DKC operand pointers are valid even for r ≥ rows, q ≥ cols: their products are discarded).
// Vector accumulators run over all `ns` samples; one horizontal sum per output element at the end.
static void dw_tile(int64_t n, int64_t ns, const float* const* ap, int64_t as, const float* const* bp, int64_t bs,
                    float* out, int64_t ldo, int rows, int cols) {
  typename V::T acc[DMR][DKC];
  const float* a[DMR];
  const float* b[DKC];
#pragma GCC unroll 16
  for (int r = 0; r < DMR; r++) {
    a[r] = ap[r];
#pragma GCC unroll 4
    for (int q = 0; q < DKC; q++) acc[r][q] = V::zero();
  }
#pragma GCC unroll 4
  for (int q = 0; q < DKC; q++) b[q] = bp[q];
  for (int64_t s = 0; s < ns; s++) {
    for (int64_t p = 0; p < n; p += V::W) {
      typename V::T bv[DKC];
#pragma GCC unroll 4
      for (int q = 0; q < DKC; q++) bv[q] = V::loadu(b[q] + s * bs + p);
#pragma GCC unroll 16
      for (int r = 0; r < DMR; r++) {
        const typename V::T av = V::loadu(a[r] + s * as + p);
#pragma GCC unroll 4
        for (int q = 0; q < DKC; q++) acc[r][q] = V::fma(av, bv[q], acc[r][q]);
      }
    }
  }
  for (int r = 0; r < rows; r++)
    for (int q = 0; q < cols; q++) out[r * ldo + q] += V::hsum(acc[r][q]);
}

// dw[o][k] += Σ_s Σ_q dyw_s[o][q] · P_s[off[k] + q] over the ns samples of a block (sample s of dyw / P at
// s·dy_stride / s·x_stride; dyw rows have ncols floats, zero outside the valid pixels).
static void dw_planes(int64_t oc, int64_t kk, int64_t ncols, int64_t ns, const float* dyw, int64_t dy_stride,
                      const float* xp, int64_t x_stride, const int32_t* off, float* dw) {
  const float* a[DMR];
  const float* b[DKC];
  for (int64_t i = 0; i < oc; i += DMR) {
    const int rows = static_cast<int>(std::min<int64_t>(DMR, oc - i));
    for (int r = 0; r < DMR; r++) a[r] = dyw + (i + std::min(r, rows - 1)) * ncols;
    for (int64_t k0 = 0; k0 < kk; k0 += DKC) {
      const int cols = static_cast<int>(std::min<int64_t>(DKC, kk - k0));
      for (int q = 0; q < DKC; q++) b[q] = xp + off[k0 + std::min(q, cols - 1)];
      dw_tile(ncols, ns, a, dy_stride, b, x_stride, dw + i * kk + k0, kk, rows, cols);
    }
  }
}
