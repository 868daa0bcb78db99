// Quantization kernels: per-group range, affine quantization (nearest / stochastic rounding) and
// dequantization. Bit-exact twins of src/backend/ref/quant.ts, i.e. of the arithmetic in
// src/quant/rounding.ts §1:
//   t = f32(f32(x − offset)·inv)   float32 subtract and multiply: an IEEE float op equals JavaScript's
//                                  float64 op followed by Math.fround (double rounding is innocuous for
//                                  + − × ÷ because 53 ≥ 2·24 + 2), so 8 lanes of float32 are exact;
//   s = t + zp,  q = floor(s + u) or roundHalfEven(s)   in float64, the very operations JS evaluates
//                                  (4 lanes of double; vroundpd's nearest mode is round-half-even);
//   u = (fmix(key ^ i) >> 8)·2⁻²⁴  the counter RNG of rng.h with i = r·cols + c (mod 2³²).
// Tiers: scalar (the spec, also every SIMD tail), AVX2, and AVX-512 for quantization (16 lanes with masked tails:
// the RNG's 32-bit multiplies bound it); ranges and dequantization stay on AVX2, which memory bounds.
#include <immintrin.h>

#include <cmath>
#include <limits>
#include <vector>

#include "common.h"
#include "quant_groups.h"
#include "rng.h"
#include "thread_pool.h"

namespace fqt {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per pool task

struct QArgs {
  double qmin, qmax;
  bool sr;
  uint32_t key;
};

// ---- scalar: the specification (ref/quant.ts line by line) ----
namespace scalar {

inline uint8_t quant1(float x, float off, float inv, int32_t zp, const QArgs& a, uint32_t idx) {
  const float t = (x - off) * inv;
  const double s = static_cast<double>(t) + zp;
  const double q = a.sr ? std::floor(s + static_cast<double>(rng_fmix(a.key ^ idx) >> 8) * 0x1p-24) : std::nearbyint(s);
  const double c = q < a.qmin ? a.qmin : q > a.qmax ? a.qmax : q;
  return c == c ? static_cast<uint8_t>(static_cast<int32_t>(c)) : 0;  // NaN stores as 0 in a typed array
}

inline int32_t code_at(const uint8_t* c, bool sgn, int64_t i) {
  return sgn ? static_cast<int32_t>(static_cast<int8_t>(c[i])) : static_cast<int32_t>(c[i]);
}

inline float dequant1(int32_t code, float off, float sc, int32_t zp) {
  const float p = static_cast<float>((static_cast<double>(code) - zp) * sc);
  return static_cast<float>(static_cast<double>(off) + p);
}

// lo/hi of one group updated by a segment, exactly as the reference loop does (NaN sticks; on ties the
// value seen first is kept, which fixes the sign of a zero minimum).
void range_seg(const float* x, int64_t n, float* lo, float* hi) {
  float l = *lo, h = *hi;
  for (int64_t i = 0; i < n; i++) {
    const float v = x[i];
    if (v < l || v != v) l = v;
    if (v > h || v != v) h = v;
  }
  *lo = l, *hi = h;
}
// Per-column groups (colDiv = 1): lo[c], hi[c] updated by x[c].
void range_cols(const float* x, int64_t n, float* lo, float* hi) {
  for (int64_t i = 0; i < n; i++) range_seg(x + i, 1, lo + i, hi + i);
}
// Element i takes the RNG index idx0 + i·step (mod 2^32): step 1 on a row-major run; the fused binary conv
// kernels quantize a channel plane of dY whose GEMM-row indices step by the channel count.
void quant_seg(const float* x, int64_t n, float off, float inv, int32_t zp, const QArgs& a, uint32_t idx0, uint32_t step,
               uint8_t* out) {
  for (int64_t i = 0; i < n; i++) out[i] = quant1(x[i], off, inv, zp, a, idx0 + static_cast<uint32_t>(i) * step);
}
void quant_cols(const float* x, int64_t n, const float* off, const float* inv, const int32_t* zp, const QArgs& a,
                uint32_t idx0, uint32_t step, uint8_t* out) {
  for (int64_t i = 0; i < n; i++) out[i] = quant1(x[i], off[i], inv[i], zp[i], a, idx0 + static_cast<uint32_t>(i) * step);
}
void dequant_seg(const uint8_t* c, bool sgn, int64_t n, float off, float sc, int32_t zp, float* out) {
  for (int64_t i = 0; i < n; i++) out[i] = dequant1(code_at(c, sgn, i), off, sc, zp);
}
void dequant_cols(const uint8_t* c, bool sgn, int64_t n, const float* off, const float* sc, const int32_t* zp, float* out) {
  for (int64_t i = 0; i < n; i++) out[i] = dequant1(code_at(c, sgn, i), off[i], sc[i], zp[i]);
}

}  // namespace scalar

// ---- AVX2 ----
#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2")
namespace avx2 {

inline __m256i index8(uint32_t i0, __m256i steps = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)) {
  return _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(i0)), steps);
}
inline __m256d lo_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_castps256_ps128(v)); }
inline __m256d hi_pd(__m256 v) { return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)); }
inline __m256d lo_pd(__m256i v) { return _mm256_cvtepi32_pd(_mm256_castsi256_si128(v)); }
inline __m256d hi_pd(__m256i v) { return _mm256_cvtepi32_pd(_mm256_extracti128_si256(v, 1)); }

