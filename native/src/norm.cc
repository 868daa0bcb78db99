// Batch-norm kernels over x viewed as [n, c, hw], one task per channel (forward: per (sample, channel)
// rows). Statistics accumulate in float64 like the reference but in several interleaved partial sums (4
// scalar ones, or 2 × 4 AVX2 lanes), which reorders the float64 additions: results match ref to ~1e-7
// relative, not bit-for-bit, and depend on the tier but not on the thread count. The per-element formulas
// are evaluated in float64 exactly as in ref (separate multiply and add, no FMA), so batchnorm_forward is
// bit-exact on every tier. The AVX2 paths run 4 float64 lanes: the scalar loops were compute-bound
// (~10 GB/s single-threaded on data in L3, against ~37 GB/s for a copy).
#include <immintrin.h>

#include <algorithm>

#include "common.h"
#include "thread_pool.h"

namespace fqt {

namespace {

// Σ f(p) over the channel's planes with 4 partial float64 sums.
template <class F>
double channel_sum(int64_t n, int64_t c, int64_t hw, int64_t ch, F f) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (int64_t s = 0; s < n; s++) {
    const int64_t base = (s * c + ch) * hw;
    int64_t p = 0;
    for (; p + 4 <= hw; p += 4) {
      s0 += f(base + p);
      s1 += f(base + p + 1);
      s2 += f(base + p + 2);
      s3 += f(base + p + 3);
    }
    for (; p < hw; p++) s0 += f(base + p);
  }
  return (s0 + s1) + (s2 + s3);
}

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2")
namespace avx2 {

inline double hsum(__m256d a, __m256d b) {
  const __m256d s = _mm256_add_pd(a, b);
  const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
  return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

// Σ term(x) over one channel, 8 floats per step into 2 × 4 float64 lanes; `term` maps float64 lanes (and the
// scalar tail) the same way: x itself for Σ x, (x − mu)² for Σ (x − mu)².
template <class Lanes, class Scalar>
double channel_sum(const float* x, int64_t n, int64_t c, int64_t hw, int64_t ch, Lanes term, Scalar term1) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  double tail = 0;
  for (int64_t s = 0; s < n; s++) {
    const float* xs = x + (s * c + ch) * hw;
    int64_t p = 0;
    for (; p + 8 <= hw; p += 8) {
      const __m256 v = _mm256_loadu_ps(xs + p);
      a0 = _mm256_add_pd(a0, term(_mm256_cvtps_pd(_mm256_castps256_ps128(v))));
      a1 = _mm256_add_pd(a1, term(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1))));
    }
    for (; p < hw; p++) tail += term1(static_cast<double>(xs[p]));
  }
  return hsum(a0, a1) + tail;
}

double sum_x(const float* x, int64_t n, int64_t c, int64_t hw, int64_t ch) {
  return channel_sum(x, n, c, hw, ch, [](__m256d v) { return v; }, [](double v) { return v; });
}

double sum_sq_dev(const float* x, int64_t n, int64_t c, int64_t hw, int64_t ch, double mu) {
  const __m256d m = _mm256_set1_pd(mu);
  return channel_sum(x, n, c, hw, ch,
      [m](__m256d v) { const __m256d d = _mm256_sub_pd(v, m); return _mm256_mul_pd(d, d); },
      [mu](double v) { const double d = v - mu; return d * d; });
}

// o = f32((x − mu)·k + b) in float64, as the reference.
void forward_row(const float* xs, float* o, int64_t hw, double mu, double k, double b) {
  const __m256d vm = _mm256_set1_pd(mu), vk = _mm256_set1_pd(k), vb = _mm256_set1_pd(b);
  int64_t p = 0;
  for (; p + 8 <= hw; p += 8) {
    const __m256 v = _mm256_loadu_ps(xs + p);
    const __m256d y0 = _mm256_add_pd(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(v)), vm), vk), vb);
    const __m256d y1 = _mm256_add_pd(_mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), vm), vk), vb);
    _mm256_storeu_ps(o + p, _mm256_set_m128(_mm256_cvtpd_ps(y1), _mm256_cvtpd_ps(y0)));
  }
  for (; p < hw; p++) o[p] = static_cast<float>((xs[p] - mu) * k + b);
}

// One pass for both sums of the backward: Σ dy and Σ (dy·(x − mu))·is (the reference's term order).
void backward_sums(const float* x, const float* dy, int64_t n, int64_t c, int64_t hw, int64_t ch, double mu, double is,
                   double* sdy, double* sdyx) {
  const __m256d vm = _mm256_set1_pd(mu), vi = _mm256_set1_pd(is);
  __m256d g0 = _mm256_setzero_pd(), g1 = _mm256_setzero_pd(), q0 = _mm256_setzero_pd(), q1 = _mm256_setzero_pd();
  double tg = 0, tq = 0;
  for (int64_t s = 0; s < n; s++) {
    const int64_t base = (s * c + ch) * hw;
    const float* xs = x + base;
    const float* gs = dy + base;
    int64_t p = 0;
    for (; p + 8 <= hw; p += 8) {
      const __m256 xv = _mm256_loadu_ps(xs + p), gv = _mm256_loadu_ps(gs + p);
      const __m256d ga = _mm256_cvtps_pd(_mm256_castps256_ps128(gv)), gb = _mm256_cvtps_pd(_mm256_extractf128_ps(gv, 1));
      const __m256d xa = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(xv)), vm);
      const __m256d xb = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1)), vm);
      g0 = _mm256_add_pd(g0, ga);
      g1 = _mm256_add_pd(g1, gb);
      q0 = _mm256_add_pd(q0, _mm256_mul_pd(_mm256_mul_pd(ga, xa), vi));
      q1 = _mm256_add_pd(q1, _mm256_mul_pd(_mm256_mul_pd(gb, xb), vi));
    }
    for (; p < hw; p++) {
      tg += gs[p];
      tq += gs[p] * (xs[p] - mu) * is;
    }
  }
  *sdy = hsum(g0, g1) + tg;
  *sdyx = hsum(q0, q1) + tq;
}

