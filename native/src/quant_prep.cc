// GEMM operand preparation from quantized codes; bit-exact twins of src/backend/ref/quant.ts (codesToI8,
// codeBlockSums, packNibbles, unpackNibbles).
#include <immintrin.h>

#include <algorithm>

#include "common.h"
#include "quant_groups.h"
#include "thread_pool.h"

namespace fqt {
namespace {

constexpr int64_t kGrain = 1 << 15;

// v = code − shift stored into an Int8Array keeps v mod 256, which depends only on the low byte of the
// code: signed and unsigned codes are the same bytes here, and byte arithmetic mod 256 is exact.
inline void shift_seg(const uint8_t* __restrict c, int64_t n, uint8_t sh, uint8_t* __restrict o) {
  for (int64_t i = 0; i < n; i++) o[i] = static_cast<uint8_t>(c[i] - sh);
}

int64_t sum_i8_scalar(const int8_t* a, int64_t n) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i];
  return s;
}

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2")
// Σ a = Σ (a + 128) − 128·n, the biased bytes summed by vpsadbw into 64-bit lanes.
int64_t sum_i8_avx2(const int8_t* a, int64_t n) {
  const __m256i bias = _mm256_set1_epi8(static_cast<char>(0x80)), zero = _mm256_setzero_si256();
  __m256i acc = zero;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i v = _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)), bias);
    acc = _mm256_add_epi64(acc, _mm256_sad_epu8(v, zero));
  }
  alignas(32) int64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] - 128 * i + sum_i8_scalar(a + i, n - i);
}
#pragma GCC pop_options
#endif

}  // namespace

void codes_to_i8(const uint8_t* codes, int64_t rows, int64_t cols, int64_t row_div, int64_t row_mod, int64_t col_div,
                 const int32_t* shift, bool transpose, int8_t* out_i8) {
  const QuantGroups G(rows, cols, row_div, row_mod, col_div);
  if (G.empty()) return;
  uint8_t* out = reinterpret_cast<uint8_t*>(out_i8);
  if (!transpose) {
    const int64_t per = G.rows_per_task(kGrain);
    parallel_for((rows + per - 1) / per, [=, &G](int64_t t, int) {
      G.for_runs(t * per, std::min(rows, (t + 1) * per), [&](int64_t o, int64_t len, int64_t g) {
        shift_seg(codes + o, len, static_cast<uint8_t>(shift[g]), out + o);
      });
    });
    return;
  }
  // out[c·rows + r]: 64 × 64 tiles; each tile row is shifted into a local buffer (contiguous byte
  // arithmetic), then the buffer is written out column by column.
  constexpr int64_t T = 64;
  const int64_t tr = (rows + T - 1) / T, tc = (cols + T - 1) / T;
  parallel_for(tr * tc, [=, &G](int64_t t, int) {
    const int64_t r0 = (t / tc) * T, c0 = (t % tc) * T, h = std::min(rows, r0 + T) - r0, w = std::min(cols, c0 + T) - c0;
    alignas(64) uint8_t buf[T * T];
    uint8_t sh[T];
    int64_t cg[T];
    if (G.col_groups > 1)
      for (int64_t j = 0; j < w; j++) cg[j] = (c0 + j) / col_div;
    for (int64_t i = 0; i < h; i++) {
      const int64_t b = G.base(r0 + i);
      if (G.col_groups == 1) {
        shift_seg(codes + (r0 + i) * cols + c0, w, static_cast<uint8_t>(shift[b]), buf + i * T);
      } else {
        for (int64_t j = 0; j < w; j++) sh[j] = static_cast<uint8_t>(shift[b + cg[j]]);
        const uint8_t* __restrict src = codes + (r0 + i) * cols + c0;
        uint8_t* __restrict dst = buf + i * T;
        for (int64_t j = 0; j < w; j++) dst[j] = static_cast<uint8_t>(src[j] - sh[j]);
      }
    }
    for (int64_t j = 0; j < w; j++) {
      uint8_t* __restrict o = out + (c0 + j) * rows + r0;
      for (int64_t i = 0; i < h; i++) o[i] = buf[i * T + j];
    }
  });
}