struct Q8 {
  __m256d qmin, qmax;
  __m256i key;
  bool sr;
  bool int_bounds;  // sr8_f32 needs integer bounds: qminI / qmaxI
  __m256i qminI, qmaxI;
  explicit Q8(const QArgs& a)
      : qmin(_mm256_set1_pd(a.qmin)), qmax(_mm256_set1_pd(a.qmax)), key(_mm256_set1_epi32(static_cast<int>(a.key))),
        sr(a.sr), int_bounds(a.qmin == std::floor(a.qmin) && a.qmax == std::floor(a.qmax)),
        qminI(_mm256_set1_epi32(int_bounds ? static_cast<int32_t>(a.qmin) : 0)),
        qmaxI(_mm256_set1_epi32(int_bounds ? static_cast<int32_t>(a.qmax) : 0)) {}
};

// clamp(q, qmin, qmax) with NaN → 0, as int32 (vmaxpd returns its second operand, qmin, for a NaN q).
inline __m128i clamp_i32(__m256d q, const Q8& c) {
  const __m256d ord = _mm256_cmp_pd(q, q, _CMP_ORD_Q);
  return _mm256_cvttpd_epi32(_mm256_and_pd(_mm256_min_pd(_mm256_max_pd(q, c.qmin), c.qmax), ord));
}

