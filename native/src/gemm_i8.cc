// int8 × int8 NT GEMM with int32 block sums and the reference's float epilogue (bit-exact, see
// gemm_i8.h for the packed format). Tiers: scalar (portable quads), AVX2 (u8·s8 quads emulated with
// vpmaddwd on even/odd bytes: exact, unlike vpmaddubsw which saturates), AVX-512 (same emulation
// on zmm, or vpdpbusd with VNNI) and AMX (tdpbusd, gemm_i8_amx.cc).
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <utility>

#include "common.h"
#include "gemm_i8.h"
#include "thread_pool.h"

namespace fqt {
namespace i8 {
namespace {

namespace scalar {
struct VI {
  using T = int32_t;
  using PA = T;
  using PB = T;
  static constexpr int W = 1;
  static T zero() { return 0; }
  static T load(const int8_t* p) { T v; std::memcpy(&v, p, 4); return v; }
  static T bcast4(const uint8_t* p) { T v; std::memcpy(&v, p, 4); return v; }
  static PA prep_a(T a) { return a; }
  static PB prep_b(T b) { return b; }
  static T dp(T acc, PA a, PB b) {
    uint32_t s = static_cast<uint32_t>(acc);  // wrapping like vpdpbusd
    for (int t = 0; t < 4; t++) {
      const int32_t x = static_cast<uint8_t>(static_cast<uint32_t>(a) >> (8 * t));
      const int32_t y = static_cast<int8_t>(static_cast<uint32_t>(b) >> (8 * t));
      s += static_cast<uint32_t>(x * y);
    }
    return static_cast<T>(s);
  }
  static void to_double(double* d, T x, bool first) { *d = (first ? 0.0 : *d) + static_cast<double>(x); }
  static void epi(float* f, const double* d, const int32_t* cs, float sa, const float* sb) {
    const float s = sa * *sb;
    *f = *f + static_cast<float>(static_cast<double>(s) * (*d - 128.0 * *cs));
  }
};
constexpr int MR = 4, NV = 4;
#include "gemm_i8_kernel.h"
}  // namespace scalar

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
struct VI {
  using T = __m256i;
  struct PA { __m256i lo, hi; };
  struct PB { __m256i lo, hi; };
  static constexpr int W = 8;
  static T zero() { return _mm256_setzero_si256(); }
  static T load(const int8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
  static T bcast4(const uint8_t* p) { int32_t v; std::memcpy(&v, p, 4); return _mm256_set1_epi32(v); }
  // even / odd bytes of every 16-bit pair: u8 zero-extended, s8 sign-extended to int16
  static PA prep_a(T a) { return {_mm256_and_si256(a, _mm256_set1_epi16(0xff)), _mm256_srli_epi16(a, 8)}; }
  static PB prep_b(T b) { return {_mm256_srai_epi16(_mm256_slli_epi16(b, 8), 8), _mm256_srai_epi16(b, 8)}; }
  // vpmaddwd: |255·127 + 255·128| < 2^31, so every int16 pair product sum is exact
  static T dp(T acc, PA a, PB b) {
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(a.lo, b.lo), _mm256_madd_epi16(a.hi, b.hi)));
  }
  static void to_double(double* d, T x, bool first) {
    __m256d lo = _mm256_cvtepi32_pd(_mm256_castsi256_si128(x)), hi = _mm256_cvtepi32_pd(_mm256_extracti128_si256(x, 1));
    if (!first) {
      lo = _mm256_add_pd(lo, _mm256_load_pd(d));
      hi = _mm256_add_pd(hi, _mm256_load_pd(d + 4));
    }
    _mm256_store_pd(d, lo);
    _mm256_store_pd(d + 4, hi);
  }
  static void epi(float* f, const double* d, const int32_t* cs, float sa, const float* sb) {
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(cs));
    const __m256d k128 = _mm256_set1_pd(128.0);
    const __m256d dlo = _mm256_sub_pd(_mm256_load_pd(d), _mm256_mul_pd(k128, _mm256_cvtepi32_pd(_mm256_castsi256_si128(c))));
    const __m256d dhi = _mm256_sub_pd(_mm256_load_pd(d + 4), _mm256_mul_pd(k128, _mm256_cvtepi32_pd(_mm256_extracti128_si256(c, 1))));
    const __m256 s = _mm256_mul_ps(_mm256_set1_ps(sa), _mm256_loadu_ps(sb));
    const __m128 tlo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(s)), dlo));
    const __m128 thi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(s, 1)), dhi));
    _mm256_store_ps(f, _mm256_add_ps(_mm256_load_ps(f), _mm256_set_m128(thi, tlo)));
  }
};
constexpr int MR = 4, NV = 2;  // 8 accumulators + 4 split B + 2 split A of 16 ymm registers
#include "gemm_i8_kernel.h"
}  // namespace avx2
#pragma GCC pop_options

