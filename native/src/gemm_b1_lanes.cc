// Bit GEMMs with short rows (64 < k ≤ 2048 bits) for any n, columns in vector lanes: B is transposed once to
// [64-bit word][column], so one broadcast word of an A row meets 8 columns per instruction (AVX-512 VPOPCNTDQ,
// vpopcntq), 4 (AVX2, nibble-table popcount) or 1 (scalar). The tiled kernels of gemm_b1_kernel.h run along k and
// leave short rows to scalar tails; here the cost per output is (k/64)·3/lanes instructions, with no horizontal sums.
// Both ops of gemm_b1.cc: XOR (C = k − 2·Σ popcount(a ⊕ b)) and AND per bit plane (C = Σ_p 2^p·(2·Σ popcount(a_p ∧ b)
// − ones_p)), exact and bit-identical to the other paths (sums wrap mod 2^32 like a JS Int32Array store).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common.h"
#include "gemm_b1_lanes.h"
#include "popcnt_avx2.h"
#include "thread_pool.h"

namespace fqt {
namespace {

constexpr int kMaxWords = 32;  // gemm_b1 / gemm_bitplane: longer rows take the tiled kernels

struct LaneArgs {
  int64_t n, k, np, w64;
  int bits;             // 0: XOR (gemm_b1); ≥ 1: AND on `bits` planes (gemm_bitplane)
  const uint64_t* bt;   // [w64][np], columns ≥ n zero
  const LaneRows* src;
};

inline int32_t finish(const LaneArgs& g, uint64_t tot, int64_t bias) {
  const int64_t v = g.bits > 0 ? static_cast<int64_t>(2 * tot) - bias : g.k - static_cast<int64_t>(2 * tot);
  return static_cast<int32_t>(static_cast<uint32_t>(v));
}

namespace scalar {
void rows(const LaneArgs& g, int64_t i0, int64_t i1, uint64_t* aw, int32_t* c) {
  const int nb = g.bits > 0 ? g.bits : 1;
  for (int64_t i = i0; i < i1; i++) {
    const int64_t bias = g.src->load(g.src->ctx, i, aw);
    for (int64_t j = 0; j < g.n; j++) {
      uint64_t tot = 0;
      for (int p = 0; p < nb; p++) {
        uint64_t s = 0;
        for (int64_t w = 0; w < g.w64; w++) {
          const uint64_t a = aw[p * g.w64 + w], b = g.bt[w * g.np + j];
          s += static_cast<uint64_t>(__builtin_popcountll(g.bits > 0 ? a & b : a ^ b));
        }
        tot += s << p;
      }
      c[j] = finish(g, tot, bias);
    }
    g.src->store(g.src->ctx, i, c);
  }
}
}  // namespace scalar

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2,popcnt")
namespace avx2 {
struct V {
  using T = __m256i;
  static constexpr int L = 4;
  static T zero() { return _mm256_setzero_si256(); }
  static T bcast(uint64_t v) { return _mm256_set1_epi64x(static_cast<long long>(v)); }
  static T load(const uint64_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static T pop(T x) { return popcount_epi64_avx2(x); }
  static T op(bool and_op, T a, T b) { return and_op ? _mm256_and_si256(a, b) : _mm256_xor_si256(a, b); }
  static T add(T a, T b) { return _mm256_add_epi64(a, b); }
  static T shl(T a, int p) { return _mm256_sll_epi64(a, _mm_cvtsi32_si128(p)); }
  static T sub(T a, T b) { return _mm256_sub_epi64(a, b); }
  static T set(int64_t v) { return _mm256_set1_epi64x(v); }
  // The low 32 bits of each lane (a JS Int32Array store of the int64 value).
  static void store_i32(T v, int32_t* out) {
    const __m256i lo = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), _mm256_castsi256_si128(lo));
  }
};
#include "gemm_b1_lanes_kernel.h"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vpopcntdq,avx2,fma,popcnt")
namespace vpopcnt {
struct V {
  using T = __m512i;
  static constexpr int L = 8;
  static T zero() { return _mm512_setzero_si512(); }
  static T bcast(uint64_t v) { return _mm512_set1_epi64(static_cast<long long>(v)); }
  static T load(const uint64_t* p) { return _mm512_loadu_si512(p); }
  static T pop(T x) { return _mm512_popcnt_epi64(x); }
  static T op(bool and_op, T a, T b) { return and_op ? _mm512_and_si512(a, b) : _mm512_xor_si512(a, b); }
  static T add(T a, T b) { return _mm512_add_epi64(a, b); }
  static T shl(T a, int p) { return _mm512_sll_epi64(a, _mm_cvtsi32_si128(p)); }
  static T sub(T a, T b) { return _mm512_sub_epi64(a, b); }
  static T set(int64_t v) { return _mm512_set1_epi64(v); }
  static void store_i32(T v, int32_t* out) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_cvtepi64_epi32(v)); }
};
#include "gemm_b1_lanes_kernel.h"
}  // namespace vpopcnt
#pragma GCC pop_options
#endif