// Codes of 8 consecutive elements in the low 8 bytes (the low byte of each int32, i.e. the JS store).
inline __m128i quant8(__m256 x, __m256 off, __m256 inv, __m256i zp, __m256i idx, const Q8& c) {
  const __m256 t = _mm256_mul_ps(_mm256_sub_ps(x, off), inv);
  __m256d s0 = _mm256_add_pd(lo_pd(t), lo_pd(zp)), s1 = _mm256_add_pd(hi_pd(t), hi_pd(zp));
  if (c.sr) {
    const __m256i u = _mm256_srli_epi32(rng_fmix8(_mm256_xor_si256(c.key, idx)), 8);
    const __m256d ulp = _mm256_set1_pd(0x1p-24);
    s0 = _mm256_floor_pd(_mm256_add_pd(s0, _mm256_mul_pd(lo_pd(u), ulp)));
    s1 = _mm256_floor_pd(_mm256_add_pd(s1, _mm256_mul_pd(hi_pd(u), ulp)));
  } else {
    s0 = _mm256_round_pd(s0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    s1 = _mm256_round_pd(s1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  const __m128i pick = _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  return _mm_unpacklo_epi32(_mm_shuffle_epi8(clamp_i32(s0, c), pick), _mm_shuffle_epi8(clamp_i32(s1, c), pick));
}

// Stochastic rounding on 8 float32 lanes: the arithmetic and the exactness argument of avx512::sr16_f32. The lanes
// where it holds are the bits of *ok (with those of zp_ok, all-ones where |zp| ≤ 512; zp_zero, all-ones where zp = 0).
inline __m128i sr8_f32(__m256 x, __m256 off, __m256 inv, __m256i zp, __m256 zp_ok, __m256 zp_zero, __m256i idx, const Q8& c, int* ok) {
  const __m256 t = _mm256_mul_ps(_mm256_sub_ps(x, off), inv);
  const __m256 at = _mm256_and_ps(t, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
  const __m256 tiny_ok = _mm256_or_ps(_mm256_or_ps(_mm256_cmp_ps(at, _mm256_set1_ps(0x1p-16f), _CMP_GE_OQ),
                                                   _mm256_cmp_ps(at, _mm256_setzero_ps(), _CMP_EQ_OQ)), zp_zero);
  *ok = _mm256_movemask_ps(_mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(at, _mm256_set1_ps(0x1p20f), _CMP_LE_OQ), tiny_ok), zp_ok));
  const __m256 fl = _mm256_round_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m256 m1 = _mm256_cmp_ps(fl, _mm256_set1_ps(-1.0f), _CMP_EQ_OQ);
  const __m256 d = _mm256_blendv_ps(_mm256_sub_ps(t, fl), t, m1);
  const __m256i k = _mm256_srli_epi32(rng_fmix8(_mm256_xor_si256(c.key, idx)), 8);
  const __m256i base = _mm256_andnot_si256(_mm256_castps_si256(m1), _mm256_set1_epi32(1 << 24));
  const __m256 carry = _mm256_cmp_ps(_mm256_mul_ps(d, _mm256_set1_ps(0x1p24f)), _mm256_cvtepi32_ps(_mm256_sub_epi32(base, k)), _CMP_GE_OQ);
  __m256i q = _mm256_sub_epi32(_mm256_cvttps_epi32(fl), _mm256_castps_si256(carry));  // carry lanes are −1
  q = _mm256_min_epi32(_mm256_max_epi32(_mm256_add_epi32(q, zp), c.qminI), c.qmaxI);
  const __m128i pick = _mm_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  return _mm_unpacklo_epi32(_mm_shuffle_epi8(_mm256_castsi256_si128(q), pick), _mm_shuffle_epi8(_mm256_extracti128_si256(q, 1), pick));
}

void quant_seg(const float* x, int64_t n, float off, float inv, int32_t zp, const QArgs& a, uint32_t idx0, uint32_t step,
               uint8_t* out) {
  const Q8 c(a);
  const __m256 o = _mm256_set1_ps(off), iv = _mm256_set1_ps(inv);
  const __m256i z = _mm256_set1_epi32(zp);
  const __m256i steps = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(step)));
  int64_t i = 0;
  if (c.sr && c.int_bounds && zp >= -512 && zp <= 512) {
    const __m256 all = _mm256_castsi256_ps(_mm256_set1_epi32(-1)), zp_zero = zp == 0 ? all : _mm256_setzero_ps();
    for (; i + 8 <= n; i += 8) {
      const __m256 xv = _mm256_loadu_ps(x + i);
      const __m256i idx = index8(idx0 + static_cast<uint32_t>(i) * step, steps);
      int ok;
      __m128i q = sr8_f32(xv, o, iv, z, all, zp_zero, idx, c, &ok);
      if (ok != 0xff) q = quant8(xv, o, iv, z, idx, c);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), q);
    }
  }
  for (; i + 8 <= n; i += 8) {
    const __m128i q = quant8(_mm256_loadu_ps(x + i), o, iv, z, index8(idx0 + static_cast<uint32_t>(i) * step, steps), c);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), q);
  }
  for (; i < n; i++) out[i] = scalar::quant1(x[i], off, inv, zp, a, idx0 + static_cast<uint32_t>(i) * step);
}
void quant_cols(const float* x, int64_t n, const float* off, const float* inv, const int32_t* zp, const QArgs& a,
                uint32_t idx0, uint32_t step, uint8_t* out) {
  const Q8 c(a);
  const __m256i steps = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(step)));
  const bool fast = c.sr && c.int_bounds;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zp + i));
    const __m256 xv = _mm256_loadu_ps(x + i), ov = _mm256_loadu_ps(off + i), iv = _mm256_loadu_ps(inv + i);
    const __m256i idx = index8(idx0 + static_cast<uint32_t>(i) * step, steps);
    int ok = 0;
    __m128i q;
    if (fast) {
      // −512 ≤ zp ≤ 512 (not via |zp|: abs(INT32_MIN) is negative)
      const __m256 zp_ok = _mm256_castsi256_ps(_mm256_and_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(513), z), _mm256_cmpgt_epi32(z, _mm256_set1_epi32(-513))));
      const __m256 zp_zero = _mm256_castsi256_ps(_mm256_cmpeq_epi32(z, _mm256_setzero_si256()));
      q = sr8_f32(xv, ov, iv, z, zp_ok, zp_zero, idx, c, &ok);
    }
    if (ok != 0xff) q = quant8(xv, ov, iv, z, idx, c);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), q);
  }
  for (; i < n; i++) out[i] = scalar::quant1(x[i], off[i], inv[i], zp[i], a, idx0 + static_cast<uint32_t>(i) * step);
}

