// LUQ kernels (src/quant/rounding.ts §4): SAWB's whole-tensor statistics and the logarithmic stochastic rounding
// of gradients. Bit-exact twins of src/backend/ref/quant-log.ts.
//   momentSums   Σx², Σ|x| blocked as the contract says (chunks of 4096, eight float64 partial sums by index mod 8,
//                a fixed pairwise combination, chunks added in order): chunks in parallel, partial sums in vectors
//   quantizeLuq  r = f32(|g|/α) (an IEEE float divide equals JavaScript's float64 divide rounded to float32),
//                k = clamp(exponent bits of r, 0, kmax), code = sign·min(2^k·floor(r/2^k + u), 2^kmax) with r/2^k,
//                the sum and the product exact in float64, u the counter RNG at the element index; 8 lanes (AVX2)
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common.h"
#include "rng.h"
#include "thread_pool.h"

namespace fqt {

namespace {
constexpr int64_t kChunk = 4096;

struct Moments {
  double sq = 0, ab = 0, mx = 0, mn = std::numeric_limits<double>::infinity();
  bool nan = false;
};

Moments chunk_moments(const float* x, int64_t n) {
  double p[8] = {}, q[8] = {};
  Moments m;
  float mx = 0, mn = std::numeric_limits<float>::infinity();
  bool nan = false;
  int64_t i = 0;
  // Lane l of p / q sums the elements i ≡ l (mod 8): whole blocks of 8 (a vectorisable loop), then the tail.
  const auto add = [&](int l, float v) {
    const double d = v;
    p[l] += d * d;
    q[l] += std::fabs(d);
    mx = std::fabs(v) > mx ? std::fabs(v) : mx;
    mn = v < mn ? v : mn;
    nan = nan || v != v;
  };
  for (; i + 8 <= n; i += 8)
    for (int l = 0; l < 8; l++) add(l, x[i + l]);
  for (int l = 0; i < n; i++, l++) add(l, x[i]);
  m.sq = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
  m.ab = ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
  m.mx = mx, m.mn = mn, m.nan = nan;
  return m;
}
}  // namespace

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2")
// chunk_moments with lane l of the eight float64 partial sums in lane l of two 4-double vectors: the same
// additions in the same order. max / min keep their second operand unless the first is strictly greater / less
// (a NaN never replaces them: the flag reports it), as the scalar comparisons do.
Moments chunk_moments_avx2(const float* x, int64_t n) {
  __m256d p0 = _mm256_setzero_pd(), p1 = p0, q0 = p0, q1 = p0;
  __m256 mx8 = _mm256_setzero_ps(), mn8 = _mm256_set1_ps(std::numeric_limits<float>::infinity()), nan8 = _mm256_setzero_ps();
  const __m256 absF = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256d absD = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffff));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256d d0 = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), d1 = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    p0 = _mm256_add_pd(p0, _mm256_mul_pd(d0, d0));
    p1 = _mm256_add_pd(p1, _mm256_mul_pd(d1, d1));
    q0 = _mm256_add_pd(q0, _mm256_and_pd(d0, absD));
    q1 = _mm256_add_pd(q1, _mm256_and_pd(d1, absD));
    mx8 = _mm256_max_ps(_mm256_and_ps(v, absF), mx8);
    mn8 = _mm256_min_ps(v, mn8);
    nan8 = _mm256_or_ps(nan8, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
  }
  alignas(32) double p[8], q[8];
  alignas(32) float mxs[8], mns[8];
  _mm256_store_pd(p, p0), _mm256_store_pd(p + 4, p1), _mm256_store_pd(q, q0), _mm256_store_pd(q + 4, q1);
  _mm256_store_ps(mxs, mx8), _mm256_store_ps(mns, mn8);
  float mx = 0, mn = std::numeric_limits<float>::infinity();
  for (int l = 0; l < 8; l++) {
    mx = mxs[l] > mx ? mxs[l] : mx;
    mn = mns[l] < mn ? mns[l] : mn;
  }
  bool nan = _mm256_movemask_ps(nan8) != 0;
  for (int l = 0; i < n; i++, l++) {  // the tail, lanes 0.. as in chunk_moments
    const float v = x[i];
    const double d = v;
    p[l] += d * d;
    q[l] += std::fabs(d);
    mx = std::fabs(v) > mx ? std::fabs(v) : mx;
    mn = v < mn ? v : mn;
    nan = nan || v != v;
  }
  Moments m;
  m.sq = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
  m.ab = ((q[0] + q[1]) + (q[2] + q[3])) + ((q[4] + q[5]) + (q[6] + q[7]));
  m.mx = mx, m.mn = mn, m.nan = nan;
  return m;
}
#pragma GCC pop_options
#endif

