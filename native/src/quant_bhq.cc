// BHQ (METHODS §1.5): the block Householder transform T and the planes kernel that quantizes Z = T·x per sample without
// storing Z. Bit-exact twins of src/backend/ref/quant-transform.ts (blockHouseholder: the float32 arithmetic of
// src/quant/rounding.ts §3) and of ref/quant.ts's quantizeBhqPlanes (blockHouseholder, then the per-sample ranges,
// asymmetric parameters and codes of quant_planes.cc and quant_params.cc).
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

// Z = T·x of one group, column chunk by column chunk, into a per-thread `z` (size rows of kBhqCols), or into `rows_out`
// (size rows of d) when given; visit(j, z_j, c0, w) sees row j's chunk. Chunks hold whole planes of hw ≤ kBhqCols values,
// so that the planes kernels run whole planes.
template <class Visit>
void for_group_chunks(const float* x, int64_t hw, int64_t d, const int32_t* order, int64_t s0, int64_t size,
                      const float* row_scale, GroupFn fn, Visit visit, float* rows_out = nullptr) {
  thread_local GroupRows rows;
  thread_local std::vector<float> z, dot;
  if (rows_out == nullptr) z.resize(static_cast<size_t>(size * kBhqCols));
  dot.resize(kBhqCols);
  const int64_t width = hw <= kBhqCols ? kBhqCols / hw * hw : kBhqCols;
  for (int64_t c0 = 0; c0 < d; c0 += width) {
    const int64_t w = std::min(width, d - c0), stride = rows_out ? d : kBhqCols;
    float* to = rows_out ? rows_out + c0 : z.data();
    rows.gather(x, to, stride, d, order, s0, size, row_scale, c0);
    fn(rows.src.data(), rows.dst.data(), rows.scale.data(), size, false, w, dot.data());
    for (int64_t j = 0; j < size; j++) visit(j, to + j * stride, c0, w);
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

// One task per group, one pass over the group's samples of x: Z = T·x chunk by chunk in cache, each sample's min and max
// updated by range_run (NaN sticks; a zero extreme becomes +0), Z's rows kept in a per-thread scratch when they fit
// (else computed a second time), the samples' asymmetric parameters (affine_params), then their codes plane segment by
// plane segment with the rows view's RNG index (s·hw + p)·c + ch into the sample's channel-major bytes, transposed into
// rows layout [hw][c].
void quantize_bhq_planes(const float* x, int64_t n, int64_t c, int64_t hw, const int32_t* order, const int32_t* group_sizes,
                         int64_t ngroups, const float* row_scale, int64_t bits, bool stochastic, uint32_t seed, uint32_t stream,
                         float* offset, float* scale, float* inv, int32_t* zero_point, uint8_t* codes) {
  const int64_t d = c * hw;
  if (n <= 0) return;
  int32_t unaligned = 0;
  if (d <= 0) {  // samples without values: the range [0, 0]
    const std::vector<float> zero(static_cast<size_t>(n), 0.0f);
    return affine_params(0, bits, zero.data(), zero.data(), n, offset, scale, inv, zero_point, &unaligned);
  }
  constexpr int64_t kKeptFloats = 1 << 18;  // 1 MiB of Z per thread: a ResNet stage-1 group of up to 20 samples
  const std::vector<int64_t> start = bhq_group_starts(group_sizes, ngroups);
  const GroupFn fn = group_fn();
  const uint32_t key = rng_stream_key(seed, stream);
  const double qmax = std::ldexp(1.0, static_cast<int>(bits)) - 1.0;
  parallel_for(ngroups, [&](int64_t g, int) {
    const int64_t s0 = start[g], size = start[g + 1] - s0;
    const bool keep = size * d <= kKeptFloats;
    thread_local std::vector<float> lo, hi, kept;
    thread_local std::vector<uint8_t> buf;
    lo.assign(static_cast<size_t>(size), std::numeric_limits<float>::infinity());
    hi.assign(static_cast<size_t>(size), -std::numeric_limits<float>::infinity());
    if (keep) kept.resize(static_cast<size_t>(size * d));
    for_group_chunks(x, hw, d, order, s0, size, row_scale, fn,
                     [&](int64_t j, const float* z, int64_t, int64_t w) { range_run(z, w, &lo[j], &hi[j]); },
                     keep ? kept.data() : nullptr);
    std::vector<float> p(static_cast<size_t>(3 * size));
    std::vector<int32_t> zp(static_cast<size_t>(size));
    for (int64_t j = 0; j < size; j++) lo[j] += 0.0f, hi[j] += 0.0f;
    int32_t group_unaligned = 0;
    affine_params(0, bits, lo.data(), hi.data(), size, p.data(), p.data() + size, p.data() + 2 * size, zp.data(), &group_unaligned);
    buf.resize(static_cast<size_t>(size * d));
    const auto quantize = [&](int64_t j, const float* z, int64_t c0, int64_t w) {
      const int64_t s = order[s0 + j];
      const float off = p[j], iv = p[2 * size + j];
      uint8_t* out = buf.data() + j * d;
      if (hw == 1) {  // consecutive channels: indices s·c + ch
        quantize_run(z, w, off, iv, zp[j], 0.0, qmax, stochastic, key, static_cast<uint32_t>(s * c + c0), 1, out + c0);
        return;
      }
      for (int64_t i = c0; i < c0 + w;) {
        const int64_t ch = i / hw, px = i % hw, len = std::min(hw - px, c0 + w - i);
        quantize_run(z + (i - c0), len, off, iv, zp[j], 0.0, qmax, stochastic, key, static_cast<uint32_t>((s * hw + px) * c + ch),
                     static_cast<uint32_t>(c), out + i);
        i += len;
      }
    };
    if (keep) {
      for (int64_t j = 0; j < size; j++) quantize(j, kept.data() + j * d, 0, d);
    } else {
      for_group_chunks(x, hw, d, order, s0, size, row_scale, fn, quantize);
    }
    for (int64_t j = 0; j < size; j++) {
      const int64_t s = order[s0 + j];
      offset[s] = p[j], scale[s] = p[size + j], inv[s] = p[2 * size + j], zero_point[s] = zp[j];
      transpose_bytes_serial(c, hw, buf.data() + j * d, codes + s * d);
    }
  });
}

}  // namespace fqt