inline __m256i load_codes8(const uint8_t* c, bool sgn) {
  const __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(c));
  return sgn ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}
// f32(off + f32((code − zp)·sc)) on 8 lanes, in double like JavaScript.
inline __m256 dequant8(__m256i code, __m256 off, __m256 sc, __m256i zp) {
  const __m128 p0 = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(lo_pd(code), lo_pd(zp)), lo_pd(sc)));
  const __m128 p1 = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_sub_pd(hi_pd(code), hi_pd(zp)), hi_pd(sc)));
  const __m128 r0 = _mm256_cvtpd_ps(_mm256_add_pd(lo_pd(off), _mm256_cvtps_pd(p0)));
  const __m128 r1 = _mm256_cvtpd_ps(_mm256_add_pd(hi_pd(off), _mm256_cvtps_pd(p1)));
  return _mm256_set_m128(r1, r0);
}
void dequant_seg(const uint8_t* c, bool sgn, int64_t n, float off, float sc, int32_t zp, float* out) {
  const __m256 o = _mm256_set1_ps(off), s = _mm256_set1_ps(sc);
  const __m256i z = _mm256_set1_epi32(zp);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(out + i, dequant8(load_codes8(c + i, sgn), o, s, z));
  for (; i < n; i++) out[i] = scalar::dequant1(scalar::code_at(c, sgn, i), off, sc, zp);
}
void dequant_cols(const uint8_t* c, bool sgn, int64_t n, const float* off, const float* sc, const int32_t* zp, float* out) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256i z = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(zp + i));
    _mm256_storeu_ps(out + i, dequant8(load_codes8(c + i, sgn), _mm256_loadu_ps(off + i), _mm256_loadu_ps(sc + i), z));
  }
  for (; i < n; i++) out[i] = scalar::dequant1(scalar::code_at(c, sgn, i), off[i], sc[i], zp[i]);
}

inline float hmin(__m256 v) {
  __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_min_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_min_ss(m, _mm_shuffle_ps(m, m, 1)));
}
inline float hmax(__m256 v) {
  __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  m = _mm_max_ps(m, _mm_movehl_ps(m, m));
  return _mm_cvtss_f32(_mm_max_ss(m, _mm_shuffle_ps(m, m, 1)));
}
inline float first_zero(const float* x) {  // x holds a ±0 (the segment's extreme is zero)
  while (*x != 0.0f) x++;
  return *x;
}

// Lane-parallel min / max of the segment, then the reference's tie rule: a zero extreme takes the sign of
// the first zero of the segment; a segment with a NaN runs the reference loop itself.
void range_seg(const float* x, int64_t n, float* lo, float* hi) {
  if (n < 16) return scalar::range_seg(x, n, lo, hi);
  __m256 l8 = _mm256_set1_ps(std::numeric_limits<float>::infinity()), h8 = _mm256_sub_ps(_mm256_setzero_ps(), l8);
  __m256 nan8 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    l8 = _mm256_min_ps(l8, v);
    h8 = _mm256_max_ps(h8, v);
    nan8 = _mm256_or_ps(nan8, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  float l = hmin(l8), h = hmax(h8);
  bool nan = _mm256_movemask_ps(nan8) != 0;
  for (; i < n; i++) {
    const float v = x[i];
    l = v < l ? v : l;
    h = v > h ? v : h;
    nan = nan || v != v;
  }
  if (nan) return scalar::range_seg(x, n, lo, hi);
  if (l == 0.0f) l = first_zero(x);
  if (h == 0.0f) h = first_zero(x);
  if (l < *lo) *lo = l;
  if (h > *hi) *hi = h;
}
// Per-column groups: the reference's update as a blend (x < lo or x is NaN ⇒ take x), lane by lane.
void range_cols(const float* x, int64_t n, float* lo, float* hi) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i), l = _mm256_loadu_ps(lo + i), h = _mm256_loadu_ps(hi + i);
    const __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
    _mm256_storeu_ps(lo + i, _mm256_blendv_ps(l, v, _mm256_or_ps(_mm256_cmp_ps(v, l, _CMP_LT_OQ), nan)));
    _mm256_storeu_ps(hi + i, _mm256_blendv_ps(h, v, _mm256_or_ps(_mm256_cmp_ps(v, h, _CMP_GT_OQ), nan)));
  }
  scalar::range_cols(x + i, n - i, lo + i, hi + i);
}

}  // namespace avx2
#pragma GCC pop_options

