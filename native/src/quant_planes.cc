// quant_range / quantize_affine (quant.cc) of a [rows = n·hw, cols = c] layer-layout matrix handed over as NCHW
// planes x[n][c][hw] — a conv layer's dY as autograd delivers it — without transposing the floats first: the same
// groups (quant_groups.h on the rows view), the same RNG index r·c + ch per element and the codes written in rows
// layout, so results are bit-identical to the rows kernels on the transposed matrix (which the reference runs).
// Two group shapes run on the planes: groups constant over each (sample, channel) plane (per tensor, per sample,
// per channel: rowMod = 1 or hw divides rowDiv) and per (pixel, channel) groups (rowDiv = 1, rowMod = hw,
// colDiv = 1, PSQ's grad-weight groups). Any other grouping transposes the floats and runs the rows kernels.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common.h"
#include "quant_groups.h"
#include "rng.h"
#include "thread_pool.h"

namespace fqt {
namespace {

enum class Shape { Plane, PixelChannel, Other };

Shape shape_of(int64_t hw, int64_t row_div, int64_t row_mod, int64_t col_div) {
  if (row_mod == 1 || row_div % hw == 0) return Shape::Plane;
  if (row_div == 1 && row_mod == hw && col_div == 1) return Shape::PixelChannel;
  return Shape::Other;
}

// The rows view's group of plane (s, ch) for Shape::Plane.
inline int64_t plane_group(const QuantGroups& G, int64_t s, int64_t hw, int64_t ch) { return G.base(s * hw) + ch / G.col_div; }

// The value of the first zero of group g in rows order (r = s·hw + p, then ch), whose sign the rows kernels give a
// zero extreme; the caller knows the group holds a zero.
float first_zero_rows_order(const float* x, int64_t n, int64_t c, int64_t hw, const QuantGroups& G, Shape shape, int64_t g) {
  if (shape == Shape::PixelChannel) {
    const int64_t p = g / c, ch = g % c;
    for (int64_t s = 0; s < n; s++) {
      const float v = x[(s * c + ch) * hw + p];
      if (v == 0.0f) return v;
    }
    return 0.0f;
  }
  const int64_t cg = g % G.col_groups, c0 = cg * G.col_div, c1 = std::min(c, c0 + G.col_div);
  for (int64_t s = 0; s < n; s++) {
    if (plane_group(G, s, hw, c0) != g) continue;
    int64_t best = hw;
    float v = 0.0f;
    for (int64_t ch = c0; ch < c1; ch++) {
      const float* plane = x + (s * c + ch) * hw;
      for (int64_t p = 0; p < best; p++)
        if (plane[p] == 0.0f) {
          best = p, v = plane[p];
          break;
        }
    }
    if (best < hw) return v;
  }
  return 0.0f;
}

std::vector<float> rows_of(const float* x, int64_t n, int64_t c, int64_t hw) {
  std::vector<float> rows(static_cast<size_t>(n * c * hw));
  transpose(n, c, hw, x, rows.data());
  return rows;
}

}  // namespace

void quant_range_planes(const float* x, int64_t n, int64_t c, int64_t hw, int64_t row_div, int64_t row_mod, int64_t col_div,
                        float* mins, int64_t mins_len, float* maxs, int64_t maxs_len) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  const QuantGroups G(n * hw, c, row_div, row_mod, col_div);
  const Shape shape = shape_of(std::max<int64_t>(hw, 1), row_div, row_mod, col_div);
  if (G.empty() || shape == Shape::Other) {
    const std::vector<float> rows = G.empty() ? std::vector<float>() : rows_of(x, n, c, hw);
    return quant_range(rows.data(), n * hw, c, row_div, row_mod, col_div, mins, mins_len, maxs, maxs_len);
  }
  if (shape == Shape::PixelChannel) {
    // Per (pixel, channel) groups: tasks are runs of the channel-major features [ch][p] of all samples, kept in L1 while
    // the samples stream past (each feature sees the samples in order, as in the reference), then written as groups
    // p·c + ch; a zero extreme takes the sign of the group's first zero in rows order.
    constexpr int64_t kRun = 1024;
    const int64_t chw = c * hw;
    parallel_for((chw + kRun - 1) / kRun, [&](int64_t t, int) {
      const int64_t f0 = t * kRun, len = std::min(kRun, chw - f0);
      float lo[kRun], hi[kRun];
      std::fill(lo, lo + len, inf), std::fill(hi, hi + len, -inf);
      for (int64_t s = 0; s < n; s++) range_cols_run(x + s * chw + f0, len, lo, hi);
      for (int64_t f = 0; f < len; f++) {
        const int64_t g = ((f0 + f) % hw) * c + (f0 + f) / hw;
        mins[g] = lo[f] == 0.0f ? first_zero_rows_order(x, n, c, hw, G, shape, g) : lo[f];
        maxs[g] = hi[f] == 0.0f ? first_zero_rows_order(x, n, c, hw, G, shape, g) : hi[f];
      }
    });
    return;
  }
  const int64_t ng = G.count();
  // Groups constant over each plane: partial ranges per task over runs of samples, merged in task order with the
  // reference's update rule (min and max are associative and a NaN sticks).
  const int64_t tasks = std::max<int64_t>(1, std::min<int64_t>(num_threads(), (n * c * hw + (1 << 15) - 1) >> 15)),
                per = (n + tasks - 1) / tasks;
  std::vector<float> part(static_cast<size_t>(2 * tasks * ng));
  std::fill(part.begin(), part.begin() + tasks * ng, inf);
  std::fill(part.begin() + tasks * ng, part.end(), -inf);
  parallel_for(tasks, [&](int64_t t, int) {
    float* lo = part.data() + t * ng;
    float* hi = part.data() + (tasks + t) * ng;
    for (int64_t s = t * per; s < std::min(n, (t + 1) * per); s++)
      for (int64_t ch = 0; ch < c; ch++) {
        const int64_t g = plane_group(G, s, hw, ch);
        range_run(x + (s * c + ch) * hw, hw, lo + g, hi + g);
      }
  });
  for (int64_t g = 0; g < ng; g++) {
    float l = inf, h = -inf;
    for (int64_t t = 0; t < tasks; t++) {
      const float vl = part[static_cast<size_t>(t * ng + g)], vh = part[static_cast<size_t>((tasks + t) * ng + g)];
      if (vl < l || vl != vl) l = vl;
      if (vh > h || vh != vh) h = vh;
    }
    // A zero extreme takes the sign of the group's first zero in rows order, as in the rows kernels.
    if (l == 0.0f) l = first_zero_rows_order(x, n, c, hw, G, shape, g);
    if (h == 0.0f) h = first_zero_rows_order(x, n, c, hw, G, shape, g);
    mins[g] = l, maxs[g] = h;
  }
}