using RowsFn = void (*)(const LaneArgs&, int64_t, int64_t, uint64_t*, int32_t*);

RowsFn rows_for(Tier t) {
#if FQT_X86
  if (t >= Tier::Avx512 && cpu().avx512vpopcntdq) return &vpopcnt::rows;
  if (t >= Tier::Avx2) return &avx2::rows;
#endif
  (void)t;
  return &scalar::rows;
}

// Word w of a row of w32 32-bit words (the high half of a last odd word is zero).
inline uint64_t row_word(const uint32_t* row, int64_t w, int64_t w32) {
  if (2 * w + 1 < w32) {
    uint64_t v;
    std::memcpy(&v, row + 2 * w, 8);
    return v;
  }
  return row[2 * w];
}

// gemm_lanes' row source: A's rows (planes) in place, C's rows in place.
struct MatrixRows {
  int64_t m, n, w32, w64, bits;
  const uint32_t* a;
  const int32_t* ones;
  int32_t* c;
  static int64_t load(const void* ctx, int64_t i, uint64_t* aw) {
    const auto& s = *static_cast<const MatrixRows*>(ctx);
    int64_t bias = 0;
    for (int64_t p = 0; p < std::max<int64_t>(1, s.bits); p++) {
      const uint32_t* row = s.a + (p * s.m + i) * s.w32;
      for (int64_t w = 0; w < s.w64; w++) aw[p * s.w64 + w] = row_word(row, w, s.w32);
      if (s.bits > 0) bias += static_cast<int64_t>(s.ones[p * s.m + i]) << p;
    }
    return bias;
  }
  static void store(const void* ctx, int64_t i, const int32_t* c) {
    const auto& s = *static_cast<const MatrixRows*>(ctx);
    std::memcpy(s.c + i * s.n, c, sizeof(int32_t) * static_cast<size_t>(s.n));
  }
};

}  // namespace

LaneB::LaneB(const uint32_t* b, int64_t n_, int64_t k_)
    : n(n_), k(k_), w64((k_ + 63) / 64), np((n_ + 7) / 8 * 8), bt(static_cast<size_t>(w64 * np), 0) {
  const int64_t w32 = (k + 31) / 32;
  for (int64_t j = 0; j < n; j++)
    for (int64_t w = 0; w < w64; w++) bt[w * np + j] = row_word(b + j * w32, w, w32);
}

LaneB::LaneB(const uint64_t* rows64, int64_t n_, int64_t k_)
    : n(n_), k(k_), w64((k_ + 63) / 64), np((n_ + 7) / 8 * 8), bt(static_cast<size_t>(w64 * np), 0) {
  for (int64_t j = 0; j < n; j++)
    for (int64_t w = 0; w < w64; w++) bt[w * np + j] = rows64[j * w64 + w];
}

LaneB::LaneB(int64_t n_, int64_t k_) : n(n_), k(k_), w64((k_ + 63) / 64), np((n_ + 7) / 8 * 8), bt(static_cast<size_t>(w64 * np), 0) {}

void gemm_lanes_rows(int64_t i0, int64_t i1, int64_t bits, const LaneB& b, const LaneRows& rows) {
  if (i1 <= i0 || b.n <= 0) return;
  const LaneArgs g{b.n, b.k, b.np, b.w64, static_cast<int>(bits), b.bt.data(), &rows};
  std::vector<uint64_t> aw(static_cast<size_t>(std::max<int64_t>(1, bits) * b.w64));
  std::vector<int32_t> c(static_cast<size_t>(b.np));
  rows_for(active_tier())(g, i0, i1, aw.data(), c.data());
}

bool gemm_lanes_applies(int64_t k, int64_t bits) { return k > 64 && (k + 63) / 64 <= kMaxWords && bits <= 8; }

void gemm_lanes(int64_t m, int64_t n, int64_t k, int64_t bits, const uint32_t* a, const uint32_t* b, const int32_t* ones,
                int32_t* c) {
  const LaneB lb(b, n, k);
  const MatrixRows src{m, n, (k + 31) / 32, lb.w64, bits, a, ones, c};
  const LaneRows rows{&MatrixRows::load, &MatrixRows::store, &src};
  // Tasks of rows sized from the problem only (thread-count independent; integer results anyway).
  const int64_t per_row = std::max<int64_t>(1, lb.w64 * lb.np * std::max<int64_t>(1, bits));
  parallel_range(m, std::max<int64_t>(1, 65536 / per_row), [&](int64_t i0, int64_t i1) { gemm_lanes_rows(i0, i1, bits, lb, rows); });
}

}  // namespace fqt
