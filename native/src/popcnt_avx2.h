// Per-64-bit-lane popcount on AVX2 (no VPOPCNTQ): nibble lookup with vpshufb, bytes summed per lane by vpsadbw.
// Shared by the tiled bit GEMM (gemm_b1.cc) and the lane GEMM (gemm_b1_lanes.cc).
#pragma once
#include <immintrin.h>

namespace fqt {

__attribute__((target("avx2"))) inline __m256i popcount_epi64_avx2(__m256i x) {
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  const __m256i cnt = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(x, low)),
                                      _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low)));
  return _mm256_sad_epu8(cnt, _mm256_setzero_si256());
}

}  // namespace fqt