void moment_sums(const float* x, int64_t n, double* out) {
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<Moments> part(static_cast<size_t>(chunks));
#if FQT_X86
  Moments (*chunk)(const float*, int64_t) = active_tier() >= Tier::Avx2 ? chunk_moments_avx2 : chunk_moments;
#else
  Moments (*chunk)(const float*, int64_t) = chunk_moments;
#endif
  parallel_for(chunks, [&](int64_t c, int) { part[static_cast<size_t>(c)] = chunk(x + c * kChunk, std::min(kChunk, n - c * kChunk)); });
  Moments t;
  for (const Moments& m : part) {
    t.sq += m.sq, t.ab += m.ab;
    t.mx = m.mx > t.mx ? m.mx : t.mx;
    t.mn = m.mn < t.mn ? m.mn : t.mn;
    t.nan = t.nan || m.nan;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  out[0] = t.nan ? nan : t.sq;
  out[1] = t.nan ? nan : t.ab;
  out[2] = t.nan ? nan : t.mx;
  out[3] = t.nan ? nan : t.mn == 0 ? 0.0 : t.mn;
}

namespace {
inline int8_t luq1(float v, float alpha, int64_t kmax, double top, uint32_t key, uint32_t i) {
  const float r = std::fabs(v) / alpha;
  if (v == 0 || !(r >= 0)) return 0;  // zeros stay zero; NaN → 0
  uint32_t bits;
  std::memcpy(&bits, &r, 4);
  int64_t k = static_cast<int64_t>((bits >> 23) & 0xff) - 127;
  k = k < 0 ? 0 : k > kmax ? kmax : k;
  const double p2 = std::ldexp(1.0, static_cast<int>(k));
  double mag = p2 * std::floor(static_cast<double>(r) / p2 + static_cast<double>(rng_uniform_at(key, i)));
  if (mag > top) mag = top;
  return static_cast<int8_t>(v < 0 ? -mag : mag);
}

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2")
// 4 lanes of the double arithmetic: 2^k·floor(r·2^−k + u), capped at top. r, u: doubles; k: int32 in [0, kmax].
inline __m256d mag4(__m256d r, __m128i k, __m256d u, __m256d top) {
  const __m256i e = _mm256_slli_epi64(_mm256_cvtepi32_epi64(k), 52);  // ± k in the exponent field of a double
  const __m256d p2 = _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(_mm256_set1_pd(1.0)), e));
  const __m256d inv = _mm256_castsi256_pd(_mm256_sub_epi64(_mm256_castpd_si256(_mm256_set1_pd(1.0)), e));
  return _mm256_min_pd(_mm256_mul_pd(p2, _mm256_floor_pd(_mm256_add_pd(_mm256_mul_pd(r, inv), u))), top);
}
// Element i of the run has the RNG index idx0 + i·step (mod 2^32): step 1 on a row-major run, c on an NCHW plane.
void luq_avx2(const float* x, int64_t n, float alpha, int64_t kmax, double top, uint32_t key, uint32_t idx0, uint32_t step, int8_t* codes) {
  const __m256 a = _mm256_set1_ps(alpha), absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256i kmx = _mm256_set1_epi32(static_cast<int>(kmax)), kk = _mm256_set1_epi32(static_cast<int>(key));
  const __m256d t = _mm256_set1_pd(top), ulp = _mm256_set1_pd(0x1p-24);
  const __m256i steps = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(static_cast<int>(step)));
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 r = _mm256_div_ps(_mm256_and_ps(v, absMask), a);
    __m256i k = _mm256_sub_epi32(_mm256_and_si256(_mm256_srli_epi32(_mm256_castps_si256(r), 23), _mm256_set1_epi32(0xff)), _mm256_set1_epi32(127));
    k = _mm256_min_epi32(_mm256_max_epi32(k, _mm256_setzero_si256()), kmx);
    const __m256i idx = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(idx0 + static_cast<uint32_t>(i) * step)), steps);
    const __m256i ub = _mm256_srli_epi32(rng_fmix8(_mm256_xor_si256(kk, idx)), 8);
    const __m256d m0 = mag4(_mm256_cvtps_pd(_mm256_castps256_ps128(r)), _mm256_castsi256_si128(k),
                            _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(ub)), ulp), t);
    const __m256d m1 = mag4(_mm256_cvtps_pd(_mm256_extractf128_ps(r, 1)), _mm256_extracti128_si256(k, 1),
                            _mm256_mul_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(ub, 1)), ulp), t);
    __m256i mag = _mm256_set_m128i(_mm256_cvttpd_epi32(m1), _mm256_cvttpd_epi32(m0));
    // sign, and 0 for zero inputs or NaN ratios (r ≥ 0 is false for NaN)
    const __m256 keep = _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_NEQ_UQ), _mm256_cmp_ps(r, _mm256_setzero_ps(), _CMP_GE_OQ));
    mag = _mm256_and_si256(mag, _mm256_castps_si256(keep));
    const __m256i neg = _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
    mag = _mm256_sub_epi32(_mm256_xor_si256(mag, neg), neg);  // −mag where v < 0
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(mag), _mm256_extracti128_si256(mag, 1));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(codes + i), _mm_packs_epi16(w, w));
  }
  for (; i < n; i++) codes[i] = luq1(x[i], alpha, kmax, top, key, idx0 + static_cast<uint32_t>(i) * step);
}
#pragma GCC pop_options
#endif

