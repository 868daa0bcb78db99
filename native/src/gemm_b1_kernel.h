// Generic popcount micro-kernels of the bit GEMMs (included per tier inside a target region; traits `VB`
// with T, W (bytes), zero, load, acc(T s, T a, T b) = s + popcount(a xor b) and acc_and(s, a, b) =
// s + popcount(a and b) per 64-bit lane, hsum; and MR × NR). Rows that lie past the matrix edge point
// at a valid row; their results are dropped.

// out[r][v] = popcount(op(A_r, B_v)) over `bytes`, op = xor (gemmB1) or and (gemmBitplane).
template <bool kAnd>
static void micro(const uint8_t* const* ar, const uint8_t* const* br, int64_t bytes, int64_t out[MR][NR]) {
  typename VB::T acc[MR][NR];
#pragma GCC unroll 8
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 8
    for (int v = 0; v < NR; v++) acc[r][v] = VB::zero();
  const int64_t nv = bytes / VB::W;
  for (int64_t c = 0; c < nv; c++) {
    typename VB::T a[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; r++) a[r] = VB::load(ar[r] + c * VB::W);
#pragma GCC unroll 8
    for (int v = 0; v < NR; v++) {
      const typename VB::T b = VB::load(br[v] + c * VB::W);
#pragma GCC unroll 8
      for (int r = 0; r < MR; r++) acc[r][v] = kAnd ? VB::acc_and(acc[r][v], a[r], b) : VB::acc(acc[r][v], a[r], b);
    }
  }
  for (int r = 0; r < MR; r++) {
    for (int v = 0; v < NR; v++) {
      int64_t s = nv > 0 ? VB::hsum(acc[r][v]) : 0;  // short rows (k < 256 on AVX2) are all tail
      int64_t t = nv * VB::W;
      for (; t + 8 <= bytes; t += 8) {
        uint64_t x, y;
        std::memcpy(&x, ar[r] + t, 8);
        std::memcpy(&y, br[v] + t, 8);
        s += __builtin_popcountll(kAnd ? x & y : x ^ y);
      }
      for (; t < bytes; t += 4) {  // rows are whole uint32 words
        uint32_t x, y;
        std::memcpy(&x, ar[r] + t, 4);
        std::memcpy(&y, br[v] + t, 4);
        s += __builtin_popcount(kAnd ? x & y : x ^ y);
      }
      out[r][v] = s;
    }
  }
}

// C[i0:i1, j0:j1] = k − 2·popcount(A_i xor B_j).
static void tile(int64_t n, int64_t k, int64_t bytes, const uint8_t* a, const uint8_t* b, int64_t i0, int64_t i1,
                 int64_t j0, int64_t j1, int32_t* c) {
  const uint8_t* ar[MR];
  const uint8_t* br[NR];
  int64_t out[MR][NR];
  for (int64_t j = j0; j < j1; j += NR) {
    for (int v = 0; v < NR; v++) br[v] = b + (j + v < j1 ? j + v : j) * bytes;
    for (int64_t i = i0; i < i1; i += MR) {
      for (int r = 0; r < MR; r++) ar[r] = a + (i + r < i1 ? i + r : i) * bytes;
      micro<false>(ar, br, bytes, out);
      for (int r = 0; r < MR && i + r < i1; r++)
        for (int v = 0; v < NR && j + v < j1; v++) c[(i + r) * n + j + v] = static_cast<int32_t>(k - 2 * out[r][v]);
    }
  }
}

// Bit-plane GEMM tile (METHODS §3.6): C[i,j] = Σ_p 2^p·(2·popcount(A_p,i ∧ B_j) − ones[p·m + i]), with A's
// plane p of row i at a + (p·m + i)·bytes. Sums wrap mod 2^32 like JavaScript's store into an Int32Array
// (they are exact in the documented range bits ≤ 8, k < 2^23).
static void tile_bitplane(int64_t m, int64_t n, int64_t bytes, int bits, const uint8_t* a, const uint8_t* b,
                          const int32_t* ones, int64_t i0, int64_t i1, int64_t j0, int64_t j1, int32_t* c) {
  const uint8_t* ar[MR];
  const uint8_t* br[NR];
  int64_t out[MR][NR];
  for (int64_t j = j0; j < j1; j += NR) {
    for (int v = 0; v < NR; v++) br[v] = b + (j + v < j1 ? j + v : j) * bytes;
    for (int64_t i = i0; i < i1; i += MR) {
      uint64_t sum[MR][NR] = {};
      for (int p = 0; p < bits; p++) {
        for (int r = 0; r < MR; r++) ar[r] = a + (p * m + (i + r < i1 ? i + r : i)) * bytes;
        micro<true>(ar, br, bytes, out);
        for (int r = 0; r < MR && i + r < i1; r++)
          for (int v = 0; v < NR; v++)
            sum[r][v] += static_cast<uint64_t>(2 * out[r][v] - ones[p * m + i + r]) << p;
      }
      for (int r = 0; r < MR && i + r < i1; r++)
        for (int v = 0; v < NR && j + v < j1; v++) c[(i + r) * n + j + v] = static_cast<int32_t>(static_cast<uint32_t>(sum[r][v]));
    }
  }
}
