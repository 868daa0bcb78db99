// Batch-norm kernels over x viewed as [n, c, hw], one task per channel. Statistics accumulate in
// float64 like the reference, but in four interleaved partial sums (so the loop pipelines), which
// reorders the float64 additions: results match ref to ~1e-7 relative, not bit-for-bit. The
// per-element formulas are evaluated in float64 exactly as in ref.
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

}  // namespace

void channel_moments(const float* x, int64_t n, int64_t c, int64_t hw, float* mean, float* var) {
  const int64_t m = n * hw;
  parallel_for(c, [&](int64_t ch, int) {
    const double mu = m > 0 ? channel_sum(n, c, hw, ch, [x](int64_t i) { return static_cast<double>(x[i]); }) / m : 0.0;
    const double q = channel_sum(n, c, hw, ch, [x, mu](int64_t i) {
      const double d = x[i] - mu;
      return d * d;
    });
    mean[ch] = static_cast<float>(mu);
    var[ch] = m > 0 ? static_cast<float>(q / m) : 0.0f;
  });
}

void batchnorm_forward(const float* x, int64_t n, int64_t c, int64_t hw, const float* mean, const float* inv_std,
                       const float* gamma, const float* beta, float* out) {
  parallel_range(n * c, std::max<int64_t>(1, 32768 / std::max<int64_t>(1, hw)), [=](int64_t lo, int64_t hi) {
    for (int64_t sc = lo; sc < hi; sc++) {
      const int64_t ch = sc % c;
      const float* __restrict xs = x + sc * hw;
      float* __restrict o = out + sc * hw;
      const double mu = mean[ch], k = static_cast<double>(inv_std[ch]) * gamma[ch], b = beta[ch];
      for (int64_t p = 0; p < hw; p++) o[p] = static_cast<float>((xs[p] - mu) * k + b);
    }
  });
}

void batchnorm_backward(const float* x, const float* dy, int64_t n, int64_t c, int64_t hw, const float* mean,
                        const float* inv_std, const float* gamma, float* dx, float* dgamma, float* dbeta) {
  const int64_t m = n * hw;
  parallel_for(c, [&](int64_t ch, int) {
    const double mu = mean[ch], is = inv_std[ch];
    const double sdy = channel_sum(n, c, hw, ch, [dy](int64_t i) { return static_cast<double>(dy[i]); });
    const double sdyx = channel_sum(n, c, hw, ch, [=](int64_t i) { return dy[i] * (x[i] - mu) * is; });
    dbeta[ch] = static_cast<float>(sdy);
    dgamma[ch] = static_cast<float>(sdyx);
    const double k = gamma[ch] * is, a = sdy / m, b = sdyx / m;
    for (int64_t s = 0; s < n; s++) {
      const int64_t base = (s * c + ch) * hw;
      const float* __restrict xs = x + base;
      const float* __restrict g = dy + base;
      float* __restrict o = dx + base;
      for (int64_t p = 0; p < hw; p++) {
        const double xh = (xs[p] - mu) * is;
        o[p] = static_cast<float>(k * (g[p] - a - xh * b));
      }
    }
  });
}

}  // namespace fqt