// AVX-512 traits shared by the VNNI and the emulated variant (everything but dp / prep).
#define FQT_I8_AVX512_COMMON                                                                                   \
  using T = __m512i;                                                                                           \
  static constexpr int W = 16;                                                                                 \
  static T zero() { return _mm512_setzero_si512(); }                                                           \
  static T load(const int8_t* p) { return _mm512_load_si512(p); }                                              \
  static T bcast4(const uint8_t* p) { int32_t v; std::memcpy(&v, p, 4); return _mm512_set1_epi32(v); }         \
  static void to_double(double* d, T x, bool first) {                                                          \
    __m512d lo = _mm512_cvtepi32_pd(_mm512_castsi512_si256(x)), hi = _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(x, 1)); \
    if (!first) {                                                                                              \
      lo = _mm512_add_pd(lo, _mm512_load_pd(d));                                                               \
      hi = _mm512_add_pd(hi, _mm512_load_pd(d + 8));                                                           \
    }                                                                                                          \
    _mm512_store_pd(d, lo);                                                                                    \
    _mm512_store_pd(d + 8, hi);                                                                                \
  }                                                                                                            \
  static void epi(float* f, const double* d, const int32_t* cs, float sa, const float* sb) {                   \
    const __m512i c = _mm512_loadu_si512(cs);                                                                  \
    const __m512d k128 = _mm512_set1_pd(128.0);                                                                \
    const __m512d dlo = _mm512_sub_pd(_mm512_load_pd(d), _mm512_mul_pd(k128, _mm512_cvtepi32_pd(_mm512_castsi512_si256(c)))); \
    const __m512d dhi = _mm512_sub_pd(_mm512_load_pd(d + 8), _mm512_mul_pd(k128, _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(c, 1)))); \
    const __m512 s = _mm512_mul_ps(_mm512_set1_ps(sa), _mm512_loadu_ps(sb));                                   \
    const __m256 slo = _mm512_castps512_ps256(s);                                                              \
    const __m256 shi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1));                       \
    const __m256 tlo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(slo), dlo));                              \
    const __m256 thi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(shi), dhi));                              \
    _mm512_store_ps(f, _mm512_add_ps(_mm512_load_ps(f), _mm512_insertf32x8(_mm512_castps256_ps512(tlo), thi, 1))); \
  }

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
namespace avx512 {
struct VI {
  FQT_I8_AVX512_COMMON
  struct PA { __m512i lo, hi; };
  struct PB { __m512i lo, hi; };
  static PA prep_a(T a) { return {_mm512_and_si512(a, _mm512_set1_epi16(0xff)), _mm512_srli_epi16(a, 8)}; }
  static PB prep_b(T b) { return {_mm512_srai_epi16(_mm512_slli_epi16(b, 8), 8), _mm512_srai_epi16(b, 8)}; }
  static T dp(T acc, PA a, PB b) {
    return _mm512_add_epi32(acc, _mm512_add_epi32(_mm512_madd_epi16(a.lo, b.lo), _mm512_madd_epi16(a.hi, b.hi)));
  }
};
constexpr int MR = 8, NV = 2;
#include "gemm_i8_kernel.h"
}  // namespace avx512
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma")
namespace vnni {
struct VI {
  FQT_I8_AVX512_COMMON
  using PA = T;
  using PB = T;
  static PA prep_a(T a) { return a; }
  static PB prep_b(T b) { return b; }
  static T dp(T acc, PA a, PB b) { return _mm512_dpbusd_epi32(acc, a, b); }  // a: u8, b: s8
};
constexpr int MR = 8, NV = 2;  // 16 accumulators of 32 zmm registers
#include "gemm_i8_kernel.h"
}  // namespace vnni
#pragma GCC pop_options
#endif

struct Config {
  int64_t nr, G;
  bool even_panels;  // AMX computes two 16-column panels at a time
  TileFn tile;
};

Config config_for(Tier t) {
#if FQT_X86
  if (t >= Tier::Amx) return {16, 64, true, amx_tile_fn()};
  if (t >= Tier::Avx512) {
    if (cpu().avx512vnni) return {vnni::NR, 4, false, &vnni::tile};
    return {avx512::NR, 4, false, &avx512::tile};
  }
  if (t >= Tier::Avx2) return {avx2::NR, 4, false, &avx2::tile};
#endif
  (void)t;
  return {scalar::NR, 4, false, &scalar::tile};
}

