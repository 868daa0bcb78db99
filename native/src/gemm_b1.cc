// Binary (±1) NT GEMM by xor-popcount: C[i,j] = k − 2·popcount(A_i xor B_j), bit-exact.
// Tiers: scalar (portable popcount), AVX2 (vpshufb nibble table + vpsadbw; the popcnt instruction
// variant is used where it measured faster, see README), AVX-512 (VPOPCNTDQ when present, else the
// nibble table on zmm). Padding bits are zero in both operands, so they never count.
// The bit-plane GEMM (multi-bit codes × ±1, gemm_bitplane at the end) runs the same micro-kernel with
// AND instead of XOR.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "common.h"
#include "gemm_b1_lanes.h"
#include "popcnt_avx2.h"
#include "thread_pool.h"

namespace fqt {
namespace {

using TileFn = void (*)(int64_t, int64_t, int64_t, const uint8_t*, const uint8_t*, int64_t, int64_t, int64_t,
                        int64_t, int32_t*);

namespace scalar {
struct VB {
  using T = uint64_t;
  static constexpr int W = 8;
  static T zero() { return 0; }
  static T load(const uint8_t* p) { T v; std::memcpy(&v, p, 8); return v; }
  static T acc(T s, T a, T b) { return s + static_cast<T>(__builtin_popcountll(a ^ b)); }
  static T acc_and(T s, T a, T b) { return s + static_cast<T>(__builtin_popcountll(a & b)); }
  static int64_t hsum(T s) { return static_cast<int64_t>(s); }
};
constexpr int MR = 2, NR = 4;
#include "gemm_b1_kernel.h"
}  // namespace scalar

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma,popcnt")
namespace popcnt64 {  // the popcnt instruction, four independent 64-bit chains per row pair
struct VB {
  using T = uint64_t;
  static constexpr int W = 8;
  static T zero() { return 0; }
  static T load(const uint8_t* p) { T v; std::memcpy(&v, p, 8); return v; }
  static T acc(T s, T a, T b) { return s + static_cast<T>(_mm_popcnt_u64(a ^ b)); }
  static T acc_and(T s, T a, T b) { return s + static_cast<T>(_mm_popcnt_u64(a & b)); }
  static int64_t hsum(T s) { return static_cast<int64_t>(s); }
};
constexpr int MR = 2, NR = 4;
#include "gemm_b1_kernel.h"
}  // namespace popcnt64

namespace avx2 {
struct VB {
  using T = __m256i;
  static constexpr int W = 32;
  static T zero() { return _mm256_setzero_si256(); }
  static T load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static T acc(T s, T a, T b) { return popadd(s, _mm256_xor_si256(a, b)); }
  static T acc_and(T s, T a, T b) { return popadd(s, _mm256_and_si256(a, b)); }
  static T popadd(T s, T x) { return _mm256_add_epi64(s, popcount_epi64_avx2(x)); }
  static int64_t hsum(T s) {
    alignas(32) int64_t v[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(v), s);
    return v[0] + v[1] + v[2] + v[3];
  }
};
constexpr int MR = 2, NR = 4;
#include "gemm_b1_kernel.h"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,popcnt")
namespace avx512 {
struct VB {
  using T = __m512i;
  static constexpr int W = 64;
  static T zero() { return _mm512_setzero_si512(); }
  static T load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static T acc(T s, T a, T b) { return popadd(s, _mm512_xor_si512(a, b)); }
  static T acc_and(T s, T a, T b) { return popadd(s, _mm512_and_si512(a, b)); }
  static T popadd(T s, T x) {
    const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
    const __m512i low = _mm512_set1_epi8(0x0f);
    const __m512i cnt = _mm512_add_epi8(_mm512_shuffle_epi8(lut, _mm512_and_si512(x, low)),
                                        _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi16(x, 4), low)));
    return _mm512_add_epi64(s, _mm512_sad_epu8(cnt, _mm512_setzero_si512()));
  }
  static int64_t hsum(T s) { return _mm512_reduce_add_epi64(s); }
};
constexpr int MR = 4, NR = 4;
#include "gemm_b1_kernel.h"
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vpopcntdq,avx2,fma,popcnt")
namespace vpopcnt {
struct VB {
  using T = __m512i;
  static constexpr int W = 64;
  static T zero() { return _mm512_setzero_si512(); }
  static T load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static T acc(T s, T a, T b) { return _mm512_add_epi64(s, _mm512_popcnt_epi64(_mm512_xor_si512(a, b))); }
  static T acc_and(T s, T a, T b) { return _mm512_add_epi64(s, _mm512_popcnt_epi64(_mm512_and_si512(a, b))); }
  static int64_t hsum(T s) { return _mm512_reduce_add_epi64(s); }
};
constexpr int MR = 4, NR = 4;
#include "gemm_b1_kernel.h"
}  // namespace vpopcnt
#pragma GCC pop_options
#endif

TileFn tile_for(Tier t) {
#if FQT_X86
  if (t >= Tier::Avx512) return cpu().avx512vpopcntdq ? &vpopcnt::tile : &avx512::tile;
  if (t >= Tier::Avx2) return &avx2::tile;
#endif
  (void)t;
  return &scalar::tile;
}

// popcount of a row of words: portable SWAR (a baseline __builtin_popcount is a libgcc call per word)
// and the popcnt instruction on the AVX2+ tiers.
int64_t popcount_words(const uint32_t* p, int64_t n) {
  int64_t s = 0;
  for (int64_t w = 0; w < n; w++) {
    uint32_t x = p[w];
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    s += static_cast<int64_t>((((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24);
  }
  return s;
}
#if FQT_X86
__attribute__((target("popcnt"))) int64_t popcount_words_popcnt(const uint32_t* p, int64_t n) {
  int64_t s = 0, w = 0;
  for (; w + 2 <= n; w += 2) {
    uint64_t x;
    std::memcpy(&x, p + w, 8);
    s += _mm_popcnt_u64(x);
  }
  if (w < n) s += _mm_popcnt_u32(p[w]);
  return s;
}
#endif

// Short rows (k ≤ 64, e.g. the grad-input GEMM of a conv whose K is its 16…64 output channels): one
// 64-bit word per row, so an output is one XOR-popcount (gemmB1) or `bits` AND-popcounts (gemmBitplane);
// the tiled micro-kernel would be all call and tail overhead here. Rows [i0, i1), every column.
inline int64_t popcount64_swar(uint64_t x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  return static_cast<int64_t>((((x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full) * 0x0101010101010101ull) >> 56);
}
inline uint64_t load_row64(const uint32_t* p, int64_t words) {
  return words == 2 ? (static_cast<uint64_t>(p[1]) << 32) | p[0] : words == 1 ? p[0] : 0;
}
struct ShortArgs {
  int64_t m, n, k, words;
  int bits;                 // gemmB1: 0
  const uint32_t* a;        // gemmB1: A rows; gemmBitplane: planes [bits, m, words]
  const uint64_t* b64;      // B rows as 64-bit words
  const uint32_t* b32;      // B itself (n words when words = 1)
  const int32_t* ones;      // gemmBitplane: popcount of every plane row
  int32_t* c;
};
template <bool kPopcnt>
__attribute__((always_inline)) inline void short_rows(const ShortArgs& g, int64_t i0, int64_t i1) {
  auto pop = [](uint64_t x) -> uint64_t { return kPopcnt ? __builtin_popcountll(x) : popcount64_swar(x); };
  // Locals: the build uses -fno-strict-aliasing, so the stores to C would otherwise reload every field of g.
  const int64_t m = g.m, n = g.n, k = g.k, words = g.words;
  const int bits = g.bits;
  const uint64_t* __restrict b64 = g.b64;
  uint64_t a[32];
  for (int64_t i = i0; i < i1; i++) {
    int32_t* __restrict row = g.c + i * n;
    if (bits == 0) {  // C = k − 2·popcount(a xor b)
      const uint64_t ai = load_row64(g.a + i * words, words);
      for (int64_t j = 0; j < n; j++) row[j] = static_cast<int32_t>(k - 2 * static_cast<int64_t>(pop(ai ^ b64[j])));
      continue;
    }
    uint64_t bias = 0;
    for (int p = 0; p < bits; p++) {
      a[p] = load_row64(g.a + (p * m + i) * words, words);
      bias += static_cast<uint64_t>(static_cast<int64_t>(g.ones[p * m + i])) << p;
    }
    // The plane loop unrolled for the common widths (a runtime trip count of 4 costs as much as the popcounts).
    auto columns = [&](auto width) {
      const int nb = decltype(width)::value > 0 ? decltype(width)::value : bits;
      for (int64_t j = 0; j < n; j++) {
        const uint64_t bj = b64[j];
        uint64_t s = 0;
#pragma GCC unroll 8
        for (int p = 0; p < nb; p++) s += pop(a[p] & bj) << p;
        row[j] = static_cast<int32_t>(static_cast<uint32_t>(2 * s - bias));  // wraps like a JS Int32Array store
      }
    };
    if (bits == 4) columns(std::integral_constant<int, 4>());
    else if (bits == 2) columns(std::integral_constant<int, 2>());
    else if (bits == 8) columns(std::integral_constant<int, 8>());
    else if (bits == 1) columns(std::integral_constant<int, 1>());
    else columns(std::integral_constant<int, 0>());
  }
}
void short_rows_generic(const ShortArgs& g, int64_t i0, int64_t i1) { short_rows<false>(g, i0, i1); }
#if FQT_X86
__attribute__((target("popcnt"))) void short_rows_popcnt(const ShortArgs& g, int64_t i0, int64_t i1) {
  short_rows<true>(g, i0, i1);
}
#endif
#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2,popcnt")
// gemmBitplane with k ≤ 32 and bits ≤ 5 on AVX2, 8 columns per vector: the byte popcounts (nibble table) of
// a_p ∧ b_j are folded plane by plane into one byte accumulator, acc = 2·acc + cnt from the highest plane
// down (≤ 8·(2^5 − 1) = 248 fits an unsigned byte), then summed per 32-bit lane: s = Σ_p 2^p·popcount.
void short_rows_w1_avx2(const ShortArgs& g, int64_t i0, int64_t i1) {
  const int64_t m = g.m, n = g.n;
  const int bits = g.bits;
  const uint32_t* __restrict b = g.b32;
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f), one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
  __m256i a[5];
  uint32_t as[5];
  for (int64_t i = i0; i < i1; i++) {
    int64_t bias = 0;
    for (int p = 0; p < bits; p++) {
      as[p] = g.a[p * m + i];
      a[p] = _mm256_set1_epi32(static_cast<int>(as[p]));
      bias += static_cast<int64_t>(g.ones[p * m + i]) << p;
    }
    const __m256i vbias = _mm256_set1_epi32(static_cast<int>(bias));
    int32_t* __restrict row = g.c + i * n;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
      const __m256i bv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + j));
      __m256i acc = _mm256_setzero_si256();
      for (int p = bits - 1; p >= 0; p--) {
        const __m256i x = _mm256_and_si256(a[p], bv);
        const __m256i cnt = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(x, low)),
                                            _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low)));
        acc = _mm256_add_epi8(_mm256_add_epi8(acc, acc), cnt);
      }
      const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(acc, one8), one16);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(row + j), _mm256_sub_epi32(_mm256_slli_epi32(s, 1), vbias));
    }
    for (; j < n; j++) {
      int64_t s = 0;
      for (int p = 0; p < bits; p++) s += static_cast<int64_t>(_mm_popcnt_u32(as[p] & b[j])) << p;
      row[j] = static_cast<int32_t>(static_cast<uint32_t>(2 * s - bias));
    }
  }
}
#pragma GCC pop_options
#endif

