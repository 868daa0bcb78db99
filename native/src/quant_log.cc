// LUQ kernels (src/quant/rounding.ts §4): SAWB's whole-tensor statistics and the logarithmic stochastic rounding
// of gradients. Bit-exact twins of src/backend/ref/quant-log.ts.
//   momentSums   Σx², Σ|x| in float64 in index order (one thread: the order is the specification), max|x|, min x
//   quantizeLuq  r = f32(|g|/α) (an IEEE float divide equals JavaScript's float64 divide rounded to float32),
//                k = clamp(exponent bits of r, 0, kmax), code = sign·min(2^k·floor(r/2^k + u), 2^kmax), u the
//                counter RNG at the element index; parallel over elements (each code depends on its index only).
#include <cmath>
#include <cstring>
#include <limits>

#include "common.h"
#include "rng.h"
#include "thread_pool.h"

namespace fqt {

void moment_sums(const float* x, int64_t n, double* out) {
  double sq = 0, ab = 0, mx = 0, mn = std::numeric_limits<double>::infinity();
  for (int64_t i = 0; i < n; i++) {
    const double v = x[i], a = std::fabs(v);
    sq += v * v;
    ab += a;
    if (a > mx || a != a) mx = a;
    if (v < mn || v != v) mn = v;
  }
  out[0] = sq;
  out[1] = ab;
  out[2] = n > 0 ? mx : 0;
  out[3] = mn;
}

void quantize_luq(const float* x, int64_t n, float alpha, int64_t kmax, uint32_t seed, uint32_t stream, int8_t* codes) {
  const uint32_t key = rng_stream_key(seed, stream);
  const double top = std::ldexp(1.0, static_cast<int>(kmax));
  parallel_range(n, 1 << 15, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++) {
      const float v = x[i];
      const float r = std::fabs(v) / alpha;
      if (v == 0 || !(r >= 0)) {  // zeros stay zero; NaN → 0
        codes[i] = 0;
        continue;
      }
      uint32_t bits;
      std::memcpy(&bits, &r, 4);
      int64_t k = static_cast<int64_t>((bits >> 23) & 0xff) - 127;
      k = k < 0 ? 0 : k > kmax ? kmax : k;
      const double p2 = std::ldexp(1.0, static_cast<int>(k));
      const double u = static_cast<double>(rng_uniform_at(key, static_cast<uint32_t>(i)));
      double mag = p2 * std::floor(static_cast<double>(r) / p2 + u);
      if (mag > top) mag = top;
      codes[i] = static_cast<int8_t>(v < 0 ? -mag : mag);
    }
  });
}

}  // namespace fqt