// ---- AVX-512: quantization on 16 lanes (the RNG's 32-bit multiplies bound these kernels; twice the lanes of AVX2) ----
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
namespace avx512 {


struct Q16 {
  __m512d qmin, qmax;
  __m512i key;
  bool sr;
  // The float32 stochastic path (sr16_f32) needs integer bounds; qminI / qmaxI are them as int32 lanes.
  bool int_bounds;
  __m512i qminI, qmaxI;
  explicit Q16(const QArgs& a)
      : qmin(_mm512_set1_pd(a.qmin)), qmax(_mm512_set1_pd(a.qmax)), key(_mm512_set1_epi32(static_cast<int>(a.key))), sr(a.sr),
        int_bounds(a.qmin == std::floor(a.qmin) && a.qmax == std::floor(a.qmax)),
        qminI(_mm512_set1_epi32(int_bounds ? static_cast<int32_t>(a.qmin) : 0)),
        qmaxI(_mm512_set1_epi32(int_bounds ? static_cast<int32_t>(a.qmax) : 0)) {}
};

// clamp(q, qmin, qmax) with NaN → 0, as int32 (vmaxpd returns its second operand, qmin, for a NaN q).
inline __m256i clamp_i32(__m512d q, const Q16& c) {
  const __mmask8 ord = _mm512_cmp_pd_mask(q, q, _CMP_ORD_Q);
  return _mm512_cvttpd_epi32(_mm512_maskz_mov_pd(ord, _mm512_min_pd(_mm512_max_pd(q, c.qmin), c.qmax)));
}

// Codes of the 16 elements of x (masked to n ≤ 16), the same operations as avx2::quant8 / scalar::quant1.
inline __m512i index16(uint32_t i0, __m512i steps = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)) {
  return _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(i0)), steps);
}

inline __m128i quant16(__m512 x, __m512 off, __m512 inv, __m512i zp, __m512i idx16, const Q16& c) {
  const __m512 t = _mm512_mul_ps(_mm512_sub_ps(x, off), inv);
  __m512d s0 = _mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(t)), _mm512_cvtepi32_pd(_mm512_castsi512_si256(zp)));
  __m512d s1 = _mm512_add_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1))),
                             _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(zp, 1)));
  if (c.sr) {
    const __m512i u = _mm512_srli_epi32(rng_fmix16(_mm512_xor_si512(c.key, idx16)), 8);
    const __m512d ulp = _mm512_set1_pd(0x1p-24);
    s0 = _mm512_floor_pd(_mm512_add_pd(s0, _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(u)), ulp)));
    s1 = _mm512_floor_pd(_mm512_add_pd(s1, _mm512_mul_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(u, 1)), ulp)));
  } else {
    s0 = _mm512_roundscale_pd(s0, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    s1 = _mm512_roundscale_pd(s1, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  }
  const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(clamp_i32(s0, c)), clamp_i32(s1, c), 1);
  return _mm512_cvtepi32_epi8(q);  // the low byte of each int32, i.e. the JS store
}

