// fp32 vector traits of the ISA tiers, shared by the generic fp32 kernels (sgemm_kernel.h,
// conv_direct_kernel.h): each tier's `V` is defined inside its `#pragma GCC target` region, and a kernel
// file includes its generic kernel header inside a region of the same target with `using V = …`.
// Standard headers must be included before this one (no AVX-512 inline function may leak into
// shared COMDAT code; see native/README.md "ISA tiers and dispatch").
#pragma once
#include <immintrin.h>

#include "common.h"

namespace fqt {
namespace simd {

namespace scalar {
struct V {
  using T = float;
  static constexpr int W = 1;
  static T zero() { return 0.0f; }
  static T load(const float* p) { return *p; }
  static T loadu(const float* p) { return *p; }
  static void storeu(float* p, T x) { *p = x; }
  static T bcast(const float* p) { return *p; }
  static T fma(T a, T b, T c) { return c + a * b; }  // -ffp-contract=off: a rounded multiply then add
  static T add(T a, T b) { return a + b; }
  static float hsum(T x) { return x; }
};
}  // namespace scalar

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
struct V {
  using T = __m256;
  static constexpr int W = 8;
  static T zero() { return _mm256_setzero_ps(); }
  static T load(const float* p) { return _mm256_load_ps(p); }
  static T loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, T x) { _mm256_storeu_ps(p, x); }
  static T bcast(const float* p) { return _mm256_broadcast_ss(p); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  // ((l0+l4) + (l2+l6)) + ((l1+l5) + (l3+l7)): a fixed order, so results depend on the data only.
  static float hsum(T x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
};
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
namespace avx512 {
struct V {
  using T = __m512;
  static constexpr int W = 16;
  static T zero() { return _mm512_setzero_ps(); }
  static T load(const float* p) { return _mm512_load_ps(p); }
  static T loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, T x) { _mm512_storeu_ps(p, x); }
  static T bcast(const float* p) { return _mm512_set1_ps(*p); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static float hsum(T x) {
    const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(x), _mm512_extractf32x8_ps(x, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
};
}  // namespace avx512
#pragma GCC pop_options
#endif

}  // namespace simd
}  // namespace fqt
