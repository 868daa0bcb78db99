// Low-precision-format kernels (src/backend/lowp-kernels.ts), written literally from src/quant/rounding.ts §5 (the
// randomised blocked Walsh–Hadamard transform) and §6 (minifloat rounding): bit-exact with the reference
// (src/backend/ref/lowp.ts) on every tier and thread count (rows are independent; no FMA: -ffp-contract=off).
#include <algorithm>
#include <cmath>
#include <vector>

#include "common.h"
#include "rng.h"
#include "thread_pool.h"
#include "transformer.h"

namespace fqt {

void hadamard_transform(const float* x, int64_t rows, int64_t cols, int64_t block, const float* signs, bool inverse,
                        float* out) {
  if (cols == 0) return;  // empty rows: nothing to write
  const float c = static_cast<float>(1.0 / std::sqrt(static_cast<double>(block)));
  const int64_t full = cols / block * block;
  parallel_range(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cols)), [&](int64_t r0, int64_t r1) {
    std::vector<float> y(static_cast<size_t>(block));
    for (int64_t r = r0; r < r1; r++) {
      const float* xr = x + r * cols;
      float* o = out + r * cols;
      for (int64_t j0 = 0; j0 < full; j0 += block) {
        for (int64_t j = 0; j < block; j++) y[j] = inverse ? xr[j0 + j] : xr[j0 + j] * signs[j0 + j];
        for (int64_t h = 1; h < block; h *= 2) {
          for (int64_t i = 0; i < block; i += 2 * h) {
            for (int64_t j = i; j < i + h; j++) {
              const float u = y[j], v = y[j + h];
              y[j] = u + v;
              y[j + h] = u - v;
            }
          }
        }
        for (int64_t j = 0; j < block; j++) o[j0 + j] = inverse ? (y[j] * c) * signs[j0 + j] : y[j] * c;
      }
      for (int64_t j = full; j < cols; j++) o[j] = xr[j] * signs[j];
    }
  });
}

namespace {
struct Grid {
  int m, emin;
  double max;
};
const Grid kGrids[2] = {{1, 0, 6.0}, {3, -6, 448.0}};

double round_minifloat(double a, const Grid& g, double u, bool stochastic) {
  if (a == 0 || !std::isfinite(a)) return 0;
  if (a >= g.max) return g.max;
  const int e = std::max(std::ilogb(a), g.emin);
  const double ulp = std::ldexp(1.0, e - g.m);
  const double s = a / ulp;
  return std::min((stochastic ? std::floor(s + u) : std::nearbyint(s)) * ulp, g.max);
}

uint8_t e4m3_byte(double v) {
  const uint8_t sign = v < 0 ? 128 : 0;
  const double q = std::fabs(v);
  if (q == 0) return 0;
  if (q < 0.015625) return static_cast<uint8_t>(sign | static_cast<int>(q * 512));
  const int e = std::ilogb(q);
  return static_cast<uint8_t>(sign | ((e + 7) << 3) | static_cast<int>((std::ldexp(q, -e) - 1) * 8));
}
}  // namespace

void quantize_minifloat(const float* x, int64_t rows, int64_t cols, int64_t row_div, int64_t row_mod, int64_t col_div,
                        const float* inv, int format, bool stochastic, uint32_t seed, uint32_t stream, uint8_t* codes) {
  if (cols == 0) return;  // empty rows: nothing to write
  const Grid& g = kGrids[format];
  const int64_t col_groups = (cols + col_div - 1) / col_div;
  const uint32_t key = rng_stream_key(seed, stream);
  parallel_range(rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(1, cols)), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; r++) {
      const int64_t rg = (r / row_div % row_mod) * col_groups;
      for (int64_t c = 0; c < cols; c++) {
        const int64_t i = r * cols + c;
        const float t = x[i] * inv[rg + c / col_div];
        const double u = stochastic ? rng_uniform_at(key, static_cast<uint32_t>(i)) : 0.0;
        const double q = round_minifloat(std::fabs(static_cast<double>(t)), g, u, stochastic);
        const double v = t < 0 && q != 0 ? -q : q;
        codes[i] = format == 0 ? static_cast<uint8_t>(static_cast<int8_t>(2 * v)) : e4m3_byte(v);
      }
    }
  });
}

}  // namespace fqt
