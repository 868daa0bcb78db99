// Generic int8 micro-kernel (see gemm_i8.h for the packed layout), included once per tier inside a
// `#pragma GCC target` region and a namespace that defines the traits `VI` and MR × NV:
//   VI::T zero(); T load(const int8_t*); T bcast4(const uint8_t*)  (one u8 quad to every lane)
//   PA prep_a(T); PB prep_b(T); T dp(T acc, PA, PB)   (acc += Σ_quad u8·s8, exact, wrapping)
//   void to_double(double* d, T x, bool first)         (d = (first ? 0 : d) + x)
//   void epi(float* f, const double* d, const int32_t* cs, float sa, const float* sb)
//        f += fl(fl(sa·sb) · (d − 128·cs))  — the ref epilogue, exactly.

static constexpr int NR = NV * VI::W;

template <int R>
static void micro(const Packed& p, int64_t i, int64_t panel, float* c, int64_t ncols) {
  alignas(64) float facc[R * NR];
  alignas(64) double ddot[R * NR];
  for (int e = 0; e < R * NR; e++) facc[e] = 0.0f;
  const uint8_t* ap = p.ap + i * p.kp;
  const int8_t* bp = p.bp + panel * p.kp * NR;
  for (int64_t kb = 0; kb < p.nkb; kb++) {
    const int64_t off = kb * p.P, plen = p.block_padded(kb);
    for (int64_t s0 = 0; s0 < plen; s0 += KSUB) {
      const int64_t q0 = (off + s0) / 4, q1 = (off + (s0 + KSUB < plen ? s0 + KSUB : plen)) / 4;
      typename VI::T acc[R][NV];
#pragma GCC unroll 16
      for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = VI::zero();
      for (int64_t q = q0; q < q1; q++) {
        typename VI::PB b[NV];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) b[v] = VI::prep_b(VI::load(bp + (q * NR + v * VI::W) * 4));
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
          const typename VI::PA a = VI::prep_a(VI::bcast4(ap + r * p.kp + q * 4));
#pragma GCC unroll 4
          for (int v = 0; v < NV; v++) acc[r][v] = VI::dp(acc[r][v], a, b[v]);
        }
      }
#pragma GCC unroll 16
      for (int r = 0; r < R; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) VI::to_double(ddot + r * NR + v * VI::W, acc[r][v], s0 == 0);
    }
    const int32_t* cs = p.cs + (panel * p.nkb + kb) * NR;
    const float* sb = p.sbp + (panel * p.nkb + kb) * NR;
    for (int r = 0; r < R; r++) {
      const float sa = p.sa[(i + r) * p.nkb + kb];
      for (int v = 0; v < NV; v++) {
        const int e = r * NR + v * VI::W;
        VI::epi(facc + e, ddot + e, cs + v * VI::W, sa, sb + v * VI::W);
      }
    }
  }
  for (int r = 0; r < R; r++)
    for (int64_t t = 0; t < ncols; t++) c[r * p.n + t] = facc[r * NR + t];
}

template <int... Is>
static void dispatch_micro(std::integer_sequence<int, Is...>, int rows, const Packed& p, int64_t i, int64_t panel,
                           float* c, int64_t ncols) {
  using Fn = void (*)(const Packed&, int64_t, int64_t, float*, int64_t);
  static constexpr Fn fns[] = {&micro<Is + 1>...};
  fns[rows - 1](p, i, panel, c, ncols);
}

static void tile(const Packed& p, int64_t i0, int64_t i1, int64_t p0, int64_t p1, float* c) {
  for (int64_t panel = p0; panel < p1; panel++) {
    const int64_t j = panel * NR, ncols = p.n - j < NR ? p.n - j : NR;
    for (int64_t i = i0; i < i1; i += MR) {
      const int rows = static_cast<int>(i1 - i < MR ? i1 - i : MR);
      if (rows == MR) micro<MR>(p, i, panel, c + i * p.n + j, ncols);
      else dispatch_micro(std::make_integer_sequence<int, MR>{}, rows, p, i, panel, c + i * p.n + j, ncols);
    }
  }
}
