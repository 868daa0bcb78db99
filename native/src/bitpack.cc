// Bit packing for the binary and bit-plane GEMMs (src/backend/int-kernels.ts, METHODS §3.6): packSigns
// (bit = x ≥ 0, NaN → 0, rows padded with zero bits to 32-bit words) and packPlanes (bit j of each
// unsigned code into plane j). Bit-exact twins of ref/gemm.ts. AVX2: vcmpps + vmovmskps gives the sign
// bits of 8 floats; a byte shift + vpmovmskb gives bit j of 32 codes, i.e. one whole plane word.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common.h"
#include "thread_pool.h"

namespace fqt {
namespace {

constexpr int64_t kGrain = 1 << 15;

namespace scalar {
void signs_row(const float* x, int64_t k, uint32_t* out) {
  const int64_t words = (k + 31) / 32;
  std::fill(out, out + words, 0u);
  for (int64_t c = 0; c < k; c++)
    if (x[c] >= 0.0f) out[c >> 5] |= 1u << (c & 31);
}
// Plane j of the row goes to out[j·stride + w].
void planes_row(const uint8_t* q, int64_t k, int bits, int64_t stride, uint32_t* out, const uint8_t*) {
  const int64_t words = (k + 31) / 32;
  for (int j = 0; j < bits; j++) std::fill(out + j * stride, out + j * stride + words, 0u);
  for (int64_t c = 0; c < k; c++)
    for (int j = 0; j < std::min(bits, 8); j++)  // codes are bytes: planes 8… stay zero
      if ((q[c] >> j) & 1) out[j * stride + (c >> 5)] |= 1u << (c & 31);
}
}  // namespace scalar

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2")
namespace avx2 {
void signs_row(const float* x, int64_t k, uint32_t* out) {
  const __m256 zero = _mm256_setzero_ps();
  int64_t w = 0;
  for (; (w + 1) * 32 <= k; w++) {
    uint32_t v = 0;
    for (int q = 0; q < 4; q++)  // _CMP_GE_OQ: false for NaN, true for −0
      v |= static_cast<uint32_t>(_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(x + w * 32 + q * 8), zero, _CMP_GE_OQ)))
           << (8 * q);
    out[w] = v;
  }
  if (w * 32 < k) scalar::signs_row(x + w * 32, k - w * 32, out + w);
}
// `end` bounds the codes buffer: a partial last word reads 32 bytes and masks the codes past k when that
// stays inside the buffer (rows of a small k are read as one vector each), else copies them.
void planes_row(const uint8_t* q, int64_t k, int bits, int64_t stride, uint32_t* out, const uint8_t* end) {
  const int64_t words = (k + 31) / 32;
  for (int64_t w = 0; w < words; w++) {
    const uint8_t* src = q + w * 32;
    __m256i v;
    const int64_t rem = k - w * 32;
    if (rem >= 32) {
      v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
    } else if (src + 32 <= end) {  // codes past k give zero bits
      const __m256i lane = _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
                                            22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
      const __m256i keep = _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(rem)), lane);
      v = _mm256_and_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), keep);
    } else {
      alignas(32) uint8_t tail[32] = {};
      std::memcpy(tail, src, static_cast<size_t>(rem));
      v = _mm256_load_si256(reinterpret_cast<const __m256i*>(tail));
    }
    // Shifting 16-bit lanes left by 7 − j moves bit j of every byte to its bit 7 (shift < 8 keeps the
    // low byte's bits out of the high byte's top bit).
    for (int j = 0; j < bits; j++)
      out[j * stride + w] = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_sll_epi16(v, _mm_cvtsi32_si128(7 - j))));
  }
}
}  // namespace avx2
#pragma GCC pop_options
#endif

}  // namespace

void pack_signs(int64_t rows, int64_t k, const float* x, uint32_t* out) {
  if (rows <= 0 || k <= 0) return;
  auto row = &scalar::signs_row;
#if FQT_X86
  if (active_tier() >= Tier::Avx2) row = &avx2::signs_row;
#endif
  const int64_t words = (k + 31) / 32;
  parallel_range(rows, std::max<int64_t>(1, kGrain / k), [=](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) row(x + r * k, k, out + r * words);
  });
}

void sign_codes(int64_t n, const float* x, uint8_t* codes, int32_t* nan) {
  *nan = 0;
  if (n <= 0) return;
  const int64_t tasks = (n + kGrain - 1) / kGrain;
  std::vector<uint8_t> seen(static_cast<size_t>(tasks), 0);
  parallel_for(tasks, [&](int64_t t, int) {
    const float* __restrict xs = x;
    uint8_t* __restrict c = codes;
    uint8_t any = 0;
    for (int64_t i = t * kGrain, e = std::min(n, (t + 1) * kGrain); i < e; i++) {
      c[i] = xs[i] >= 0.0f ? 1 : 0;  // false for NaN
      any |= xs[i] != xs[i];
    }
    seen[t] = any;
  });
  for (const uint8_t s : seen) *nan |= s;
}

void pack_planes(int64_t rows, int64_t k, int64_t bits, const uint8_t* codes, uint32_t* out) {
  if (rows <= 0 || k <= 0 || bits <= 0) return;
  auto row = &scalar::planes_row;
#if FQT_X86
  if (active_tier() >= Tier::Avx2 && bits <= 8) row = &avx2::planes_row;
#endif
  const int64_t words = (k + 31) / 32, stride = rows * words;
  const uint8_t* end = codes + rows * k;
  parallel_range(rows, std::max<int64_t>(1, kGrain / k), [=](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; r++) row(codes + r * k, k, static_cast<int>(bits), stride, out + r * words, end);
  });
}

}  // namespace fqt
