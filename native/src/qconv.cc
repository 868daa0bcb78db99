// Fused integer convolutions: drivers of the three passes (see qconv.h for the integer identity and
// src/backend/qconv-kernels.ts for the contract). Each output is computed by one task, in a fixed order, from exact
// integer sums and the float64 epilogue of src/backend/ref/qconv.ts, so results are bit-identical to the reference
// on every tier and thread count. Tiers: VNNI (vpdpbusd on zmm), AVX2 (u8·s8 quads by vpmaddwd on even/odd bytes,
// exact), scalar; AVX-512 without VNNI runs the AVX2 kernels.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "qconv_util.h"
#include "thread_pool.h"

namespace fqt {
namespace qconv {
namespace {

namespace scalar {
struct VI {
  static constexpr int L = 8;
  struct V { int32_t x[L]; };
  using PB = V;
  using PA = int32_t;
  static V zero() { return V{}; }
  static V load(const uint8_t* p) {
    V v;
    std::memcpy(v.x, p, sizeof v.x);
    return v;
  }
  static V loadi(const int32_t* p) {
    V v;
    std::memcpy(v.x, p, sizeof v.x);
    return v;
  }
  static void store(int32_t* p, const V& v) { std::memcpy(p, v.x, sizeof v.x); }
  static PB prep_b(const V& b) { return b; }
  static PA prep_a(int32_t a) { return a; }
#include "qconv_generic_vi.h"
  static V dp(V acc, const PB& b, PA a) {
    for (int l = 0; l < L; l++) {
      const uint32_t bq = static_cast<uint32_t>(b.x[l]), aq = static_cast<uint32_t>(a);
      for (int t = 0; t < 4; t++)
        acc.x[l] += static_cast<int32_t>((bq >> (8 * t)) & 0xff) * static_cast<int32_t>(static_cast<int8_t>(aq >> (8 * t)));
    }
    return acc;
  }
};
static constexpr int CONV_MR[qconv::kMaxNv + 1] = {0, 4, 4, 4, 4};
static constexpr int ROW_MR[qconv::kMaxNv + 1] = {0, 0, 0, 0, 0};  // no row kernels
static constexpr int GW_MR[qconv::kMaxNv + 1] = {0, 4, 4, 4, 4};
#include "qconv_tier.h"
#include "qconv_micro.h"
}  // namespace scalar

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
struct VI {
  static constexpr int L = 8;
  using V = __m256i;
  struct PB { __m256i even, odd; };
  struct PA { __m256i even, odd; };
  static V zero() { return _mm256_setzero_si256(); }
  static V load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static V loadi(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void store(int32_t* p, V v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  // u8 bytes b0 b1 b2 b3 of a lane → int16 pairs (b0, b2) and (b1, b3), zero-extended.
  static PB prep_b(V b) { return {_mm256_and_si256(b, _mm256_set1_epi16(0xff)), _mm256_srli_epi16(b, 8)}; }
  // s8 bytes a0 a1 a2 a3 → int16 pairs (a0, a2) and (a1, a3), sign-extended, broadcast.
  static PA prep_a(int32_t a) {
    const auto s = [&](int t) { return static_cast<uint32_t>(static_cast<uint16_t>(static_cast<int16_t>(static_cast<int8_t>(a >> (8 * t))))); };
    return {_mm256_set1_epi32(static_cast<int32_t>(s(0) | (s(2) << 16))), _mm256_set1_epi32(static_cast<int32_t>(s(1) | (s(3) << 16)))};
  }
#include "qconv_generic_vi.h"
  // vpmaddwd: |255·128 + 255·128| < 2^31, exact.
  static V dp(V acc, const PB& b, const PA& a) {
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(b.even, a.even), _mm256_madd_epi16(b.odd, a.odd)));
  }
};
static constexpr int CONV_MR[qconv::kMaxNv + 1] = {0, 4, 3, 2, 1};
static constexpr int ROW_MR[qconv::kMaxNv + 1] = {0, 0, 0, 0, 0};  // no row kernels
static constexpr int GW_MR[qconv::kMaxNv + 1] = {0, 4, 3, 2, 1};
#include "qconv_tier.h"
#include "qconv_micro.h"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma")
namespace vnni {
struct VI {
  static constexpr int L = 16;
  using V = __m512i;
  using PB = __m512i;
  using PA = __m512i;
  static V zero() { return _mm512_setzero_si512(); }
  static V load(const uint8_t* p) { return _mm512_loadu_si512(p); }
  static V loadi(const int32_t* p) { return _mm512_loadu_si512(p); }
  static void store(int32_t* p, V v) { _mm512_storeu_si512(p, v); }
  static PB prep_b(V b) { return b; }
  static PA prep_a(int32_t a) { return _mm512_set1_epi32(a); }
  static V dp(V acc, PB b, PA a) { return _mm512_dpbusd_epi32(acc, b, a); }  // b: u8, a: s8
  // 16 rows of 16 lanes at a time through the unpack / 128-bit shuffle network (4 stages of 16 instructions).
  // Lanes m < `lanes` of the first `rows` rows are stored (out[m·out_stride + i] = in[i·width + m]).
  static void transpose16(const int32_t* in, int rows, int64_t width, int32_t* out, int64_t out_stride, int lanes = 16) {
    __m512i r[16];
    for (int i = 0; i < 16; i++) r[i] = i < rows ? _mm512_loadu_si512(in + i * width) : _mm512_setzero_si512();
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
      t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
      t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
      r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
      r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
      r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
      r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    // r[4b + k] holds, in 128-bit block q, lane 4q + (k order 0,1,2,3 → lanes 0,1,2,3 of the quad) of rows 4b..4b+3.
    for (int i = 0; i < 4; i++) {
      t[i] = _mm512_shuffle_i32x4(r[i], r[4 + i], 0x88);
      t[4 + i] = _mm512_shuffle_i32x4(r[i], r[4 + i], 0xdd);
      t[8 + i] = _mm512_shuffle_i32x4(r[8 + i], r[12 + i], 0x88);
      t[12 + i] = _mm512_shuffle_i32x4(r[8 + i], r[12 + i], 0xdd);
    }
    for (int i = 0; i < 4; i++) {
      r[i] = _mm512_shuffle_i32x4(t[i], t[8 + i], 0x88);
      r[8 + i] = _mm512_shuffle_i32x4(t[i], t[8 + i], 0xdd);
      r[4 + i] = _mm512_shuffle_i32x4(t[4 + i], t[12 + i], 0x88);
      r[12 + i] = _mm512_shuffle_i32x4(t[4 + i], t[12 + i], 0xdd);
    }
    // r[m] now holds lane m of rows 0..15.
    const __mmask16 keep = rows >= 16 ? 0xffff : static_cast<__mmask16>((1u << rows) - 1);
    // Full tiles store unmasked: masked stores are far slower on some cores (Zen 4).
    if (rows >= 16)
      for (int m = 0; m < lanes; m++) _mm512_storeu_si512(out + m * out_stride, r[m]);
    else
      for (int m = 0; m < lanes; m++) _mm512_mask_storeu_epi32(out + m * out_stride, keep, r[m]);
  }
  // The epilogue span on 8 lanes of float64 with masked tails (same operations, same order as the generic one).
  static void epilogue_span(const int32_t* r, const double* s, const double* ub, int n, double a, double c, double z, double b, float* out) {
    const __m512d va = _mm512_set1_pd(a), vc = _mm512_set1_pd(c), vz = _mm512_set1_pd(z), vb = _mm512_set1_pd(b);
    int i = 0;
    for (; i + 8 <= n; i += 8) {  // full spans unmasked (masked stores are slow on some cores)
      const __m512d R = _mm512_cvtepi32_pd(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + i)));
      const __m512d S = _mm512_loadu_pd(s + i);
      __m512d v = _mm512_mul_pd(va, _mm512_sub_pd(_mm512_add_pd(R, vc), _mm512_mul_pd(vz, S)));
      if (ub != nullptr) v = _mm512_add_pd(v, _mm512_mul_pd(vb, _mm512_loadu_pd(ub + i)));
      _mm256_storeu_ps(out + i, _mm512_cvtpd_ps(v));
    }
    for (; i < n; i += 8) {
      const __mmask8 m = static_cast<__mmask8>((1u << (n - i)) - 1);
      const __m512d R = _mm512_cvtepi32_pd(_mm256_maskz_loadu_epi32(m, r + i));
      const __m512d S = _mm512_maskz_loadu_pd(m, s + i);
      __m512d v = _mm512_mul_pd(va, _mm512_sub_pd(_mm512_add_pd(R, vc), _mm512_mul_pd(vz, S)));
      if (ub != nullptr) v = _mm512_add_pd(v, _mm512_mul_pd(vb, _mm512_maskz_loadu_pd(m, ub + i)));
      _mm256_mask_storeu_ps(out + i, m, _mm512_cvtpd_ps(v));
    }
  }
  static void transpose(const int32_t* in, int rows, int64_t width, int32_t* out, int64_t out_stride) {
    for (int r0 = 0; r0 < rows; r0 += 16)
      for (int64_t j0 = 0; j0 < width; j0 += 16)
        transpose16(in + r0 * width + j0, rows - r0 < 16 ? rows - r0 : 16, width, out + j0 * out_stride + r0, out_stride);
  }
  // The common epilogue of a whole tile, vectorised across lanes while R is still lane-major: row i, lane j of R
  // (r[i·width + j]) becomes f32(alpha_j·((R + c_j) − zb_j·s_i) [+ beta_j·ubt[i·ubt_stride + j]]), the operations of
  // epilogue_span in the same order, then the float tile is transposed into the planes out[j·plane + i·step] for the
  // real lanes j < lanes.
  static bool epilogue_tile(const int32_t* r, int rows, int64_t width, int64_t lanes, const double* alpha, const double* c,
                            const double* zb, const double* s, const double* beta, const double* ubt, int64_t ubt_stride, float* out,
                            int64_t plane, int64_t step) {
    if (rows > 16) {  // 16 rows at a time
      for (int i0 = 0; i0 < rows; i0 += 16)
        epilogue_tile(r + i0 * width, rows - i0 < 16 ? rows - i0 : 16, width, lanes, alpha, c, zb, s + i0, beta,
                      ubt != nullptr ? ubt + i0 * ubt_stride : nullptr, ubt_stride, out + i0 * step, plane, step);
      return true;
    }
    alignas(64) float tile[16 * 16];
    for (int64_t v = 0; v * 16 < lanes; v++) {
      const __m512d a0 = _mm512_loadu_pd(alpha + 16 * v), a1 = _mm512_loadu_pd(alpha + 16 * v + 8);
      const __m512d c0 = _mm512_loadu_pd(c + 16 * v), c1 = _mm512_loadu_pd(c + 16 * v + 8);
      const __m512d z0 = _mm512_loadu_pd(zb + 16 * v), z1 = _mm512_loadu_pd(zb + 16 * v + 8);
      for (int i = 0; i < rows; i++) {
        const __m512i R = _mm512_loadu_si512(r + i * width + 16 * v);
        const __m512d S = _mm512_set1_pd(s[i]);
        __m512d lo = _mm512_mul_pd(a0, _mm512_sub_pd(_mm512_add_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(R)), c0), _mm512_mul_pd(z0, S)));
        __m512d hi = _mm512_mul_pd(a1, _mm512_sub_pd(_mm512_add_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(R, 1)), c1), _mm512_mul_pd(z1, S)));
        if (beta != nullptr) {
          const double* u = ubt + i * ubt_stride + 16 * v;
          lo = _mm512_add_pd(lo, _mm512_mul_pd(_mm512_loadu_pd(beta + 16 * v), _mm512_loadu_pd(u)));
          hi = _mm512_add_pd(hi, _mm512_mul_pd(_mm512_loadu_pd(beta + 16 * v + 8), _mm512_loadu_pd(u + 8)));
        }
        _mm256_store_ps(tile + 16 * i, _mm512_cvtpd_ps(lo));
        _mm256_store_ps(tile + 16 * i + 8, _mm512_cvtpd_ps(hi));
      }
      const int64_t left = lanes - 16 * v, real = left < 16 ? left : 16;
      if (step == 1) {
        transpose16(reinterpret_cast<const int32_t*>(tile), rows, 16, reinterpret_cast<int32_t*>(out + 16 * v * plane), plane,
                    static_cast<int>(real));
      } else {  // outputs step apart (a stride-s grad-input phase): scattered
        for (int64_t m = 0; m < real; m++) {
          float* o = out + (16 * v + m) * plane;
          for (int i = 0; i < rows; i++) o[i * step] = tile[16 * i + m];
        }
      }
    }
    return true;
  }

};
static constexpr int CONV_MR[qconv::kMaxNv + 1] = {0, 16, 8, 5, 4};
// Row kernels keep one address register, so their tiles may use every zmm: MR·NV accumulators + NV B vectors ≤ 32.
static constexpr int ROW_MR[qconv::kMaxNv + 1] = {0, 24, 14, 9, 7};
static constexpr int GW_MR[qconv::kMaxNv + 1] = {0, 16, 10, 8, 6};
#include "qconv_tier.h"
#include "qconv_micro.h"
}  // namespace vnni
#pragma GCC pop_options
#endif

}  // namespace

const Kernels& tier_kernels() {
  static const Kernels s = scalar::make_tier();
#if FQT_X86
  static const Kernels a2 = avx2::make_tier();
  static const Kernels v = vnni::make_tier();
  const fqt::Tier t = active_tier();
  if (t >= fqt::Tier::Avx512 && cpu().avx512vnni) return v;
  if (t >= fqt::Tier::Avx2) return a2;
#endif
  return s;
}

}  // namespace qconv
}  // namespace fqt
