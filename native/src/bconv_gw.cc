// Binary conv grad-weight on bit planes (bconv.h): dW[o, t] = Σ over (sample, pixel) of Q(dY)[o]·x±[at tap t], the
// reduction axis R = (sample, output pixel) of a chunk of samples laid out as bit rows:
//   A = the bit planes of the codes of the kept channels (pruned channels are never quantized: their dW rows are 0)
//   B = for every tap t = (ch, i, j) the sign bits x⁺ read by the tap (0 where it reads padding), then one row per
//       (i, j) marking where that tap is in bounds, then one all-ones row.
// gemm_bitplane gives C[o, r] = Σ_R q·(2b⁺ − 1) for each B row r, so with Q = C[o, ones] = Σ q and
// C_valid = C[o, valid(i, j)] = 2·Σ_valid q − Q:  dot = Σ_valid q·x± = C[o, t] + (Q − C_valid)/2, exactly.
// X[t] = Σ_valid x± = 2·popcount(B_t) − popcount(valid) comes from one more GEMM row of ones against B.
// Per-channel groups (blocked = 0) accumulate the integers over the chunks; per-sample groups (blocked = 1, K-blocks
// of P rows) lay R out per sample and fold the per-sample epilogues in sample order.
#include <algorithm>
#include <vector>

#include "bconv.h"
#include "common.h"
#include "thread_pool.h"

