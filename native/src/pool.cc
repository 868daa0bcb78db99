// Pooling over planes of h × w (one task range per block of planes). Every output is computed in
// the reference's order and precision (float64 sums for average pooling), so results are identical.
#include <algorithm>
#include <cstring>
#include <limits>

#include "common.h"
#include "thread_pool.h"

namespace fqt {

namespace {
int64_t plane_grain(int64_t work_per_plane) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(1, work_per_plane)); }
}  // namespace

void maxpool_forward(const float* x, int64_t planes, int64_t h, int64_t w, int64_t k, int64_t stride, int64_t pad,
                     int64_t oh, int64_t ow, float* out, int32_t* argmax) {
  parallel_range(planes, plane_grain(oh * ow * k * k), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; p++) {
      const int64_t base = p * h * w;
      for (int64_t oy = 0; oy < oh; oy++) {
        for (int64_t ox = 0; ox < ow; ox++) {
          float best = -std::numeric_limits<float>::infinity();
          int64_t at = -1;
          for (int64_t i = 0; i < k; i++) {
            const int64_t y = oy * stride - pad + i;
            if (y < 0 || y >= h) continue;
            for (int64_t j = 0; j < k; j++) {
              const int64_t xx = ox * stride - pad + j;
              if (xx < 0 || xx >= w) continue;
              const float v = x[base + y * w + xx];
              if (v > best || v != v || at < 0) {  // NaN wins, the last one in scan order (as ref and PyTorch)
                best = v;
                at = base + y * w + xx;
              }
            }
          }
          const int64_t o = (p * oh + oy) * ow + ox;
          out[o] = best;
          argmax[o] = static_cast<int32_t>(at);
        }
      }
    }
  });
}

void maxpool_backward(const float* dy, const int32_t* argmax, int64_t planes, int64_t h, int64_t w, int64_t oh,
                      int64_t ow, float* dx) {
  // argmax of plane p points into plane p, so planes are independent; order within a plane as in ref.
  parallel_range(planes, plane_grain(oh * ow + h * w), [&](int64_t lo, int64_t hi) {
    std::memset(dx + lo * h * w, 0, sizeof(float) * static_cast<size_t>((hi - lo) * h * w));
    for (int64_t o = lo * oh * ow; o < hi * oh * ow; o++) dx[argmax[o]] += dy[o];
  });
}

void avgpool_forward(const float* x, int64_t planes, int64_t h, int64_t w, int64_t k, int64_t stride, int64_t pad,
                     int64_t oh, int64_t ow, float* out) {
  const double inv = 1.0 / static_cast<double>(k * k);
  parallel_range(planes, plane_grain(oh * ow * k * k), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; p++) {
      const int64_t base = p * h * w;
      for (int64_t oy = 0; oy < oh; oy++) {
        for (int64_t ox = 0; ox < ow; ox++) {
          double s = 0;
          for (int64_t i = 0; i < k; i++) {
            const int64_t y = oy * stride - pad + i;
            if (y < 0 || y >= h) continue;
            for (int64_t j = 0; j < k; j++) {
              const int64_t xx = ox * stride - pad + j;
              if (xx >= 0 && xx < w) s += x[base + y * w + xx];
            }
          }
          out[(p * oh + oy) * ow + ox] = static_cast<float>(s * inv);
        }
      }
    }
  });
}

void avgpool_backward(const float* dy, int64_t planes, int64_t h, int64_t w, int64_t k, int64_t stride, int64_t pad,
                      int64_t oh, int64_t ow, float* dx) {
  const double inv = 1.0 / static_cast<double>(k * k);
  parallel_range(planes, plane_grain(oh * ow * k * k), [&](int64_t lo, int64_t hi) {
    std::memset(dx + lo * h * w, 0, sizeof(float) * static_cast<size_t>((hi - lo) * h * w));
    for (int64_t p = lo; p < hi; p++) {
      const int64_t base = p * h * w;
      for (int64_t oy = 0; oy < oh; oy++) {
        for (int64_t ox = 0; ox < ow; ox++) {
          const double g = dy[(p * oh + oy) * ow + ox] * inv;  // float64, as in JS; rounded at each store
          for (int64_t i = 0; i < k; i++) {
            const int64_t y = oy * stride - pad + i;
            if (y < 0 || y >= h) continue;
            for (int64_t j = 0; j < k; j++) {
              const int64_t xx = ox * stride - pad + j;
              if (xx >= 0 && xx < w) dx[base + y * w + xx] = static_cast<float>(dx[base + y * w + xx] + g);
            }
          }
        }
      }
    }
  });
}

}  // namespace fqt
