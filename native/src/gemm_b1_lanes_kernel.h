// The lane kernel of gemm_b1_lanes.cc, included per tier inside its target region with V = the vector traits
// (T, L lanes of 64 bits, zero, bcast, load, pop = per-lane popcount, op, add, shl, store).

// Columns [j0, j0 + NV·L) of one row: per plane, Σ over the row's words of popcount(op(a_w, Bt[w][j])), weighted 2^p.
template <int NV, bool AND>
static void block(const LaneArgs& g, const uint64_t* aw, int64_t bias, int64_t j0, int32_t* c) {
  const int nb = AND ? g.bits : 1;
  typename V::T tot[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; v++) tot[v] = V::zero();
  for (int p = 0; p < nb; p++) {
    typename V::T acc[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) acc[v] = V::zero();
    const uint64_t* ap = aw + p * g.w64;
    for (int64_t w = 0; w < g.w64; w++) {
      const typename V::T a = V::bcast(ap[w]);
      const uint64_t* b = g.bt + w * g.np + j0;
#pragma GCC unroll 8
      for (int v = 0; v < NV; v++) acc[v] = V::add(acc[v], V::pop(V::op(AND, a, V::load(b + v * V::L))));
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV; v++) tot[v] = V::add(tot[v], p > 0 ? V::shl(acc[v], p) : acc[v]);
  }
  // AND: 2·tot − bias; XOR: k − 2·tot; stored as the low 32 bits.
  const typename V::T k = V::set(AND ? bias : g.k);
#pragma GCC unroll 8
  for (int v = 0; v < NV; v++) {
    const typename V::T two = V::add(tot[v], tot[v]);
    V::store_i32(AND ? V::sub(two, k) : V::sub(k, two), c + j0 + v * V::L);
  }
}

// Rows [i0, i1): aw holds one row's words, c one row's results (np entries; columns past n are dropped by store).
template <bool AND>
static void rows_op(const LaneArgs& g, int64_t i0, int64_t i1, uint64_t* aw, int32_t* c) {
  constexpr int64_t CB = 8 * V::L;
  for (int64_t i = i0; i < i1; i++) {
    const int64_t bias = g.src->load(g.src->ctx, i, aw);
    int64_t j0 = 0;
    for (; j0 + CB <= g.np; j0 += CB) block<8, AND>(g, aw, bias, j0, c);
    switch ((g.np - j0) / V::L) {  // np is a multiple of 8 lanes
      case 1: block<1, AND>(g, aw, bias, j0, c); break;
      case 2: block<2, AND>(g, aw, bias, j0, c); break;
      case 3: block<3, AND>(g, aw, bias, j0, c); break;
      case 4: block<4, AND>(g, aw, bias, j0, c); break;
      case 5: block<5, AND>(g, aw, bias, j0, c); break;
      case 6: block<6, AND>(g, aw, bias, j0, c); break;
      case 7: block<7, AND>(g, aw, bias, j0, c); break;
      default: break;
    }
    g.src->store(g.src->ctx, i, c);
  }
}

static void rows(const LaneArgs& g, int64_t i0, int64_t i1, uint64_t* aw, int32_t* c) {
  if (g.bits > 0) rows_op<true>(g, i0, i1, aw, c);
  else rows_op<false>(g, i0, i1, aw, c);
}