namespace fqt {
namespace {

// Inserts the low `nbits` (≤ 64) of v at bit `pos` of a row of 32-bit words (the bits there are zero).
inline void or_bits(uint32_t* row, int64_t pos, uint64_t v, int64_t nbits) {
  if (nbits <= 0) return;
  v &= low_mask(nbits);
  const int64_t w = pos >> 5, sh = pos & 31;
  row[w] |= static_cast<uint32_t>(v << sh);
  if (sh + nbits > 32) row[w + 1] |= static_cast<uint32_t>((v << sh) >> 32);
  if (sh + nbits > 64) row[w + 2] |= static_cast<uint32_t>(v >> (64 - sh));
}

// Where the bits of a chunk go: dense (sample t at bit t·P of long rows) or blocked (sample t owns a block of
// `rows` rows of spw words each, starting at bit 0).
struct RLayout {
  bool blocked;
  int64_t S, P, nrows, row_words;
  RLayout(bool b, int64_t s, int64_t p, int64_t nr)
      : blocked(b), S(s), P(p), nrows(nr), row_words(b ? words32(p) : words32(s * p)) {}
  int64_t words() const { return blocked ? S * nrows * row_words : nrows * row_words; }
  uint32_t* row(uint32_t* base, int64_t r, int64_t t) const {
    return blocked ? base + (t * nrows + r) * row_words : base + r * row_words;
  }
  int64_t start(int64_t t) const { return blocked ? 0 : t * P; }
};

// Plane bits of the codes of one (sample, channel) plane: code p's bit b at bit start + p of plane b's row.
void put_code_planes(const uint8_t* codes, int64_t P, int bits, const RLayout& A, uint32_t* base, int64_t kc, int64_t kept,
                     int64_t t) {
  for (int b = 0; b < bits; b++) {
    uint32_t* row = A.row(base, b * kept + kc, t);
    for (int64_t p0 = 0; p0 < P; p0 += 64) {
      const int64_t len = std::min<int64_t>(64, P - p0);
      uint64_t v = 0;
      for (int64_t k = 0; k < len; k++) v |= static_cast<uint64_t>((codes[p0 + k] >> b) & 1u) << k;
      or_bits(row, A.start(t) + p0, v, len);
    }
  }
}

inline void or_ones(uint32_t* row, int64_t pos, int64_t len) {
  for (int64_t k = 0; k < len; k += 64) or_bits(row, pos + k, ~0ull, std::min<int64_t>(64, len - k));
}

// Output pixels ox whose tap column j reads x = ox·s − pad + j inside [0, w): [lo, hi).
inline void tap_columns(const BGeom& g, int64_t j, int64_t* lo, int64_t* hi) {
  *lo = std::max<int64_t>(0, (g.pad - j + g.stride - 1) / g.stride);
  *hi = std::min<int64_t>(g.ow, (g.w - 1 + g.pad - j) / g.stride + 1);
}

// B's tap rows of channel ch for sample s (chunk slot t): bit oy·ow + ox of the sample's run is x⁺ at the tap.
void put_tap_rows(const BGeom& g, const uint32_t* x_signs, int64_t s, int64_t t, int64_t ch, const RLayout& B, uint32_t* base) {
  const uint32_t* xs = x_signs + s * words32(g.chw());
  for (int64_t i = 0; i < g.kh; i++)
    for (int64_t j = 0; j < g.kw; j++) {
      uint32_t* row = B.row(base, (ch * g.kh + i) * g.kw + j, t);
      int64_t lo, hi;
      tap_columns(g, j, &lo, &hi);
      for (int64_t oy = 0; oy < g.oh; oy++) {
        const int64_t y = oy * g.stride - g.pad + i;
        if (y < 0 || y >= g.h || hi <= lo) continue;
        const int64_t dst = B.start(t) + oy * g.ow, src = (ch * g.h + y) * g.w - g.pad + j;
        if (g.stride == 1) {
          for (int64_t o0 = lo; o0 < hi; o0 += 32) {
            const int64_t len = std::min<int64_t>(32, hi - o0);
            or_bits(row, dst + o0, bit_field(xs, src + o0, len), len);
          }
        } else {
          for (int64_t ox = lo; ox < hi; ox++) or_bits(row, dst + ox, static_cast<uint64_t>(bit_at(xs, src + ox * g.stride)), 1);
        }
      }
    }
}

// B's validity rows (one per tap (i, j), after the K tap rows) and the ones row (last) of chunk slot t.
void put_valid_rows(const BGeom& g, int64_t t, const RLayout& B, uint32_t* base) {
  const int64_t K = g.K();
  or_ones(B.row(base, B.nrows - 1, t), B.start(t), g.P());
  for (int64_t i = 0; i < g.kh; i++)
    for (int64_t j = 0; j < g.kw; j++) {
      uint32_t* row = B.row(base, K + i * g.kw + j, t);
      int64_t lo, hi;
      tap_columns(g, j, &lo, &hi);
      for (int64_t oy = 0; oy < g.oh; oy++) {
        const int64_t y = oy * g.stride - g.pad + i;
        if (y >= 0 && y < g.h && hi > lo) or_ones(row, B.start(t) + oy * g.ow + lo, hi - lo);
      }
    }
}

// The exact sums of one (channel, tap t) from the GEMM outputs of a row of A (c[r] = C[o, r]) and of the ones row of
// B used as A (pop[r] = 2·popcount(B_r) − R): dot = Σ_valid q·x±, X = Σ_valid x± (the file comment).
inline void tap_sums(const int64_t* c, const int64_t* pop, int64_t K, int64_t T, int64_t nb, int64_t t, int64_t* dot, int64_t* X) {
  const int64_t tap = K + t % T;
  *dot = c[t] + (c[nb - 1] - c[tap]) / 2;
  *X = pop[t] + (pop[nb - 1] - pop[tap]) / 2;  // pop[r] = 2·popcount(B_r) − R, pop[ones] = R
}

}  // namespace

void binary_conv_grad_weight(const BGeom& g, const float* dy, const float* scale, const DyQuant& q, const uint32_t* x_signs,
                             float* dw) {
  const int64_t K = g.K(), T = g.taps(), NB = K + T + 1, P = g.P();
  std::fill(dw, dw + std::max<int64_t>(0, g.oc * K), 0.0f);
  if (g.n <= 0 || K <= 0 || P <= 0 || g.oc <= 0) return;
  std::vector<int64_t> kept;  // blocked: every channel (the groups are per sample)
  for (int64_t o = 0; o < g.oc; o++)
    if (q.blocked || !q.pruned(q.group(0, o))) kept.push_back(o);
  const int64_t KC = static_cast<int64_t>(kept.size()), bits = q.bits;
  if (KC == 0) return;
  const int64_t per_sample = q.blocked ? ((bits * KC + NB) * words32(P) + (KC + 1) * NB) * 4 : (bits * KC + NB) * P / 8 + 1;
  const int64_t S = std::max<int64_t>(1, std::min<int64_t>(g.n, (8 << 20) / per_sample));
  std::vector<int64_t> acc(static_cast<size_t>((KC + 1) * NB), 0);  // per-channel groups: Σ over chunks; row KC = ones
  for (int64_t s0 = 0; s0 < g.n; s0 += S) {
    const int64_t ns = std::min(S, g.n - s0);
    const RLayout A(q.blocked, ns, P, bits * KC), B(q.blocked, ns, P, NB);
    std::vector<uint32_t> abuf(static_cast<size_t>(A.words()), 0), bbuf(static_cast<size_t>(B.words()), 0);
    std::vector<uint8_t> active(static_cast<size_t>(ns), 0);
    for (int64_t t = 0; t < ns; t++)
      for (int64_t o = 0; o < g.oc && !active[t]; o++) active[t] = !q.pruned(q.group((s0 + t) * P, o));
    parallel_for(KC + g.c + 1, [&](int64_t task, int) {
      if (task < KC) {  // the code planes of kept channel kept[task]
        const int64_t o = kept[task];
        const auto v = uninit_array<float>(P);
        const auto codes = uninit_array<uint8_t>(P);
        for (int64_t t = 0; t < ns; t++) {
          if (!active[t]) continue;
          const float* d = dy + ((s0 + t) * g.oc + o) * P;
          if (scale) {
            for (int64_t p = 0; p < P; p++) v[p] = d[p] * scale[o];
            d = v.get();
          }
          q.codes(d, P, s0 + t, o, P, g.oc, codes.get());
          put_code_planes(codes.get(), P, q.bits, A, abuf.data(), task, KC, t);
        }
      } else if (task < KC + g.c) {
        for (int64_t t = 0; t < ns; t++)
          if (active[t]) put_tap_rows(g, x_signs, s0 + t, t, task - KC, B, bbuf.data());
      } else {
        for (int64_t t = 0; t < ns; t++) put_valid_rows(g, t, B, bbuf.data());
      }
    });
    if (!q.blocked) {
      std::vector<int32_t> out(static_cast<size_t>(KC * NB)), pop(static_cast<size_t>(NB));
      gemm_bitplane(KC, NB, ns * P, bits, abuf.data(), bbuf.data(), out.data());
      gemm_bitplane(1, NB, ns * P, 1, B.row(bbuf.data(), NB - 1, 0), bbuf.data(), pop.data());
      for (int64_t i = 0; i < KC * NB; i++) acc[i] += out[i];
      for (int64_t r = 0; r < NB; r++) acc[KC * NB + r] += pop[r];
      continue;
    }
    // Per-sample groups: one GEMM per sample, then the epilogues folded in sample order.
    std::vector<int32_t> out(static_cast<size_t>(ns * (KC + 1) * NB));
    parallel_for(ns, [&](int64_t t, int) {
      if (!active[t]) return;
      int32_t* o = out.data() + t * (KC + 1) * NB;
      gemm_bitplane(KC, NB, P, bits, A.row(abuf.data(), 0, t), B.row(bbuf.data(), 0, t), o);
      gemm_bitplane(1, NB, P, 1, B.row(bbuf.data(), NB - 1, t), B.row(bbuf.data(), 0, t), o + KC * NB);
    });
    parallel_range(KC, 1, [&](int64_t k0, int64_t k1) {
      std::vector<int64_t> c(static_cast<size_t>(NB)), pop(static_cast<size_t>(NB));
      for (int64_t kc = k0; kc < k1; kc++) {
        for (int64_t t = 0; t < ns; t++) {
          const int64_t grp = q.group((s0 + t) * P, kept[kc]);
          if (!active[t] || q.pruned(grp)) continue;
          const int32_t* o = out.data() + t * (KC + 1) * NB;
          for (int64_t r = 0; r < NB; r++) c[r] = o[kc * NB + r], pop[r] = o[KC * NB + r];
          const float lo = q.lo(grp), delta = q.qscale[grp];
          float* dwo = dw + kept[kc] * K;
          for (int64_t tt = 0; tt < K; tt++) {
            int64_t dot, X;
            tap_sums(c.data(), pop.data(), K, T, NB, tt, &dot, &X);
            dwo[tt] = dwo[tt] + affine_out(delta, dot, lo, X);
          }
        }
      }
    });
  }
  if (q.blocked) return;
  parallel_range(KC, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t kc = k0; kc < k1; kc++) {
      const int64_t grp = q.group(0, kept[kc]);
      const float lo = q.lo(grp), delta = q.qscale[grp];
      for (int64_t tt = 0; tt < K; tt++) {
        int64_t dot, X;
        tap_sums(acc.data() + kc * NB, acc.data() + KC * NB, K, T, NB, tt, &dot, &X);
        dw[kept[kc] * K + tt] = affine_out(delta, dot, lo, X);
      }
    }
  });
}

}  // namespace fqt
