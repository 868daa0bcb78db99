// Generic fp32 NT micro-kernel, included once per ISA tier inside a `#pragma GCC target` region and
// a tier namespace that defines the vector traits `V` (T, W, zero, load, loadu, store, bcast, fma, add)
// and the register tile MR × NV vectors. Writing the kernel once means the AVX-512 instance is the
// same code as the AVX2 one that the conformance tests exercise on machines without AVX-512.
//
// A is read in place (rows contiguous along k, MR row streams, one broadcast per element);
// B arrives packed as panels bp[p·NR + t] = B[j + t, k0 + p] (zero-padded to NR columns).

static constexpr int NR = NV * V::W;

template <int R>
static void micro(int64_t kc, const float* a, int64_t lda, const float* bp, float* c, int64_t ldc, bool accumulate) {
  typename V::T acc[R][NV];
#pragma GCC unroll 16
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[r][v] = V::zero();
  // k in chunks of 16: one prefetch per A row and chunk (A streams from memory for the tall-skinny
  // conv shapes), then an unrolled run of rank-1 updates.
  for (int64_t p0 = 0; p0 < kc; p0 += 16) {
    const int64_t p1 = p0 + 16 < kc ? p0 + 16 : kc;
#pragma GCC unroll 16
    for (int r = 0; r < R; r++) __builtin_prefetch(a + r * lda + p0 + 64);
#pragma GCC unroll 4
    for (int64_t p = p0; p < p1; p++) {
      typename V::T b[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) b[v] = V::load(bp + p * NR + v * V::W);
#pragma GCC unroll 16
      for (int r = 0; r < R; r++) {
        const typename V::T av = V::bcast(a + r * lda + p);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = V::fma(av, b[v], acc[r][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) {
      float* dst = c + r * ldc + v * V::W;
      V::storeu(dst, accumulate ? V::add(V::loadu(dst), acc[r][v]) : acc[r][v]);
    }
}

template <int... Rs>
struct MicroTable {
  using Fn = void (*)(int64_t, const float*, int64_t, const float*, float*, int64_t, bool);
  static constexpr Fn fns[sizeof...(Rs)] = {&micro<Rs + 1>...};
};
template <int... Rs>
constexpr typename MicroTable<Rs...>::Fn MicroTable<Rs...>::fns[sizeof...(Rs)];

template <int... Is>
static void dispatch_micro(std::integer_sequence<int, Is...>, int rows, int64_t kc, const float* a, int64_t lda,
                           const float* bp, float* c, int64_t ldc, bool accumulate) {
  MicroTable<Is...>::fns[rows - 1](kc, a, lda, bp, c, ldc, accumulate);
}

// One packed B panel (ncols ≤ NR valid columns) against `mrows` rows of A: C[mrows, ncols] (+)= A·Bpᵀ.
static void panel(int64_t mrows, int64_t kc, const float* a, int64_t lda, const float* bp, int64_t ncols,
                  float* c, int64_t ldc, bool accumulate) {
  alignas(64) float tmp[MR * NR];
  for (int64_t i = 0; i < mrows; i += MR) {
    const int rows = static_cast<int>(mrows - i < MR ? mrows - i : MR);
    if (ncols == NR) {
      if (rows == MR) micro<MR>(kc, a + i * lda, lda, bp, c + i * ldc, ldc, accumulate);
      else dispatch_micro(std::make_integer_sequence<int, MR>{}, rows, kc, a + i * lda, lda, bp, c + i * ldc, ldc, accumulate);
    } else {
      // Partial panel: compute a full-width tile into scratch, copy the valid columns.
      dispatch_micro(std::make_integer_sequence<int, MR>{}, rows, kc, a + i * lda, lda, bp, tmp, NR, false);
      for (int r = 0; r < rows; r++) {
        float* dst = c + (i + r) * ldc;
        for (int64_t t = 0; t < ncols; t++) dst[t] = accumulate ? dst[t] + tmp[r * NR + t] : tmp[r * NR + t];
      }
    }
  }
}