// dx = f32(k·((dy − a) − xh·b)), xh = (x − mu)·is, in float64 as the reference.
void backward_row(const float* xs, const float* gs, float* o, int64_t hw, double mu, double is, double k, double a,
                  double b) {
  const __m256d vm = _mm256_set1_pd(mu), vi = _mm256_set1_pd(is), vk = _mm256_set1_pd(k), va = _mm256_set1_pd(a),
                vb = _mm256_set1_pd(b);
  int64_t p = 0;
  for (; p + 8 <= hw; p += 8) {
    const __m256 xv = _mm256_loadu_ps(xs + p), gv = _mm256_loadu_ps(gs + p);
    __m256d r[2];
    for (int h = 0; h < 2; h++) {
      const __m128 xh4 = h ? _mm256_extractf128_ps(xv, 1) : _mm256_castps256_ps128(xv);
      const __m128 gh4 = h ? _mm256_extractf128_ps(gv, 1) : _mm256_castps256_ps128(gv);
      const __m256d xh = _mm256_mul_pd(_mm256_sub_pd(_mm256_cvtps_pd(xh4), vm), vi);
      r[h] = _mm256_mul_pd(vk, _mm256_sub_pd(_mm256_sub_pd(_mm256_cvtps_pd(gh4), va), _mm256_mul_pd(xh, vb)));
    }
    _mm256_storeu_ps(o + p, _mm256_set_m128(_mm256_cvtpd_ps(r[1]), _mm256_cvtpd_ps(r[0])));
  }
  for (; p < hw; p++) {
    const double xh = (xs[p] - mu) * is;
    o[p] = static_cast<float>(k * (gs[p] - a - xh * b));
  }
}

}  // namespace avx2
#pragma GCC pop_options
#endif

bool use_avx2() {
#if FQT_X86
  return active_tier() >= Tier::Avx2;
#else
  return false;
#endif
}

}  // namespace

void channel_moments(const float* x, int64_t n, int64_t c, int64_t hw, float* mean, float* var) {
  const int64_t m = n * hw;
  const bool v = use_avx2();
  parallel_for(c, [&](int64_t ch, int) {
    double sx, q;
#if FQT_X86
    if (v) {
      sx = avx2::sum_x(x, n, c, hw, ch);
    } else
#endif
      sx = channel_sum(n, c, hw, ch, [x](int64_t i) { return static_cast<double>(x[i]); });
    const double mu = m > 0 ? sx / m : 0.0;
#if FQT_X86
    if (v) {
      q = avx2::sum_sq_dev(x, n, c, hw, ch, mu);
    } else
#endif
      q = channel_sum(n, c, hw, ch, [x, mu](int64_t i) {
        const double d = x[i] - mu;
        return d * d;
      });
    mean[ch] = static_cast<float>(mu);
    var[ch] = m > 0 ? static_cast<float>(q / m) : 0.0f;
  });
}

void batchnorm_forward(const float* x, int64_t n, int64_t c, int64_t hw, const float* mean, const float* inv_std,
                       const float* gamma, const float* beta, float* out) {
  const bool v = use_avx2();
  parallel_range(n * c, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, hw)), [=](int64_t lo, int64_t hi) {
    for (int64_t sc = lo; sc < hi; sc++) {
      const int64_t ch = sc % c;
      const float* __restrict xs = x + sc * hw;
      float* __restrict o = out + sc * hw;
      const double mu = mean[ch], k = static_cast<double>(inv_std[ch]) * gamma[ch], b = beta[ch];
#if FQT_X86
      if (v) {
        avx2::forward_row(xs, o, hw, mu, k, b);
        continue;
      }
#endif
      for (int64_t p = 0; p < hw; p++) o[p] = static_cast<float>((xs[p] - mu) * k + b);
    }
  });
}

void batchnorm_backward(const float* x, const float* dy, int64_t n, int64_t c, int64_t hw, const float* mean,
                        const float* inv_std, const float* gamma, float* dx, float* dgamma, float* dbeta) {
  const int64_t m = n * hw;
  const bool v = use_avx2();
  parallel_for(c, [&](int64_t ch, int) {
    const double mu = mean[ch], is = inv_std[ch];
    double sdy, sdyx;
#if FQT_X86
    if (v) {
      avx2::backward_sums(x, dy, n, c, hw, ch, mu, is, &sdy, &sdyx);
    } else
#endif
    {
      sdy = channel_sum(n, c, hw, ch, [dy](int64_t i) { return static_cast<double>(dy[i]); });
      sdyx = channel_sum(n, c, hw, ch, [=](int64_t i) { return dy[i] * (x[i] - mu) * is; });
    }
    dbeta[ch] = static_cast<float>(sdy);
    dgamma[ch] = static_cast<float>(sdyx);
    const double k = gamma[ch] * is, a = sdy / m, b = sdyx / m;
    for (int64_t s = 0; s < n; s++) {
      const int64_t base = (s * c + ch) * hw;
      const float* __restrict xs = x + base;
      const float* __restrict g = dy + base;
      float* __restrict o = dx + base;
#if FQT_X86
      if (v) {
        avx2::backward_row(xs, g, o, hw, mu, is, k, a, b);
        continue;
      }
#endif
      for (int64_t p = 0; p < hw; p++) {
        const double xh = (xs[p] - mu) * is;
        o[p] = static_cast<float>(k * (g[p] - a - xh * b));
      }
    }
  });
}

}  // namespace fqt
