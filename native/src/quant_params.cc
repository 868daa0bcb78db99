// The per-group quantization parameters of src/quant/rounding.ts §2 (quant-kernels.ts affineParams), bit for bit the
// float64 arithmetic of the reference (backend/ref/quant-math.ts): JavaScript's Math.min / Math.max (NaN wins, −0 below
// +0), floor, and the directed float32 roundings ↑ / ↓. Compiled with -ffp-contract=off like every bit-exact kernel.
#include <cmath>
#include <limits>

#include "common.h"

namespace fqt {
namespace {

constexpr double kRangeEps = 1e-8;
constexpr float kInf = std::numeric_limits<float>::infinity();

float round_up(double v) {  // smallest float32 ≥ v
  const float f = static_cast<float>(v);
  return static_cast<double>(f) >= v || std::isnan(v) ? f : std::nextafter(f, kInf);
}
float round_down(double v) {  // largest float32 ≤ v
  const float f = static_cast<float>(v);
  return static_cast<double>(f) <= v || std::isnan(v) ? f : std::nextafter(f, -kInf);
}
double js_min(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  if (a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}
double js_max(double a, double b) {
  if (std::isnan(a) || std::isnan(b)) return std::numeric_limits<double>::quiet_NaN();
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

}  // namespace

void affine_params(int64_t format, int64_t bits, const float* mins, const float* maxs, int64_t n, float* offset, float* scale,
                   float* inv, int32_t* zero_point, int32_t* unaligned) {
  const double B = std::ldexp(1.0, static_cast<int>(bits)) - 1, qmax = std::ldexp(1.0, static_cast<int>(bits) - 1) - 1;
  int32_t fallback = 0;
  for (int64_t g = 0; g < n; g++) {
    const double m = mins[g], M = maxs[g];
    double off = 0, sc = 0;
    int32_t zp = 0;
    if (format == 2) {
      sc = round_up((js_max(-m, M) + kRangeEps) / qmax);
    } else if (format == 1 && m >= 0) {
      sc = round_up((M + kRangeEps) / B);
    } else if (format == 1) {
      const double lo = js_min(m - kRangeEps, 0.0), hi = js_max(M + kRangeEps, 0.0);
      const double z = std::floor((-lo * B) / (hi - lo));
      if (z >= 1) {
        zp = static_cast<int32_t>(z);
        sc = round_up(-lo / z);
      } else if (B >= 2) {
        zp = 1;
        sc = round_up(js_max(-lo, hi / (B - 1)));
      } else {
        fallback++;
        off = round_down(m - kRangeEps);
        sc = round_up((M + kRangeEps - off) / B);
      }
    } else {
      off = round_down(m - kRangeEps);
      sc = round_up((M + kRangeEps - off) / B);
    }
    if (!std::isfinite(sc) || !std::isfinite(off)) sc = std::numeric_limits<double>::quiet_NaN();
    offset[g] = static_cast<float>(off);
    scale[g] = static_cast<float>(sc);
    inv[g] = static_cast<float>(1.0 / sc);
    zero_point[g] = zp;
  }
  *unaligned = fallback;
}

}  // namespace fqt
