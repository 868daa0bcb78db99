// Transformer kernels (src/backend/transformer-kernels.ts): LayerNorm / RMSNorm, row softmax (causal or not),
// GELU / SiLU, embedding gather / scatter and the batched GEMM of attention. Statistics and exponentials in
// float64 as in the reference (src/backend/ref/transformer.ts), rows in parallel; libm's exp / tanh may differ from
// V8's in the last double bit (GELU's tanh is written with exp, which is fast), so results match the reference within the tolerance stated in
// test/conformance/transformer.test.ts, and never depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "thread_pool.h"
#include "transformer.h"

namespace fqt {

namespace {
// Rows per task: about 32k elements, at least one row.
int64_t grain(int64_t cols) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, cols)); }
}  // namespace

void layernorm_forward(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta, double eps,
                       bool rms, float* out, float* mean, float* rstd) {
  parallel_range(rows, grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      double mu = 0;
      if (!rms) {
        for (int64_t c = 0; c < cols; c++) mu += xr[c];
        mu /= static_cast<double>(cols);
      }
      double q = 0;
      for (int64_t c = 0; c < cols; c++) {
        const double d = xr[c] - mu;
        q += d * d;
      }
      const double rs = 1.0 / std::sqrt(q / static_cast<double>(cols) + eps);
      mean[r] = static_cast<float>(mu);
      rstd[r] = static_cast<float>(rs);
      float* o = out + r * cols;
      for (int64_t c = 0; c < cols; c++) o[c] = static_cast<float>((xr[c] - mu) * rs * gamma[c] + (rms ? 0.0 : beta[c]));
    }
  });
}

void layernorm_backward(const float* x, const float* dy, int64_t rows, int64_t cols, const float* gamma,
                        const float* mean, const float* rstd, bool rms, float* dx, float* dgamma, float* dbeta) {
  // dx row by row in parallel; dγ, dβ as per-task partial sums over fixed row ranges, added in range order.
  const int64_t g = grain(cols), tasks = (rows + g - 1) / g;
  std::vector<double> part(static_cast<size_t>(std::max<int64_t>(1, tasks) * 2 * cols), 0.0);
  parallel_for(tasks, [&](int64_t t, int) {
    double* dg = part.data() + t * 2 * cols;
    double* db = dg + cols;
    for (int64_t r = t * g; r < std::min(rows, (t + 1) * g); r++) {
      const float* xr = x + r * cols;
      const float* dr = dy + r * cols;
      const double mu = mean[r], rs = rstd[r];
      double sg = 0, sgx = 0;
      for (int64_t c = 0; c < cols; c++) {
        const double xh = (xr[c] - mu) * rs, gg = static_cast<double>(dr[c]) * gamma[c];
        sg += gg;
        sgx += gg * xh;
        dg[c] += dr[c] * xh;
        db[c] += dr[c];
      }
      const double a = rms ? 0.0 : sg / static_cast<double>(cols), b = sgx / static_cast<double>(cols);
      float* o = dx + r * cols;
      for (int64_t c = 0; c < cols; c++) {
        const double xh = (xr[c] - mu) * rs;
        o[c] = static_cast<float>(rs * (static_cast<double>(dr[c]) * gamma[c] - a - xh * b));
      }
    }
  });
  for (int64_t c = 0; c < cols; c++) {
    double sg = 0, sb = 0;
    for (int64_t t = 0; t < tasks; t++) {
      sg += part[t * 2 * cols + c];
      sb += part[t * 2 * cols + cols + c];
    }
    dgamma[c] = static_cast<float>(sg);
    if (!rms) dbeta[c] = static_cast<float>(sb);
  }
}

void softmax_forward(const float* x, int64_t rows, int64_t cols, bool causal, float* out) {
  parallel_range(rows, grain(cols), [&](int64_t r0, int64_t r1) {
    std::vector<double> e(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      float* o = out + r * cols;
      const int64_t last = causal ? r % cols : cols - 1;
      double mx = -INFINITY;
      for (int64_t c = 0; c <= last; c++) mx = std::max(mx, static_cast<double>(xr[c]));
      double z = 0;
      for (int64_t c = 0; c <= last; c++) z += e[c] = std::exp(xr[c] - mx);
      for (int64_t c = 0; c < cols; c++) o[c] = c <= last ? static_cast<float>(e[c] / z) : 0.0f;
    }
  });
}

void softmax_backward(const float* y, const float* dy, int64_t rows, int64_t cols, float* dx) {
  parallel_range(rows, grain(cols), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const float* yr = y + r * cols;
      const float* dr = dy + r * cols;
      double s = 0;
      for (int64_t c = 0; c < cols; c++) s += static_cast<double>(dr[c]) * yr[c];
      for (int64_t c = 0; c < cols; c++) dx[r * cols + c] = static_cast<float>(yr[c] * (dr[c] - s));
    }
  });
}

namespace {
const double kGeluK = std::sqrt(2.0 / M_PI);
// act(v) (deriv = false) or act'(v) (deriv = true) in float64, as ref/transformer.ts `activation`.
inline double act(int op, double v, bool deriv) {
  if (op == 0) {
    const double t = 1 - 2 / (std::exp(2 * kGeluK * (v + 0.044715 * v * v * v)) + 1);
    return deriv ? 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * kGeluK * (1 + 3 * 0.044715 * v * v) : 0.5 * v * (1 + t);
  }
  const double s = 1 / (1 + std::exp(-v));
  return deriv ? s * (1 + v * (1 - s)) : v * s;
}
}  // namespace

void activation_forward(int op, const float* x, float* out, int64_t len) {
  parallel_range(len, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) out[i] = static_cast<float>(act(op, x[i], false));
  });
}

void activation_backward(int op, const float* x, const float* dy, float* dx, int64_t len) {
  parallel_range(len, 16384, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) dx[i] = static_cast<float>(dy[i] * act(op, x[i], true));
  });
}

void embedding_forward(const int32_t* ids, int64_t n, const float* table, int64_t dim, float* out) {
  parallel_range(n, grain(dim), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; i++) std::copy(table + ids[i] * dim, table + (ids[i] + 1) * dim, out + i * dim);
  });
}

void embedding_backward(const int32_t* ids, int64_t n, const float* dy, int64_t dim, float* dtable, int64_t table_len) {
  // Serial: the additions happen in the order of i, as in the reference (bit-exact).
  std::fill(dtable, dtable + table_len, 0.0f);
  for (int64_t i = 0; i < n; i++) {
    float* row = dtable + ids[i] * dim;
    for (int64_t d = 0; d < dim; d++) row[d] += dy[i * dim + d];
  }
}

void sgemm_batched(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, bool ta, const float* b, bool tb,
                   float* c) {
  if (m == 0 || n == 0) return;  // nothing to write (and no loop over a huge, empty batch)
  if (batch < num_threads()) {
    for (int64_t i = 0; i < batch; i++) sgemm_t(m, n, k, a + i * m * k, ta, b + i * n * k, tb, c + i * m * n);
    return;
  }
  parallel_for(batch, [&](int64_t i, int) { sgemm_t_serial(m, n, k, a + i * m * k, ta, b + i * n * k, tb, c + i * m * n); });
}

}  // namespace fqt
