// Element-wise kernels of the fused binary conv (bconv.h): sign + clipped-STE mask bits in one pass over x,
// ±1 values and masked gradients from bits, per (sample, channel) ranges of dY, and the dY code runs shared by the
// backward kernels. Bit-exact twins of src/backend/ref/bconv.ts. AVX2: vcmpps + vmovmskps give 8 bits at once.
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <limits>

#include "bconv.h"
#include "common.h"
#include "rng.h"
#include "thread_pool.h"

namespace fqt {
namespace {

constexpr int64_t kGrain = 1 << 15;

namespace scalar {
// Words [w0, words) of a row: sign bit x ≥ 0, mask bit −1 < x < 1 (false for NaN); returns whether a NaN was seen.
bool signs_clip_row(const float* x, int64_t k, float clip, int64_t w0, uint32_t* signs, uint32_t* mask) {
  bool nan = false;
  for (int64_t w = w0; w < words32(k); w++) {
    uint32_t s = 0, m = 0;
    for (int64_t c = w * 32; c < std::min(k, (w + 1) * 32); c++) {
      const float v = x[c];
      s |= static_cast<uint32_t>(v >= 0.0f) << (c & 31);
      m |= static_cast<uint32_t>(v > -clip && v < clip) << (c & 31);
      nan |= v != v;
    }
    signs[w] = s, mask[w] = m;
  }
  return nan;
}
}  // namespace scalar

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2")
namespace avx2 {
bool signs_clip_row(const float* x, int64_t k, float clip, int64_t, uint32_t* signs, uint32_t* mask) {
  const __m256 zero = _mm256_setzero_ps(), one = _mm256_set1_ps(clip), minus = _mm256_set1_ps(-clip);
  __m256 nan = _mm256_setzero_ps();
  int64_t w = 0;
  for (; (w + 1) * 32 <= k; w++) {
    uint32_t s = 0, m = 0;
    for (int q = 0; q < 4; q++) {
      const __m256 v = _mm256_loadu_ps(x + w * 32 + q * 8);
      s |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_GE_OQ))) << (8 * q);
      const __m256 in = _mm256_and_ps(_mm256_cmp_ps(v, minus, _CMP_GT_OQ), _mm256_cmp_ps(v, one, _CMP_LT_OQ));
      m |= static_cast<uint32_t>(_mm256_movemask_ps(in)) << (8 * q);
      nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    }
    signs[w] = s, mask[w] = m;
  }
  return scalar::signs_clip_row(x, k, clip, w, signs, mask) || _mm256_movemask_ps(nan) != 0;
}
}  // namespace avx2
#pragma GCC pop_options
#endif

}  // namespace

// Runs fn(r, w0, w1) over rows × 32-bit words on the pool, in tasks of whole words (a sample of a big layer is
// one long row, so rows alone would not split the work).
template <class F>
void for_row_words(int64_t rows, int64_t k, F&& fn) {
  const int64_t wd = words32(k), per = std::max<int64_t>(1, kGrain / 32), tasks_per_row = (wd + per - 1) / per;
  parallel_for(rows * tasks_per_row, [&](int64_t t, int) {
    const int64_t r = t / tasks_per_row, w0 = (t % tasks_per_row) * per;
    fn(r, w0, std::min(wd, w0 + per));
  });
}

void pack_signs_clip(int64_t rows, int64_t k, const float* x, float clip, uint32_t* signs, uint32_t* mask, int32_t* nan) {
  *nan = 0;
  if (rows <= 0 || k <= 0) return;
  auto row = &scalar::signs_clip_row;
#if FQT_X86
  if (active_tier() >= Tier::Avx2) row = &avx2::signs_clip_row;
#endif
  const int64_t wd = words32(k);
  std::atomic<int32_t> seen{0};
  for_row_words(rows, k, [&](int64_t r, int64_t w0, int64_t w1) {
    const int64_t c0 = w0 * 32, c1 = std::min(k, w1 * 32);
    if (row(x + r * k + c0, c1 - c0, clip, 0, signs + r * wd + w0, mask + r * wd + w0)) seen.store(1, std::memory_order_relaxed);
  });
  *nan = seen.load();
}

namespace {

// out[r·k + c] = f(bit c of row r, r·k + c) over the words [w0, w1) of row r.
template <class F>
void for_bits(int64_t k, const uint32_t* bits, int64_t r, int64_t w0, int64_t w1, F&& f) {
  const uint32_t* row = bits + r * words32(k);
  for (int64_t w = w0; w < w1; w++) {
    const uint32_t v = row[w];
    const int64_t c1 = std::min(k, (w + 1) * 32);
    for (int64_t c = w * 32; c < c1; c++) f((v >> (c & 31)) & 1u, r * k + c);
  }
}

#if FQT_X86
// Whole 32-bit words of a row (8 lanes per byte of the word: lane l selects bit l); partial words are left to the
// scalar loop. unpack: ±1; mask: g where the bit is set, +0 elsewhere (an AND with the all-ones / zero lane mask).
__attribute__((target("avx2"))) int64_t bits_avx2(int64_t k, const uint32_t* bits, int64_t r, int64_t w0, int64_t w1,
                                                   const float* g, float* out) {
  const uint32_t* row = bits + r * words32(k);
  const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256 plus = _mm256_set1_ps(1.0f), minus = _mm256_set1_ps(-1.0f);
  int64_t w = w0;
  for (; w < w1 && (w + 1) * 32 <= k; w++) {
    const uint32_t v = row[w];
    for (int q = 0; q < 4; q++) {
      const __m256i m = _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32(static_cast<int>((v >> (8 * q)) & 0xff)), sel), sel);
      const int64_t at = r * k + w * 32 + 8 * q;
      const __m256 res = g ? _mm256_and_ps(_mm256_loadu_ps(g + at), _mm256_castsi256_ps(m))
                           : _mm256_blendv_ps(minus, plus, _mm256_castsi256_ps(m));
      _mm256_storeu_ps(out + at, res);
    }
  }
  return w;
}
#endif