// Stochastic rounding as quant16 computes it, on 16 float32 lanes without float64 (no conversions, twice the lanes),
// for the lanes where that is provably the reference's arithmetic; `ok` returns them (the caller redoes a vector with
// any other lane on quant16). With t = f32((x − off)·inv) and an integer zp the reference computes
// q = floor(f64(t + zp) + u), u = k·2^-24. For t = 0 or 2^-16 ≤ |t| ≤ 2^20 and |zp| ≤ 512 both float64 sums are
// exact, so q = zp + floor(t + u) exactly (zp = 0 needs no lower bound on |t|: the rounding of t + u cannot cross an
// integer then). floor(t + u) = fl + carry with fl = floor(t) and carry = [t + u ≥ fl + 1]:
//   fl ≠ −1: carry = [2^24·(t − fl) ≥ 2^24 − k]   (t − fl is exact by Sterbenz for t ≥ 0 and t ≤ −1, and so is the
//            scaling by 2^24; 2^24 − k ≤ 2^24 is an exact float)
//   fl = −1: carry = [2^24·t ≥ −k]                 (t + 1 may be inexact for tiny negative t, so compare t ≥ −u)
// The clamp is on int32 and needs integer qmin / qmax. (Nearest rounding stays on quant16: on float32 lanes it was
// not faster here.)
inline __m128i sr16_f32(__m512 x, __m512 off, __m512 inv, __m512i zp, __mmask16 zp_small, __mmask16 zp_zero, __m512i idx16,
                        const Q16& c, __mmask16* ok) {
  const __m512 t = _mm512_mul_ps(_mm512_sub_ps(x, off), inv);
  const __m512 at = _mm512_abs_ps(t);
  const __mmask16 in_range = _mm512_cmp_ps_mask(at, _mm512_set1_ps(0x1p20f), _CMP_LE_OQ);  // false for NaN
  const __mmask16 not_tiny = _mm512_cmp_ps_mask(at, _mm512_set1_ps(0x1p-16f), _CMP_GE_OQ) |
                             _mm512_cmp_ps_mask(at, _mm512_setzero_ps(), _CMP_EQ_OQ) | zp_zero;
  *ok = in_range & not_tiny & zp_small;
  const __m512 fl = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __mmask16 m1 = _mm512_cmp_ps_mask(fl, _mm512_set1_ps(-1.0f), _CMP_EQ_OQ);
  const __m512 d = _mm512_mask_mov_ps(_mm512_sub_ps(t, fl), m1, t);  // t − fl, or t itself when fl = −1: exact
  const __m512i k = _mm512_srli_epi32(rng_fmix16(_mm512_xor_si512(c.key, idx16)), 8);
  const __m512i base = _mm512_mask_mov_epi32(_mm512_set1_epi32(1 << 24), m1, _mm512_setzero_si512());
  const __m512 rhs = _mm512_cvtepi32_ps(_mm512_sub_epi32(base, k));  // |.| ≤ 2^24: exact
  const __mmask16 carry = _mm512_cmp_ps_mask(_mm512_mul_ps(d, _mm512_set1_ps(0x1p24f)), rhs, _CMP_GE_OQ);
  const __m512i fli = _mm512_cvttps_epi32(fl);
  __m512i q = _mm512_mask_sub_epi32(fli, carry, fli, _mm512_set1_epi32(-1));
  q = _mm512_min_epi32(_mm512_max_epi32(_mm512_add_epi32(q, zp), c.qminI), c.qmaxI);
  return _mm512_cvtepi32_epi8(q);
}

inline __mmask16 lanes_of(int64_t left) {
  return left >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << left) - 1);
}

void quant_seg(const float* x, int64_t n, float off, float inv, int32_t zp, const QArgs& a, uint32_t idx0, uint32_t step,
               uint8_t* out) {
  const Q16 c(a);
  const __m512 o = _mm512_set1_ps(off), iv = _mm512_set1_ps(inv);
  const __m512i z = _mm512_set1_epi32(zp);
  const __m512i steps = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(static_cast<int>(step)));
  if (!(c.sr && c.int_bounds && zp >= -512 && zp <= 512)) {
    for (int64_t i = 0; i < n; i += 16) {
      const __mmask16 m = lanes_of(n - i);
      const __m128i q = quant16(_mm512_maskz_loadu_ps(m, x + i), o, iv, z, index16(idx0 + static_cast<uint32_t>(i) * step, steps), c);
      _mm_mask_storeu_epi8(out + i, m, q);
    }
    return;
  }
  const __mmask16 zp_zero = zp == 0 ? 0xffff : 0;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes_of(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
    const __m512i idx = index16(idx0 + static_cast<uint32_t>(i) * step, steps);
    __mmask16 ok;
    __m128i q = sr16_f32(xv, o, iv, z, 0xffff, zp_zero, idx, c, &ok);
    if ((ok & m) != m) q = quant16(xv, o, iv, z, idx, c);
    _mm_mask_storeu_epi8(out + i, m, q);
  }
}
void quant_cols(const float* x, int64_t n, const float* off, const float* inv, const int32_t* zp, const QArgs& a,
                uint32_t idx0, uint32_t step, uint8_t* out) {
  const Q16 c(a);
  const __m512i lim = _mm512_set1_epi32(512);
  const __m512i steps = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                           _mm512_set1_epi32(static_cast<int>(step)));
  const bool fast = c.sr && c.int_bounds;
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes_of(n - i);
    const __m512 xv = _mm512_maskz_loadu_ps(m, x + i), ov = _mm512_maskz_loadu_ps(m, off + i), iv = _mm512_maskz_loadu_ps(m, inv + i);
    const __m512i z = _mm512_maskz_loadu_epi32(m, zp + i), idx = index16(idx0 + static_cast<uint32_t>(i) * step, steps);
    __mmask16 ok = 0;
    __m128i q;
    if (fast) {
      // −512 ≤ zp ≤ 512 as one unsigned compare (not via |zp|: abs(INT32_MIN) is negative)
      const __mmask16 small = _mm512_cmple_epu32_mask(_mm512_add_epi32(z, lim), _mm512_set1_epi32(1024));
      const __mmask16 zero = _mm512_cmpeq_epi32_mask(z, _mm512_setzero_si512());
      q = sr16_f32(xv, ov, iv, z, small, zero, idx, c, &ok);
      if ((ok & m) != m) q = quant16(xv, ov, iv, z, idx, c);
    } else {
      q = quant16(xv, ov, iv, z, idx, c);
    }
    _mm_mask_storeu_epi8(out + i, m, q);
  }
}

}  // namespace avx512
#pragma GCC pop_options
#endif

