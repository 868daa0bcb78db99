// Micro-kernels of the fused integer convolutions (see qconv.h), included once per tier inside a
// `#pragma GCC target` region and a namespace that defines the traits `VI`:
//   VI::V zero(); V load(const uint8_t*); void store(int32_t*, V); V loadi(const int32_t*)
//   PB prep_b(V)  (unsigned bytes, 4 per lane);  PA prep_a(int32_t)  (4 signed bytes, broadcast)
//   V dp(V acc, PB b, PA a)   acc += Σ_quad u8·s8 per lane (exact)
// and the compile-time maxima CONV_MR[NV], ROW_MR[NV] (0: no row kernels), GW_MR[NV].

template <int MR, int NV>
static void conv_micro(const int8_t* a, const int64_t* off, const int64_t* tap_a, const uint8_t* const* tap_b, int ntaps,
                       int64_t nq, int32_t* out) {
  typename VI::V acc[MR][NV];
#pragma GCC unroll 24
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[r][v] = VI::zero();
  for (int t = 0; t < ntaps; t++) {
    const int8_t* at = a + tap_a[t];
    const uint8_t* bt = tap_b[t];
    for (int64_t q = 0; q < nq; q++) {
      typename VI::PB b[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) b[v] = VI::prep_b(VI::load(bt + (q * NV + v) * VI::L * 4));
#pragma GCC unroll 24
      for (int r = 0; r < MR; r++) {
        int32_t av;
        std::memcpy(&av, at + off[r] + 4 * q, 4);
        const typename VI::PA pa = VI::prep_a(av);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = VI::dp(acc[r][v], b[v], pa);
      }
    }
  }
#pragma GCC unroll 24
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) VI::store(out + (r * NV + v) * VI::L, acc[r][v]);
}

template <int MR, int NV, int RS>
static void conv_row_micro(const int8_t* a, const int64_t* tap_a, const uint8_t* const* tap_b, int ntaps, int64_t nq, int32_t* out) {
  typename VI::V acc[MR][NV];
#pragma GCC unroll 24
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[r][v] = VI::zero();
  for (int t = 0; t < ntaps; t++) {
    const int8_t* at = a + tap_a[t];
    const uint8_t* bt = tap_b[t];
    for (int64_t q = 0; q < nq; q++) {
      typename VI::PB b[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) b[v] = VI::prep_b(VI::load(bt + (q * NV + v) * VI::L * 4));
      const int8_t* aq = at + 4 * q;
#pragma GCC unroll 24
      for (int r = 0; r < MR; r++) {
        int32_t av;
        std::memcpy(&av, aq + r * RS, 4);
        const typename VI::PA pa = VI::prep_a(av);
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = VI::dp(acc[r][v], b[v], pa);
      }
    }
  }
#pragma GCC unroll 24
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) VI::store(out + (r * NV + v) * VI::L, acc[r][v]);
}

template <int MR, int NV>
static void gw_micro(const int8_t* a, int64_t a_quad_stride, const uint8_t* b, int64_t b_quad_stride, int64_t nq, int32_t* out,
                     bool accumulate) {
  typename VI::V acc[MR][NV];
#pragma GCC unroll 24
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) acc[r][v] = accumulate ? VI::loadi(out + (r * NV + v) * VI::L) : VI::zero();
  for (int64_t q = 0; q < nq; q++) {
    typename VI::PB bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) bv[v] = VI::prep_b(VI::load(b + q * b_quad_stride + v * VI::L * 4));
#pragma GCC unroll 24
    for (int r = 0; r < MR; r++) {
      int32_t av;
      std::memcpy(&av, a + q * a_quad_stride + 4 * r, 4);  // rows 4 bytes apart: one address register
      const typename VI::PA pa = VI::prep_a(av);
#pragma GCC unroll 4
      for (int v = 0; v < NV; v++) acc[r][v] = VI::dp(acc[r][v], bv[v], pa);
    }
  }
#pragma GCC unroll 24
  for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
    for (int v = 0; v < NV; v++) VI::store(out + (r * NV + v) * VI::L, acc[r][v]);
}

// The tier's table: conv[nv][mr] and gw[nv][mr] for every nv ≤ kMaxNv and mr ≤ the tier's maxima.
template <int NV, int... Ms>
static void fill_nv(qconv::Kernels& t, std::integer_sequence<int, Ms...>) {
  ((t.conv[NV][Ms + 1] = (Ms + 1 <= CONV_MR[NV]) ? &conv_micro<(Ms + 1 <= CONV_MR[NV] ? Ms + 1 : 1), NV> : nullptr), ...);
  ((t.gw[NV][Ms + 1] = (Ms + 1 <= GW_MR[NV]) ? &gw_micro<(Ms + 1 <= GW_MR[NV] ? Ms + 1 : 1), NV> : nullptr), ...);
  {
    constexpr int C = ROW_MR[NV];
    ((t.conv_row[0][NV][Ms + 1] = (Ms + 1 <= C) ? &conv_row_micro<(Ms + 1 <= C ? Ms + 1 : 1), NV, qconv::kRowStrides[0]> : nullptr), ...);
    ((t.conv_row[1][NV][Ms + 1] = (Ms + 1 <= C) ? &conv_row_micro<(Ms + 1 <= C ? Ms + 1 : 1), NV, qconv::kRowStrides[1]> : nullptr), ...);
    ((t.conv_row[2][NV][Ms + 1] = (Ms + 1 <= C) ? &conv_row_micro<(Ms + 1 <= C ? Ms + 1 : 1), NV, qconv::kRowStrides[2]> : nullptr), ...);
    ((t.conv_row[3][NV][Ms + 1] = (Ms + 1 <= C) ? &conv_row_micro<(Ms + 1 <= C ? Ms + 1 : 1), NV, qconv::kRowStrides[3]> : nullptr), ...);
  }
}

static qconv::Kernels make_tier() {
  qconv::Kernels t{};
  t.lanes = VI::L;
  t.transpose = &VI::transpose;
  t.run = &run;
  t.flush = &flush;
  for (int nv = 1; nv <= qconv::kMaxNv; nv++) {
    t.conv_mr[nv] = CONV_MR[nv];
    t.row_mr[nv] = ROW_MR[nv];
    t.gw_mr[nv] = GW_MR[nv];
  }
  fill_nv<1>(t, std::make_integer_sequence<int, qconv::kMaxMr>{});
  fill_nv<2>(t, std::make_integer_sequence<int, qconv::kMaxMr>{});
  fill_nv<3>(t, std::make_integer_sequence<int, qconv::kMaxMr>{});
  fill_nv<4>(t, std::make_integer_sequence<int, qconv::kMaxMr>{});
  return t;
}