void code_block_sums(int64_t m, int64_t k, int64_t kblock, const int8_t* a, int32_t* out) {
  if (m <= 0 || k <= 0 || kblock <= 0) return;
  const int64_t nkb = (k + kblock - 1) / kblock;
  int64_t (*sum)(const int8_t*, int64_t) = &sum_i8_scalar;
#if FQT_X86
  if (active_tier() >= Tier::Avx2) sum = &sum_i8_avx2;
#endif
  parallel_range(m, std::max<int64_t>(1, kGrain / k), [=](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++)
      for (int64_t kb = 0; kb < nkb; kb++) {
        const int64_t p = kb * kblock;
        out[i * nkb + kb] = static_cast<int32_t>(sum(a + i * k + p, std::min(k, p + kblock) - p));
      }
  });
}

// Two 4-bit codes per byte (quant-kernels.ts packNibbles / unpackNibbles); plain loops the compiler vectorises.
void pack_nibbles(const uint8_t* codes, int64_t n, uint8_t* out) {
  const int64_t bytes = (n + 1) / 2;
  parallel_range(bytes, kGrain, [=](int64_t lo, int64_t hi) {
    const int64_t full = std::min(hi, n / 2);
    int64_t i = lo;
#if FQT_X86
    // 32 codes → 16 bytes: each 16-bit lane (odd code << 8 | even code) becomes one byte.
    const __m128i m15 = _mm_set1_epi16(0x000f), mf0 = _mm_set1_epi16(0x00f0);
    const auto pack8 = [&](__m128i v) { return _mm_or_si128(_mm_and_si128(v, m15), _mm_and_si128(_mm_srli_epi16(v, 4), mf0)); };
    for (; i + 16 <= full; i += 16) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 2 * i));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + 2 * i + 16));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(pack8(a), pack8(b)));
    }
#endif
    for (; i < full; i++) out[i] = static_cast<uint8_t>((codes[2 * i] & 15) | ((codes[2 * i + 1] & 15) << 4));
    if (hi > full && full >= lo) out[full] = codes[2 * full] & 15;  // the odd last code
  });
}

// Branch-free over the full bytes (signed: (c ^ 8) − 8 sign-extends a 4-bit code), so the loops vectorise.
void unpack_nibbles(const uint8_t* packed, int64_t n, bool is_signed, uint8_t* out) {
  const uint8_t flip = is_signed ? 8 : 0;
  parallel_range((n + 1) / 2, kGrain, [=](int64_t lo, int64_t hi) {
    const int64_t full = std::min(hi, n / 2);
    int64_t i = lo;
#if FQT_X86
    // 16 bytes → 32 codes: low nibbles to even positions, high to odd (explicit: out may alias packed for the compiler).
    const __m128i m15 = _mm_set1_epi8(15), f = _mm_set1_epi8(static_cast<char>(flip));
    for (; i + 16 <= full; i += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(packed + i));
      const __m128i l4 = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(v, m15), f), f);
      const __m128i h4 = _mm_sub_epi8(_mm_xor_si128(_mm_and_si128(_mm_srli_epi16(v, 4), m15), f), f);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), _mm_unpacklo_epi8(l4, h4));
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i + 16), _mm_unpackhi_epi8(l4, h4));
    }
#endif
    for (; i < full; i++) {
      out[2 * i] = static_cast<uint8_t>(((packed[i] & 15) ^ flip) - flip);
      out[2 * i + 1] = static_cast<uint8_t>(((packed[i] >> 4) ^ flip) - flip);
    }
    if (hi > full && full >= lo) out[2 * full] = static_cast<uint8_t>(((packed[full] & 15) ^ flip) - flip);  // the odd last code
  });
}

}  // namespace fqt