struct Fns {
  void (*range_seg)(const float*, int64_t, float*, float*);
  void (*range_cols)(const float*, int64_t, float*, float*);
  void (*quant_seg)(const float*, int64_t, float, float, int32_t, const QArgs&, uint32_t, uint32_t, uint8_t*);
  void (*quant_cols)(const float*, int64_t, const float*, const float*, const int32_t*, const QArgs&, uint32_t, uint32_t, uint8_t*);
  void (*dequant_seg)(const uint8_t*, bool, int64_t, float, float, int32_t, float*);
  void (*dequant_cols)(const uint8_t*, bool, int64_t, const float*, const float*, const int32_t*, float*);
};

Fns fns_for(Tier t) {
#if FQT_X86
  if (t >= Tier::Avx512)
    return {avx2::range_seg, avx2::range_cols, avx512::quant_seg, avx512::quant_cols, avx2::dequant_seg, avx2::dequant_cols};
  if (t >= Tier::Avx2)
    return {avx2::range_seg, avx2::range_cols, avx2::quant_seg, avx2::quant_cols, avx2::dequant_seg, avx2::dequant_cols};
#endif
  (void)t;
  return {scalar::range_seg, scalar::range_cols, scalar::quant_seg, scalar::quant_cols, scalar::dequant_seg,
          scalar::dequant_cols};
}

// Runs rows(r0, r1) over chunks of about kGrain elements on the pool.
template <class F>
void for_row_chunks(const QuantGroups& G, F&& rows) {
  const int64_t per = G.rows_per_task(kGrain), tasks = (G.rows + per - 1) / per;
  parallel_for(tasks, [&](int64_t t, int) { rows(t * per, std::min(G.rows, (t + 1) * per)); });
}

}  // namespace

void quant_range(const float* x, int64_t rows, int64_t cols, int64_t row_div, int64_t row_mod, int64_t col_div,
                 float* mins, int64_t mins_len, float* maxs, int64_t maxs_len) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  std::fill(mins, mins + mins_len, inf);
  std::fill(maxs, maxs + maxs_len, -inf);
  const QuantGroups G(rows, cols, row_div, row_mod, col_div);
  if (G.empty()) return;
  const Fns f = fns_for(active_tier());
  auto scan = [&](int64_t r0, int64_t r1, float* lo, float* hi) {
    if (col_div == 1) {
      G.for_col_runs(r0, r1, [&](int64_t o, int64_t len, int64_t b) { f.range_cols(x + o, len, lo + b, hi + b); });
    } else {
      G.for_runs(r0, r1, [&](int64_t o, int64_t len, int64_t g) { f.range_seg(x + o, len, lo + g, hi + g); });
    }
  };
  const int64_t blocks = (rows + row_div - 1) / row_div;
  if (blocks <= row_mod && blocks > 1) {
    // Every block of rowDiv rows owns its groups: tasks of whole blocks write them directly.
    const int64_t per = std::max<int64_t>(1, kGrain / (row_div * cols)), tasks = (blocks + per - 1) / per;
    parallel_for(tasks, [&](int64_t t, int) {
      scan(t * per * row_div, std::min(rows, (t + 1) * per * row_div), mins, maxs);
    });
    return;
  }
  // Groups shared by distant rows: per-task partial ranges, merged in task order with the reference's
  // update rule. min / max are associative and the merge keeps the earlier value on ties, so the result
  // equals the sequential scan for any number of tasks. Partial buffers are capped at ~ the input size.
  const int64_t ng = G.count(), numel = rows * cols;
  int64_t tasks = std::min<int64_t>({num_threads(), (numel + kGrain - 1) / kGrain, std::max<int64_t>(1, numel / (4 * ng))});
  if (tasks <= 1) return scan(0, rows, mins, maxs);
  const int64_t per = (rows + tasks - 1) / tasks;
  tasks = (rows + per - 1) / per;
  std::vector<float> part(static_cast<size_t>(2 * tasks * ng));
  std::fill(part.begin(), part.begin() + tasks * ng, inf);
  std::fill(part.begin() + tasks * ng, part.end(), -inf);
  float* p = part.data();
  parallel_for(tasks, [&](int64_t t, int) { scan(t * per, std::min(rows, (t + 1) * per), p + t * ng, p + (tasks + t) * ng); });
  parallel_range(ng, 4096, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; g++) {
      float l = inf, h = -inf;
      for (int64_t t = 0; t < tasks; t++) {
        const float vl = p[t * ng + g], vh = p[(tasks + t) * ng + g];
        if (vl < l || vl != vl) l = vl;
        if (vh > h || vh != vh) h = vh;
      }
      mins[g] = l, maxs[g] = h;
    }
  });
}