void quantize_affine_planes(const float* x, int64_t n, int64_t c, int64_t hw, int64_t row_div, int64_t row_mod,
                            int64_t col_div, const float* offset, const float* inv, const int32_t* zero_point, double qmin,
                            double qmax, bool stochastic, uint32_t seed, uint32_t stream, uint8_t* codes) {
  const QuantGroups G(n * hw, c, row_div, row_mod, col_div);
  if (G.empty()) return;
  const Shape shape = shape_of(hw, row_div, row_mod, col_div);
  if (shape == Shape::Other) {
    const std::vector<float> rows = rows_of(x, n, c, hw);
    return quantize_affine(rows.data(), n * hw, c, row_div, row_mod, col_div, offset, inv, zero_point, qmin, qmax, stochastic,
                           seed, stream, codes);
  }
  // Per (pixel, channel) parameters channel-major like the planes: group p·c + ch at ch·hw + p.
  std::vector<float> offT, invT;
  std::vector<int32_t> zpT;
  if (shape == Shape::PixelChannel) {
    offT.resize(static_cast<size_t>(c * hw)), invT.resize(offT.size()), zpT.resize(offT.size());
    for (int64_t ch = 0; ch < c; ch++)
      for (int64_t p = 0; p < hw; p++) {
        const size_t to = static_cast<size_t>(ch * hw + p), from = static_cast<size_t>(p * c + ch);
        offT[to] = offset[from], invT[to] = inv[from], zpT[to] = zero_point[from];
      }
  }
  const uint32_t key = rng_stream_key(seed, stream);
  parallel_for(n, [&](int64_t s, int) {
    // The sample's codes channel-major in cache, then transposed into rows layout [hw][c].
    thread_local std::vector<uint8_t> buf;
    buf.resize(static_cast<size_t>(c * hw));
    for (int64_t ch = 0; ch < c; ch++) {
      const float* plane = x + (s * c + ch) * hw;
      // element (r = s·hw + p, ch) has the rows kernels' RNG index r·c + ch (mod 2^32): step c along the plane
      const uint32_t idx0 = static_cast<uint32_t>(s * hw * c + ch), step = static_cast<uint32_t>(c);
      uint8_t* out = buf.data() + ch * hw;
      if (shape == Shape::Plane) {
        const int64_t g = plane_group(G, s, hw, ch);
        quantize_run(plane, hw, offset[g], inv[g], zero_point[g], qmin, qmax, stochastic, key, idx0, step, out);
      } else {
        const size_t at = static_cast<size_t>(ch * hw);
        quantize_cols_run(plane, hw, offT.data() + at, invT.data() + at, zpT.data() + at, qmin, qmax, stochastic, key, idx0,
                          step, out);
      }
    }
    transpose_bytes_serial(c, hw, buf.data(), codes + s * hw * c);
  });
}

}  // namespace fqt