// Runs the short-row kernel over all rows on the pool (B converted to 64-bit words once).
void run_short(ShortArgs g, const uint32_t* b) {
  std::vector<uint64_t> b64(static_cast<size_t>(g.n));
  for (int64_t j = 0; j < g.n; j++) b64[j] = load_row64(b + j * g.words, g.words);
  g.b64 = b64.data();
  g.b32 = b;
  void (*fn)(const ShortArgs&, int64_t, int64_t) = &short_rows_generic;
#if FQT_X86
  if (active_tier() >= Tier::Avx2) fn = g.words == 1 && g.bits >= 1 && g.bits <= 5 ? &short_rows_w1_avx2 : &short_rows_popcnt;
#endif
  parallel_range(g.m, std::max<int64_t>(1, 16384 / g.n), [&](int64_t lo, int64_t hi) { fn(g, lo, hi); });
}

using PlaneTileFn = void (*)(int64_t, int64_t, int64_t, int, const uint8_t*, const uint8_t*, const int32_t*, int64_t,
                             int64_t, int64_t, int64_t, int32_t*);

PlaneTileFn plane_tile_for(Tier t) {
#if FQT_X86
  if (t >= Tier::Avx512) return cpu().avx512vpopcntdq ? &vpopcnt::tile_bitplane : &avx512::tile_bitplane;
  if (t >= Tier::Avx2) return &avx2::tile_bitplane;
#endif
  (void)t;
  return &scalar::tile_bitplane;
}

}  // namespace