void quantize_affine(const float* x, int64_t rows, int64_t cols, int64_t row_div, int64_t row_mod, int64_t col_div,
                     const float* offset, const float* inv, const int32_t* zero_point, double qmin, double qmax,
                     bool stochastic, uint32_t seed, uint32_t stream, uint8_t* codes) {
  const QuantGroups G(rows, cols, row_div, row_mod, col_div);
  if (G.empty()) return;
  const Fns f = fns_for(active_tier());
  const QArgs a{qmin, qmax, stochastic, rng_stream_key(seed, stream)};
  for_row_chunks(G, [&](int64_t r0, int64_t r1) {
    if (col_div == 1) {
      G.for_col_runs(r0, r1, [&](int64_t o, int64_t len, int64_t b) {
        f.quant_cols(x + o, len, offset + b, inv + b, zero_point + b, a, static_cast<uint32_t>(o), 1, codes + o);
      });
    } else {
      G.for_runs(r0, r1, [&](int64_t o, int64_t len, int64_t g) {
        // the RNG index is the element index r·cols + c, mod 2^32 like JavaScript's key ^ index
        f.quant_seg(x + o, len, offset[g], inv[g], zero_point[g], a, static_cast<uint32_t>(o), 1, codes + o);
      });
    }
  });
}

void dequantize_affine(const uint8_t* codes, bool is_signed, int64_t rows, int64_t cols, int64_t row_div,
                       int64_t row_mod, int64_t col_div, const float* offset, const float* scale,
                       const int32_t* zero_point, float* out) {
  const QuantGroups G(rows, cols, row_div, row_mod, col_div);
  if (G.empty()) return;
  const Fns f = fns_for(active_tier());
  for_row_chunks(G, [&](int64_t r0, int64_t r1) {
    if (col_div == 1) {
      G.for_col_runs(r0, r1, [&](int64_t o, int64_t len, int64_t b) {
        f.dequant_cols(codes + o, is_signed, len, offset + b, scale + b, zero_point + b, out + o);
      });
    } else {
      G.for_runs(r0, r1, [&](int64_t o, int64_t len, int64_t g) {
        f.dequant_seg(codes + o, is_signed, len, offset[g], scale[g], zero_point[g], out + o);
      });
    }
  });
}

void quantize_run(const float* x, int64_t n, float offset, float inv, int32_t zero_point, double qmin, double qmax,
                  bool stochastic, uint32_t key, uint32_t idx0, uint32_t idx_step, uint8_t* codes) {
  const QArgs a{qmin, qmax, stochastic, key};
  fns_for(active_tier()).quant_seg(x, n, offset, inv, zero_point, a, idx0, idx_step, codes);
}

void range_run(const float* x, int64_t n, float* lo, float* hi) { fns_for(active_tier()).range_seg(x, n, lo, hi); }

void quantize_cols_run(const float* x, int64_t n, const float* offset, const float* inv, const int32_t* zero_point, double qmin,
                       double qmax, bool stochastic, uint32_t key, uint32_t idx0, uint32_t idx_step, uint8_t* codes) {
  const QArgs a{qmin, qmax, stochastic, key};
  fns_for(active_tier()).quant_cols(x, n, offset, inv, zero_point, a, idx0, idx_step, codes);
}

void range_cols_run(const float* x, int64_t n, float* lo, float* hi) { fns_for(active_tier()).range_cols(x, n, lo, hi); }

}  // namespace fqt
