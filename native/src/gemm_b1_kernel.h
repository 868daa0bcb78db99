// Generic xor-popcount micro-kernel (included per tier inside a target region; traits `VB` with
// T, W (bytes), zero, load, acc(T acc, T a, T b) = acc + popcount(a xor b) per 64-bit lane, hsum;
// and MR × NR). Rows that lie past the matrix edge point at a valid row; their results are dropped.

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
      for (int r = 0; r < MR; r++) acc[r][v] = VB::acc(acc[r][v], a[r], b);
    }
  }
  for (int r = 0; r < MR; r++) {
    for (int v = 0; v < NR; v++) {
      int64_t s = VB::hsum(acc[r][v]);
      int64_t t = nv * VB::W;
      for (; t + 8 <= bytes; t += 8) {
        uint64_t x, y;
        std::memcpy(&x, ar[r] + t, 8);
        std::memcpy(&y, br[v] + t, 8);
        s += __builtin_popcountll(x ^ y);
      }
      for (; t < bytes; t += 4) {  // rows are whole uint32 words
        uint32_t x, y;
        std::memcpy(&x, ar[r] + t, 4);
        std::memcpy(&y, br[v] + t, 4);
        s += __builtin_popcount(x ^ y);
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
      micro(ar, br, bytes, out);
      for (int r = 0; r < MR && i + r < i1; r++)
        for (int v = 0; v < NR && j + v < j1; v++) c[(i + r) * n + j + v] = static_cast<int32_t>(k - 2 * out[r][v]);
    }
  }
}
