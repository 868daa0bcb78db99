// Counter-based random numbers, bit-identical to src/tensor/random.ts:
//   bits(seed, stream, index) = fmix(fmix(fmix(seed ^ 0x243F6A88) ^ stream) ^ index)
//   fmix(h) = murmur3 fmix32 of (h + 0x9E3779B9) mod 2^32 ; uniform = (bits >> 8) · 2^-24
#pragma once
#include <cstdint>

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

}  // namespace fqt