// g = null: out = ±1 from the bits; else out = bit ? g : 0.
void expand_bits(int64_t rows, int64_t k, const uint32_t* bits, const float* g, float* out) {
  if (rows <= 0 || k <= 0) return;
  for_row_words(rows, k, [&](int64_t r, int64_t w0, int64_t w1) {
#if FQT_X86
    if (active_tier() >= Tier::Avx2) w0 = bits_avx2(k, bits, r, w0, w1, g, out);
#endif
    if (g) for_bits(k, bits, r, w0, w1, [&](uint32_t b, int64_t i) { out[i] = b ? g[i] : 0.0f; });
    else for_bits(k, bits, r, w0, w1, [&](uint32_t b, int64_t i) { out[i] = b ? 1.0f : -1.0f; });
  });
}

}  // namespace

void unpack_signs(int64_t rows, int64_t k, const uint32_t* signs, float* out) { expand_bits(rows, k, signs, nullptr, out); }

void mask_bits(int64_t rows, int64_t k, const float* g, const uint32_t* mask, float* out) { expand_bits(rows, k, mask, g, out); }

void sample_channel_range(int64_t n, int64_t c, int64_t hw, const float* x, float* mins, float* maxs) {
  constexpr float inf = std::numeric_limits<float>::infinity();
  if (n <= 0 || c <= 0) return;
  parallel_range(n * c, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, hw)), [=](int64_t p0, int64_t p1) {
    for (int64_t pl = p0; pl < p1; pl++) {
      float lo = inf, hi = -inf;
      range_run(x + pl * hw, hw, &lo, &hi);
      mins[pl] = lo, maxs[pl] = hi;
    }
  });
}

std::vector<uint8_t> tap_major_weights(const BGeom& g, const uint32_t* w_signs) {
  const int64_t T = g.taps(), K = g.K(), cbb = (g.c + 7) / 8;
  std::vector<uint8_t> out(static_cast<size_t>(g.oc * T * cbb), 0);
  // 8 channels at a time: their T-bit tap rows, transposed in blocks of 8 taps.
  parallel_range(g.oc, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, K)), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++) {
      const uint32_t* wr = w_signs + o * words32(K);
      for (int64_t cb = 0; cb < cbb; cb++)
        for (int64_t t0 = 0; t0 < T; t0 += 8) {
          const int64_t nt = std::min<int64_t>(8, T - t0);
          uint64_t m = 0;
          for (int64_t k = 0; k < 8 && cb * 8 + k < g.c; k++) m |= bit_field(wr, (cb * 8 + k) * T + t0, nt) << (8 * k);
          const uint64_t tr = transpose8(m);  // byte u: bit k = w[o, cb·8 + k, t0 + u]
          for (int64_t u = 0; u < nt; u++) out[(o * T + t0 + u) * cbb + cb] = static_cast<uint8_t>(tr >> (8 * u));
        }
    }
  });
  return out;
}

DyQuant dy_quant(const int32_t* q, int64_t oc, const float* offset, const float* qscale, const float* inv,
                 const int32_t* zero_point) {
  DyQuant d;
  d.row_div = std::max<int32_t>(1, q[0]);
  d.row_mod = std::max<int32_t>(1, q[1]);
  d.col_div = std::max<int32_t>(1, q[2]);
  d.col_groups = (oc + d.col_div - 1) / d.col_div;
  d.bits = q[3];
  d.stochastic = q[4] != 0;
  d.key = rng_stream_key(static_cast<uint32_t>(q[5]), static_cast<uint32_t>(q[6]));
  d.blocked = q[7] != 0;
  d.offset = offset, d.qscale = qscale, d.inv = inv, d.zero_point = zero_point;
  return d;
}

// Pixels [0, n) of sample s, channel o: GEMM rows r = s·P + p, RNG index r·oc + o. A run is cut where the
// group changes along the pixels (a per-sample group never does).
void DyQuant::codes(const float* v, int64_t n, int64_t s, int64_t o, int64_t P, int64_t oc, uint8_t* out) const {
  const double qmax = static_cast<double>((1 << bits) - 1);
  const int64_t r0 = s * P;
  for (int64_t i = 0; i < n;) {
    const int64_t g = group(r0 + i, o);
    int64_t e = i + 1;
    if (row_div > 1 || row_mod == 1) {
      const int64_t block_end = row_mod == 1 ? n : std::min(n, ((r0 + i) / row_div + 1) * row_div - r0);
      e = std::max(e, block_end);
    }
    quantize_run(v + i, e - i, offset[g], inv[g], zero_point[g], 0.0, qmax, stochastic, key,
                 static_cast<uint32_t>((r0 + i) * oc + o), static_cast<uint32_t>(oc), out + i);
    i = e;
  }
}

}  // namespace fqt
