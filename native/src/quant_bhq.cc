// BHQ (METHODS §1.5): the block Householder transform T and the two planes kernels that quantize Z = T·x per sample
// without storing Z. Bit-exact twins of src/backend/ref/quant-transform.ts (blockHouseholder: the float32 arithmetic of
// src/quant/rounding.ts §3) and of ref/quant.ts's bhqRangePlanes / quantizeBhqPlanes (blockHouseholder followed by the
// per-sample planes kernels of quant_planes.cc).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common.h"
#include "rng.h"
#include "thread_pool.h"

namespace fqt {
namespace {

constexpr int64_t kBhqCols = 1024;  // the widest column chunk

// One group of `size` rows over columns [0, w), rounding.ts §3 in the reference's order (plain float C++, no
// contraction): src[j] → dst[j] (dst[j] may be src[j]: in place), s[j] the row's scale, `dot` w floats of scratch.
// Always inlined into a baseline and an AVX2 wrapper, so the same source is vectorized 4 and 8 lanes wide.
__attribute__((always_inline)) inline void bhq_group(const float* const* src, float* const* dst, const float* s, int64_t size,
                                                     bool inverse, int64_t w, float* __restrict dot) {
  for (int64_t j = 0; j < size; j++) {
    const float* __restrict from = src[j];
    float* __restrict to = dst[j];
    if (inverse) {
      if (from != to) std::copy(from, from + w, to);
    } else {
      const float sj = s[j];
      for (int64_t c = 0; c < w; c++) to[c] = sj * from[c];
    }
  }
  if (size > 1) {
    const float a = static_cast<float>(1.0 / std::sqrt(static_cast<double>(size)));
    const float wl = a - 1.0f, coef = 1.0f / (1.0f - a);
    float* __restrict lead = dst[0];
    for (int64_t c = 0; c < w; c++) dot[c] = wl * lead[c];
    for (int64_t j = 1; j < size; j++) {
      const float* __restrict y = dst[j];
      for (int64_t c = 0; c < w; c++) dot[c] = dot[c] + a * y[c];
    }
    for (int64_t c = 0; c < w; c++) dot[c] = dot[c] * coef;
    for (int64_t c = 0; c < w; c++) lead[c] = lead[c] - wl * dot[c];
    for (int64_t j = 1; j < size; j++) {
      float* __restrict y = dst[j];
      for (int64_t c = 0; c < w; c++) y[c] = y[c] - a * dot[c];
    }
  }
  if (inverse)
    for (int64_t j = 0; j < size; j++) {
      float* __restrict y = dst[j];
      const float sj = s[j];
      for (int64_t c = 0; c < w; c++) y[c] = y[c] / sj;
    }
}

using GroupFn = void (*)(const float* const*, float* const*, const float*, int64_t, bool, int64_t, float*);
void group_scalar(const float* const* src, float* const* dst, const float* s, int64_t size, bool inverse, int64_t w, float* dot) {
  bhq_group(src, dst, s, size, inverse, w, dot);
}
#if FQT_X86
__attribute__((target("avx2"))) void group_avx2(const float* const* src, float* const* dst, const float* s, int64_t size,
                                                bool inverse, int64_t w, float* dot) {
  bhq_group(src, dst, s, size, inverse, w, dot);
}
__attribute__((target("avx512f,avx512vl,prefer-vector-width=512"))) void group_avx512(const float* const* src, float* const* dst,
                                                                                 const float* s, int64_t size, bool inverse,
                                                                                 int64_t w, float* dot) {
  bhq_group(src, dst, s, size, inverse, w, dot);
}
#endif
GroupFn group_fn() {
#if FQT_X86
  if (active_tier() >= Tier::Avx512) return &group_avx512;
  if (active_tier() >= Tier::Avx2) return &group_avx2;
#endif
  return &group_scalar;
}

// The rows of one group at column c0 of an [n, d] matrix: row pointers into x and into `to` (to_stride 0: the rows of
// `to` at their own positions, like x's; else packed rows of that stride), and their scales.
struct GroupRows {
  std::vector<const float*> src;
  std::vector<float*> dst;
  std::vector<float> scale;
  void gather(const float* x, float* to, int64_t to_stride, int64_t d, const int32_t* order, int64_t s0, int64_t size,
              const float* row_scale, int64_t c0) {
    src.resize(static_cast<size_t>(size)), dst.resize(src.size()), scale.resize(src.size());
    for (int64_t j = 0; j < size; j++) {
      const int64_t row = order[s0 + j];
      src[j] = x + row * d + c0;
      dst[j] = to_stride == 0 ? to + row * d + c0 : to + j * to_stride;
      scale[j] = row_scale[row];
    }
  }
};

// Z = T·x of one group, column chunk by column chunk, into `z` (size rows of kBhqCols); visit(j, z_j, c0, w) sees row
// j's chunk. Chunks hold whole planes of hw ≤ kBhqCols values, so that the planes kernels run whole planes.
template <class Visit>
void for_group_chunks(const float* x, int64_t hw, int64_t d, const int32_t* order, int64_t s0, int64_t size,
                      const float* row_scale, GroupFn fn, Visit visit) {
  thread_local GroupRows rows;
  thread_local std::vector<float> z, dot;
  z.resize(static_cast<size_t>(size * kBhqCols)), dot.resize(kBhqCols);
  const int64_t width = hw <= kBhqCols ? kBhqCols / hw * hw : kBhqCols;
  for (int64_t c0 = 0; c0 < d; c0 += width) {
    const int64_t w = std::min(width, d - c0);
    rows.gather(x, z.data(), kBhqCols, d, order, s0, size, row_scale, c0);
    fn(rows.src.data(), rows.dst.data(), rows.scale.data(), size, false, w, dot.data());
    for (int64_t j = 0; j < size; j++) visit(j, z.data() + j * kBhqCols, c0, w);
  }
}

}  // namespace

std::vector<int64_t> bhq_group_starts(const int32_t* group_sizes, int64_t ngroups) {
  std::vector<int64_t> start(static_cast<size_t>(ngroups) + 1, 0);
  for (int64_t g = 0; g < ngroups; g++) start[g + 1] = start[g] + group_sizes[g];
  return start;
}

// Columns are independent, so tasks are (chunk of groups) × (chunk of columns).
void block_householder(const float* x, int64_t n, int64_t d, const int32_t* order, const int32_t* group_sizes,
                       int64_t ngroups, const float* row_scale, bool inverse, float* out) {
  if (n <= 0 || d <= 0 || ngroups <= 0) return;
  const std::vector<int64_t> start = bhq_group_starts(group_sizes, ngroups);
  constexpr int64_t GC = 64;  // groups per task
  // Column chunks of 1 KiB per row scatter the first writes of `out` over rows 4·d bytes apart, which the prefetchers
  // follow poorly: long rows (a stage-1 conv's dY, d = 12544) take 4 KiB chunks (forward and inverse 0.8-0.87× the
  // time), short ones keep 1 KiB so that two threads still get enough tasks.
  const int64_t cols = d >= 8192 ? kBhqCols : 256;
  const int64_t tc = (d + cols - 1) / cols, tg = (ngroups + GC - 1) / GC;
  const int64_t* st = start.data();
  const GroupFn fn = group_fn();
  parallel_for(tg * tc, [=](int64_t t, int) {
    thread_local GroupRows rows;
    float dot[kBhqCols];
    const int64_t c0 = (t % tc) * cols, g0 = (t / tc) * GC, w = std::min(d, c0 + cols) - c0;
    for (int64_t g = g0; g < std::min(ngroups, g0 + GC); g++) {
      rows.gather(x, out, 0, d, order, st[g], st[g + 1] - st[g], row_scale, c0);
      fn(rows.src.data(), rows.dst.data(), rows.scale.data(), st[g + 1] - st[g], inverse, w, dot);
    }
  });
}

void bhq_inverse_group(float* x, int64_t d, const int32_t* order, int64_t s0, int64_t size, const float* row_scale) {
  thread_local GroupRows rows;
  float dot[kBhqCols];
  const GroupFn fn = group_fn();
  for (int64_t c0 = 0; c0 < d; c0 += kBhqCols) {
    rows.gather(x, x, 0, d, order, s0, size, row_scale, c0);
    fn(rows.src.data(), rows.dst.data(), rows.scale.data(), size, true, std::min(kBhqCols, d - c0), dot);
  }
}

// One task per group: Z's rows chunk by chunk in cache, each sample's min and max updated by range_run (NaN sticks).
void bhq_range_planes(const float* x, int64_t n, int64_t c, int64_t hw, const int32_t* order, const int32_t* group_sizes,
                      int64_t ngroups, const float* row_scale, float* mins, float* maxs) {
  const int64_t d = c * hw;
  if (n <= 0 || d <= 0 || ngroups <= 0) return;
  const std::vector<int64_t> start = bhq_group_starts(group_sizes, ngroups);
  const GroupFn fn = group_fn();
  parallel_for(ngroups, [&](int64_t g, int) {
    const int64_t s0 = start[g], size = start[g + 1] - s0;
    thread_local std::vector<float> lo, hi;
    lo.assign(static_cast<size_t>(size), std::numeric_limits<float>::infinity());
    hi.assign(static_cast<size_t>(size), -std::numeric_limits<float>::infinity());
    for_group_chunks(x, hw, d, order, s0, size, row_scale, fn,
                     [&](int64_t j, const float* z, int64_t, int64_t w) { range_run(z, w, &lo[j], &hi[j]); });
    for (int64_t j = 0; j < size; j++) {
      // + 0 turns a zero extreme into +0, the kernel's contract (its sign never changes quantization parameters).
      mins[order[s0 + j]] = lo[j] + 0.0f;
      maxs[order[s0 + j]] = hi[j] + 0.0f;
    }
  });
}

// One task per group: Z's rows chunk by chunk in cache, quantized plane segment by plane segment with the rows view's
// RNG index (s·hw + p)·c + ch into the sample's channel-major codes, then transposed into rows layout [hw][c].
void quantize_bhq_planes(const float* x, int64_t n, int64_t c, int64_t hw, const int32_t* order, const int32_t* group_sizes,
                         int64_t ngroups, const float* row_scale, const float* offset, const float* inv,
                         const int32_t* zero_point, double qmin, double qmax, bool stochastic, uint32_t seed, uint32_t stream,
                         uint8_t* codes) {
  const int64_t d = c * hw;
  if (n <= 0 || d <= 0 || ngroups <= 0) return;
  const std::vector<int64_t> start = bhq_group_starts(group_sizes, ngroups);
  const GroupFn fn = group_fn();
  const uint32_t key = rng_stream_key(seed, stream);
  parallel_for(ngroups, [&](int64_t g, int) {
    const int64_t s0 = start[g], size = start[g + 1] - s0;
    thread_local std::vector<uint8_t> buf;
    buf.resize(static_cast<size_t>(size * d));
    for_group_chunks(x, hw, d, order, s0, size, row_scale, fn, [&](int64_t j, const float* z, int64_t c0, int64_t w) {
      const int64_t s = order[s0 + j];
      uint8_t* out = buf.data() + j * d;
      if (hw == 1) {  // the chunk is one run of consecutive channels: indices s·c + ch
        quantize_run(z, w, offset[s], inv[s], zero_point[s], qmin, qmax, stochastic, key, static_cast<uint32_t>(s * c + c0), 1,
                     out + c0);
        return;
      }
      for (int64_t i = c0; i < c0 + w;) {
        const int64_t ch = i / hw, p = i % hw, len = std::min(hw - p, c0 + w - i);
        quantize_run(z + (i - c0), len, offset[s], inv[s], zero_point[s], qmin, qmax, stochastic, key,
                     static_cast<uint32_t>((s * hw + p) * c + ch), static_cast<uint32_t>(c), out + i);
        i += len;
      }
    });
    for (int64_t j = 0; j < size; j++) transpose_bytes_serial(c, hw, buf.data() + j * d, codes + order[s0 + j] * d);
  });
}

}  // namespace fqt