// One run (see luq_avx2) on the calling thread, on the tier's kernel.
void luq_run(const float* x, int64_t n, float alpha, int64_t kmax, uint32_t key, uint32_t idx0, uint32_t step, int8_t* codes) {
  const double top = std::ldexp(1.0, static_cast<int>(kmax));
#if FQT_X86
  if (active_tier() >= Tier::Avx2) return luq_avx2(x, n, alpha, kmax, top, key, idx0, step, codes);
#endif
  for (int64_t i = 0; i < n; i++) codes[i] = luq1(x[i], alpha, kmax, top, key, idx0 + static_cast<uint32_t>(i) * step);
}
}  // namespace

void quantize_luq(const float* x, int64_t n, float alpha, int64_t kmax, uint32_t seed, uint32_t stream, int8_t* codes) {
  const uint32_t key = rng_stream_key(seed, stream);
  parallel_range(n, 1 << 15, [&](int64_t lo, int64_t hi) {
    luq_run(x + lo, hi - lo, alpha, kmax, key, static_cast<uint32_t>(lo), 1, codes + lo);
  });
}

void quantize_luq_planes(const float* x, int64_t n, int64_t c, int64_t hw, float alpha, int64_t kmax, uint32_t seed,
                         uint32_t stream, int8_t* codes) {
  const uint32_t key = rng_stream_key(seed, stream);
  parallel_for(n, [&](int64_t s, int) {
    // element (row s·hw + p, column ch) of the rows view has RNG index (s·hw + p)·c + ch: step c along a plane
    thread_local std::vector<int8_t> buf;
    buf.resize(static_cast<size_t>(c * hw));
    for (int64_t ch = 0; ch < c; ch++)
      luq_run(x + (s * c + ch) * hw, hw, alpha, kmax, key, static_cast<uint32_t>(s * hw * c + ch), static_cast<uint32_t>(c),
              buf.data() + ch * hw);
    transpose_bytes_serial(c, hw, reinterpret_cast<const uint8_t*>(buf.data()), reinterpret_cast<uint8_t*>(codes + s * hw * c));
  });
}

}  // namespace fqt
