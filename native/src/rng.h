// Counter-based random numbers, bit-identical to src/tensor/random.ts:
//   bits(seed, stream, index) = fmix(fmix(fmix(seed ^ 0x243F6A88) ^ stream) ^ index)
//   fmix(h) = murmur3 fmix32 of (h + 0x9E3779B9) mod 2^32 ; uniform = (bits >> 8) · 2^-24
#pragma once
#include <cstdint>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace fqt {

static inline uint32_t rng_fmix(uint32_t h) {
  h += 0x9e3779b9u;
  h ^= h >> 16;
  h *= 0x85ebca6bu;
  h ^= h >> 13;
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return h;
}
static inline uint32_t rng_stream_key(uint32_t seed, uint32_t stream) {
  return rng_fmix(rng_fmix(seed ^ 0x243f6a88u) ^ stream);
}
static inline float rng_uniform_at(uint32_t key, uint32_t index) {
  return static_cast<float>(rng_fmix(key ^ index) >> 8) * 5.9604644775390625e-8f;
}

#if defined(__x86_64__) || defined(__i386__)
// rng_fmix on 8 / 16 lanes, for the quantizers' stochastic rounding (compiled for the caller's tier: inlined into
// functions whose target includes AVX2 / AVX-512F).
__attribute__((target("avx2"))) inline __m256i rng_fmix8(__m256i h) {
  h = _mm256_add_epi32(h, _mm256_set1_epi32(static_cast<int>(0x9e3779b9u)));
  h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
  h = _mm256_mullo_epi32(h, _mm256_set1_epi32(static_cast<int>(0x85ebca6bu)));
  h = _mm256_xor_si256(h, _mm256_srli_epi32(h, 13));
  h = _mm256_mullo_epi32(h, _mm256_set1_epi32(static_cast<int>(0xc2b2ae35u)));
  return _mm256_xor_si256(h, _mm256_srli_epi32(h, 16));
}
__attribute__((target("avx512f"))) inline __m512i rng_fmix16(__m512i h) {
  h = _mm512_add_epi32(h, _mm512_set1_epi32(static_cast<int>(0x9e3779b9u)));
  h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
  h = _mm512_mullo_epi32(h, _mm512_set1_epi32(static_cast<int>(0x85ebca6bu)));
  h = _mm512_xor_si512(h, _mm512_srli_epi32(h, 13));
  h = _mm512_mullo_epi32(h, _mm512_set1_epi32(static_cast<int>(0xc2b2ae35u)));
  return _mm512_xor_si512(h, _mm512_srli_epi32(h, 16));
}
#endif

}  // namespace fqt