void gemm_b1(int64_t m, int64_t n, int64_t k, const uint32_t* a, const uint32_t* b, int32_t* c) {
  if (m <= 0 || n <= 0) return;
  const int64_t bytes = (k + 31) / 32 * 4;
  if (bytes <= 8) return run_short({m, n, k, bytes / 4, 0, a, nullptr, nullptr, nullptr, c}, b);
  if (gemm_lanes_applies(k, 0)) return gemm_lanes(m, n, k, 0, a, b, nullptr, c);
  const TileFn tile = tile_for(active_tier());
  const auto* a8 = reinterpret_cast<const uint8_t*>(a);
  const auto* b8 = reinterpret_cast<const uint8_t*>(b);
  // Tiles of 64 × 64 outputs: 64 rows of both operands (≤ 32 KiB each at k = 4096) stay in L2.
  constexpr int64_t T = 64;
  const int64_t tm = (m + T - 1) / T, tn = (n + T - 1) / T;
  parallel_for(tm * tn, [&](int64_t t, int) {
    const int64_t i0 = (t / tn) * T, j0 = (t % tn) * T;
    tile(n, k, bytes, a8, b8, i0, std::min(m, i0 + T), j0, std::min(n, j0 + T), c);
  });
}

// Multi-bit × binary GEMM by bit planes (METHODS §3.6): the AND-popcount form
// Σ_k a_k·b_k = 2·popcount(a ∧ b⁺) − popcount(a) of a {0,1} plane a against a ±1 row b, weighted by 2^plane.
// popcount(a) is computed once per (plane, row); the planes of a row share the B panel of a tile.
void gemm_bitplane(int64_t m, int64_t n, int64_t k, int64_t bits, const uint32_t* planes, const uint32_t* b,
                   int32_t* c) {
  if (m <= 0 || n <= 0) return;
  const int64_t words = (k + 31) / 32;
  if (bits <= 0 || words == 0) {
    std::fill(c, c + m * n, 0);
    return;
  }
  std::vector<int32_t> ones(static_cast<size_t>(bits * m));
  int32_t* po = ones.data();
  int64_t (*count)(const uint32_t*, int64_t) = &popcount_words;
#if FQT_X86
  if (active_tier() >= Tier::Avx2) count = &popcount_words_popcnt;
#endif
  parallel_range(bits * m, std::max<int64_t>(1, 8192 / words), [=](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; row++) po[row] = static_cast<int32_t>(count(planes + row * words, words));
  });
  if (words <= 2 && bits <= 32) return run_short({m, n, k, words, static_cast<int>(bits), planes, nullptr, nullptr, po, c}, b);
  if (gemm_lanes_applies(k, bits)) return gemm_lanes(m, n, k, bits, planes, b, po, c);
  const PlaneTileFn tile = plane_tile_for(active_tier());
  const auto* a8 = reinterpret_cast<const uint8_t*>(planes);
  const auto* b8 = reinterpret_cast<const uint8_t*>(b);
  // 64 × 64 output tiles as in gemm_b1: the B panel (64 rows) and the tile's planes stay in L2.
  constexpr int64_t T = 64;
  const int64_t tm = (m + T - 1) / T, tn = (n + T - 1) / T;
  parallel_for(tm * tn, [&](int64_t t, int) {
    const int64_t i0 = (t / tn) * T, j0 = (t % tn) * T;
    tile(m, n, words * 4, static_cast<int>(bits), a8, b8, po, i0, std::min(m, i0 + T), j0, std::min(n, j0 + T), c);
  });
}

}  // namespace fqt