void pack_a(const Packed& p, const int8_t* a, uint8_t* ap) {
  parallel_range(p.mpad, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      uint8_t* dst = ap + i * p.kp;
      if (i >= p.m) {
        std::memset(dst, 0x80, p.kp);
        continue;
      }
      for (int64_t kb = 0; kb < p.nkb; kb++) {
        const int64_t len = p.block_len(kb), plen = p.block_padded(kb);
        const int8_t* src = a + i * p.k + kb * p.kblock;
        uint8_t* d = dst + kb * p.P;
        for (int64_t t = 0; t < len; t++) d[t] = static_cast<uint8_t>(src[t]) ^ 0x80;
        std::memset(d + len, 0x80, plen - len);
      }
    }
  });
}

void pack_b(const Packed& p, const int8_t* b, const float* sb, int8_t* bp, int32_t* cs, float* sbp) {
  const int64_t nr = p.nr;
  parallel_for(p.panels, [&](int64_t panel, int) {
    int8_t* dst = bp + panel * p.kp * nr;
    for (int64_t kb = 0; kb < p.nkb; kb++) {
      const int64_t len = p.block_len(kb), plen = p.block_padded(kb), off = kb * p.P;
      for (int64_t t = 0; t < nr; t++) {
        const int64_t j = panel * nr + t;
        int32_t sum = 0;
        for (int64_t kk = 0; kk < plen; kk++) {
          const int8_t v = (j < p.n && kk < len) ? b[j * p.k + kb * p.kblock + kk] : 0;
          dst[((off + kk) / 4 * nr + t) * 4 + (kk & 3)] = v;
          sum += v;
        }
        cs[(panel * p.nkb + kb) * nr + t] = sum;
        sbp[(panel * p.nkb + kb) * nr + t] = j < p.n ? sb[j * p.nkb + kb] : 0.0f;
      }
    }
  });
}

template <class T>
T* alloc(int64_t count) {
  return static_cast<T*>(std::aligned_alloc(64, (static_cast<size_t>(count) * sizeof(T) + 63) / 64 * 64));
}

}  // namespace
}  // namespace i8

void gemm_i8(int64_t m, int64_t n, int64_t k, int64_t kblock, const int8_t* a, const int8_t* b, const float* sa,
             const float* sb, float* c) {
  using namespace i8;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    std::memset(c, 0, sizeof(float) * static_cast<size_t>(m * n));
    return;
  }
  const Config cfg = config_for(active_tier());
  Packed p;
  p.m = m, p.n = n, p.k = k, p.kblock = std::max<int64_t>(1, std::min(kblock, k));
  p.nkb = (k + p.kblock - 1) / p.kblock;
  p.G = cfg.G;
  p.P = (p.kblock + p.G - 1) / p.G * p.G;
  p.kp = (p.nkb - 1) * p.P + p.block_padded(p.nkb - 1);
  p.nr = cfg.nr;
  p.panels = (n + cfg.nr - 1) / cfg.nr;
  if (cfg.even_panels) p.panels += p.panels & 1;
  p.mpad = (m + 31) / 32 * 32;
  uint8_t* ap = alloc<uint8_t>(p.mpad * p.kp);
  int8_t* bp = alloc<int8_t>(p.panels * p.kp * p.nr);
  int32_t* cs = alloc<int32_t>(p.panels * p.nkb * p.nr);
  float* sbp = alloc<float>(p.panels * p.nkb * p.nr);
  p.ap = ap, p.bp = bp, p.cs = cs, p.sbp = sbp, p.sa = sa;
  pack_a(p, a, ap);
  pack_b(p, b, sb, bp, cs, sbp);
  // Tiles of 64 rows × 256 columns (a multiple of every tier's panel pair); fixed by the shape only.
  constexpr int64_t MT = 64;
  const int64_t pt = 256 / cfg.nr;
  const int64_t tm = (m + MT - 1) / MT, tn = (p.panels + pt - 1) / pt;
  parallel_for(tm * tn, [&](int64_t t, int) {
    const int64_t i0 = (t / tn) * MT, p0 = (t % tn) * pt;
    cfg.tile(p, i0, std::min(m, i0 + MT), p0, std::min(p.panels, p0 + pt), c);
  });
  std::free(ap);
  std::free(bp);
  std::free(cs);
  std::free(sbp);
}

}  // namespace fqt
