// Optimizer updates and the dropout mask. Arithmetic in float64 in the reference's operation order,
// rounding to float32 exactly where JavaScript stores into a Float32Array: bit-identical to ref
// (Adam's bias corrections use libm pow, which may differ from V8's by an ulp of float64).
#include <algorithm>
#include <cmath>

#include "common.h"
#include "rng.h"
#include "thread_pool.h"

namespace fqt {

constexpr int64_t kGrain = 1 << 15;

void sgd_update(float* w, const float* g, float* buf, int64_t len, double lr, double momentum, double wd,
                bool nesterov, bool first) {
  // Pointers are copied into the lambda (node-gyp builds with -fno-strict-aliasing, so through
  // [&] captures every store would force a reload of every pointer).
  parallel_range(len, kGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const double gi = g[i] + wd * w[i];
      double step = gi;
      if (momentum != 0) {
        const double b = first ? gi : momentum * buf[i] + gi;
        buf[i] = static_cast<float>(b);
        step = nesterov ? gi + momentum * b : b;
      }
      w[i] = static_cast<float>(w[i] - lr * step);
    }
  });
}

void adam_update(float* w, const float* g, float* m, float* v, int64_t len, double lr, double beta1, double beta2,
                 double eps, double wd, bool decoupled, double step) {
  const double bc1 = 1 - std::pow(beta1, step), bc2 = 1 - std::pow(beta2, step);
  parallel_range(len, kGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      double gi = g[i];
      if (decoupled) w[i] = static_cast<float>(w[i] - lr * wd * w[i]);
      else gi += wd * w[i];
      m[i] = static_cast<float>(beta1 * m[i] + (1 - beta1) * gi);
      v[i] = static_cast<float>(beta2 * v[i] + (1 - beta2) * gi * gi);
      w[i] = static_cast<float>(w[i] - (lr * (m[i] / bc1)) / (std::sqrt(v[i] / bc2) + eps));
    }
  });
}

void dropout_mask(uint32_t seed, uint32_t stream, double p, float* out, int64_t len) {
  const uint32_t key = rng_stream_key(seed, stream);
  const float keep = static_cast<float>(1.0 / (1.0 - p));
  parallel_range(len, kGrain, [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) out[i] = rng_uniform_at(key, static_cast<uint32_t>(i)) >= p ? keep : 0.0f;
  });
}

}  // namespace fqt
