// Operand packing of the fused integer convolutions (see qconv.h): NHWC codes into the layouts the micro-kernels
// read, shifted into the signed (A) or unsigned (B) byte domain, with the sums the exact epilogue needs. Parallel
// over samples or pixels; every byte is written, so the buffers need no clearing.
#include <algorithm>
#include <cstring>

#include "qconv.h"
#include "thread_pool.h"

#if FQT_X86
#include <immintrin.h>
#endif

namespace fqt {
namespace qconv {

namespace {
// n bytes of NHWC codes, shifted; returns their sum.
inline int32_t shifted_copy(const Operand& src, int64_t at, int64_t n, int shift, uint8_t* dst) {
  int32_t sum = 0;
  if (src.is_signed) {
    const int8_t* s = reinterpret_cast<const int8_t*>(src.codes) + at;
    for (int64_t i = 0; i < n; i++) {
      const int32_t v = s[i] + shift;
      dst[i] = static_cast<uint8_t>(v);
      sum += v;
    }
  } else {
    const uint8_t* s = src.codes + at;
    for (int64_t i = 0; i < n; i++) {
      const int32_t v = s[i] + shift;
      dst[i] = static_cast<uint8_t>(v);
      sum += v;
    }
  }
  return sum;
}

// dst[0, len) = value, 16 bytes a store (a libc memset call per 16-byte pixel cost more than the bytes).
inline void fill_bytes(uint8_t* dst, int64_t len, uint8_t value) {
  int64_t i = 0;
#if FQT_X86
  const __m128i v = _mm_set1_epi8(static_cast<char>(value));
  for (; i + 16 <= len; i += 16) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), v);
#endif
  for (; i < len; i++) dst[i] = value;
}

// Σ of n bytes read as int8: Σ (v ^ 0x80) − 128·n, the biased bytes summed by psadbw (SSE2) 16 at a time.
inline int32_t sum_i8(const uint8_t* v, int64_t n) {
  int32_t sum = 0;
  int64_t c = 0;
#if FQT_X86
  if (n >= 16) {
    const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80)), zero = _mm_setzero_si128();
    __m128i acc = zero;
    for (; c + 16 <= n; c += 16)
      acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(v + c)), bias), zero));
    sum = _mm_cvtsi128_si32(acc) + _mm_cvtsi128_si32(_mm_srli_si128(acc, 8)) - 128 * static_cast<int32_t>(c);
  }
#endif
  for (; c < n; c++) sum += static_cast<int8_t>(v[c]);
  return sum;
}
}  // namespace

void pack_nhwc(const Operand& src, int shift, int64_t n, int64_t rows, int64_t cols, int64_t ch, int64_t ch4, int64_t rp,
               int64_t cp, int64_t top, int64_t left, int8_t* out, int32_t* sums) {
  parallel_for(n, [&](int64_t s, int) {
    const int32_t z = src.zero[src.groups == 1 ? 0 : s] + shift;
    uint8_t* o = reinterpret_cast<uint8_t*>(out) + s * rp * cp * ch4;
    int32_t* sm = sums + s * rp * cp;
    const auto absent = [&](uint8_t* pix, int32_t* sum) {
      fill_bytes(pix, ch, static_cast<uint8_t>(z));
      if (ch4 > ch) fill_bytes(pix + ch, ch4 - ch, 0);
      *sum = z * static_cast<int32_t>(ch);
    };
    for (int64_t py = 0; py < rp; py++) {
      const int64_t y = py - top;
      uint8_t* orow = o + py * cp * ch4;
      int32_t* srow = sm + py * cp;
      if (y < 0 || y >= rows) {
        for (int64_t px = 0; px < cp; px++) absent(orow + px * ch4, srow + px);
        continue;
      }
      const int64_t x0 = std::max<int64_t>(0, left), x1 = std::min<int64_t>(cp, left + cols);
      for (int64_t px = 0; px < x0; px++) absent(orow + px * ch4, srow + px);
      for (int64_t px = x1; px < cp; px++) absent(orow + px * ch4, srow + px);
      const int64_t at = ((s * rows + y) * cols + (x0 - left)) * ch;
      if (ch4 == ch) {
        // The interior of the row is one contiguous run of codes.
        shifted_copy(src, at, (x1 - x0) * ch, shift, orow + x0 * ch);
        // the signed (A) domain: out holds int8 values
        for (int64_t px = x0; px < x1; px++) srow[px] = sum_i8(orow + px * ch, ch);
      } else {
        for (int64_t px = x0; px < x1; px++) {
          uint8_t* pix = orow + px * ch4;
          srow[px] = shifted_copy(src, at + (px - x0) * ch, ch, shift, pix);
          std::memset(pix + ch, 0, static_cast<size_t>(ch4 - ch));
        }
      }
    }
  });
}

namespace {
// Samples s0..s0+3 of one pixel (rows of ch codes at r[0..3]) interleaved into dst[c·4 + i], shifted by ±128 or 0.
void interleave4(const uint8_t* const r[4], int64_t ch, bool flip, uint8_t* dst) {
  int64_t c = 0;
#if FQT_X86
  const __m128i x80 = _mm_set1_epi8(static_cast<char>(flip ? 0x80 : 0));
  for (; c + 16 <= ch; c += 16) {
    const __m128i r0 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[0] + c)), x80);
    const __m128i r1 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[1] + c)), x80);
    const __m128i r2 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[2] + c)), x80);
    const __m128i r3 = _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r[3] + c)), x80);
    const __m128i a0 = _mm_unpacklo_epi8(r0, r1), a1 = _mm_unpackhi_epi8(r0, r1);
    const __m128i b0 = _mm_unpacklo_epi8(r2, r3), b1 = _mm_unpackhi_epi8(r2, r3);
    __m128i* d = reinterpret_cast<__m128i*>(dst + 4 * c);
    _mm_storeu_si128(d, _mm_unpacklo_epi16(a0, b0));
    _mm_storeu_si128(d + 1, _mm_unpackhi_epi16(a0, b0));
    _mm_storeu_si128(d + 2, _mm_unpacklo_epi16(a1, b1));
    _mm_storeu_si128(d + 3, _mm_unpackhi_epi16(a1, b1));
  }
#endif
  const uint8_t x = flip ? 0x80 : 0;
  for (; c < ch; c++)
    for (int i = 0; i < 4; i++) dst[4 * c + i] = r[i][c] ^ x;
}
}  // namespace

namespace {
// Σ over `real` rows of ch codes, each shifted (x = 0x80: ±128) and read signed or unsigned, into acc[ch].
void add_rows(const uint8_t* const* rows, int real, int64_t ch, uint8_t x, bool as_signed, int32_t* __restrict acc) {
  for (int i = 0; i < real; i++) {
    const uint8_t* __restrict v = rows[i];
    if (as_signed)
      for (int64_t c = 0; c < ch; c++) acc[c] += static_cast<int8_t>(v[c] ^ x);
    else
      for (int64_t c = 0; c < ch; c++) acc[c] += static_cast<uint8_t>(v[c] ^ x);
  }
}

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vnni")
// The whole quads of one pixel when ch is a multiple of 16, 16 channels of 4 samples per zmm: one dword permute
// (sample-major words → channel-group lanes), one byte shuffle within lanes (→ channel-major, sample-minor), and
// the per-channel sums of the 4 shifted samples as one vpdpbusd against bytes of 1 (signed or unsigned reading).
// Returns the quads it packed (the others, a partial last quad, go through the portable loop).
int64_t pack_pixel_vnni(const Operand& src, int64_t p, int64_t n, int64_t pixels, int64_t ch, int64_t chl, bool flip, bool as_signed,
                        uint8_t* o, int32_t* sm) {
  if (ch % 16 != 0 || chl != ch) return 0;
  const __m512i perm = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
  const __m512i shuf = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15));
  const __m512i x80 = _mm512_set1_epi8(static_cast<char>(flip ? 0x80 : 0)), ones = _mm512_set1_epi8(1);
  const int64_t whole = n / 4, stride = pixels * ch;
  for (int64_t c0 = 0; c0 < ch; c0 += 16) {
    __m512i sum = _mm512_setzero_si512();
    const uint8_t* r = src.codes + p * ch + c0;
    for (int64_t q = 0; q < whole; q++, r += 4 * stride) {
      __m512i v = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r)));
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + stride)), 1);
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 2 * stride)), 2);
      v = _mm512_inserti32x4(v, _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + 3 * stride)), 3);
      v = _mm512_xor_si512(_mm512_shuffle_epi8(_mm512_permutexvar_epi32(perm, v), shuf), x80);
      _mm512_storeu_si512(o + q * chl * 4 + 4 * c0, v);
      sum = as_signed ? _mm512_dpbusd_epi32(sum, ones, v) : _mm512_dpbusd_epi32(sum, v, ones);
    }
    _mm512_storeu_si512(sm + c0, _mm512_add_epi32(_mm512_loadu_si512(sm + c0), sum));
  }
  return whole;
}
#pragma GCC pop_options
#endif

// One pixel's sample quads (see pack_quads).
void pack_pixel(const Operand& src, int64_t p, int64_t n, int64_t pixels, int64_t ch, int64_t nq, int64_t chl, bool flip, bool as_signed,
                bool vnni, uint8_t* o, int32_t* sm) {
  std::fill(sm, sm + chl, 0);
  const uint8_t x = flip ? 0x80 : 0;
  int64_t q0 = 0;
#if FQT_X86
  if (vnni) q0 = pack_pixel_vnni(src, p, n, pixels, ch, chl, flip, as_signed, o, sm);
#endif
  (void)vnni;
  for (int64_t q = q0; q < nq; q++) {
    const uint8_t* rows[4];
    int real = 0;
    for (int i = 0; i < 4; i++) {
      const int64_t s = 4 * q + i;
      rows[i] = s < n ? src.codes + (s * pixels + p) * ch : nullptr;
      real += s < n;
    }
    uint8_t* dst = o + q * chl * 4;
    if (real == 4) {
      interleave4(rows, ch, flip, dst);
    } else {  // the last, partial quad: absent samples are 0 in the packed domain
      for (int64_t c = 0; c < ch; c++)
        for (int i = 0; i < 4; i++) dst[4 * c + i] = rows[i] ? static_cast<uint8_t>(rows[i][c] ^ x) : 0;
    }
    if (chl > ch) std::memset(dst + 4 * ch, 0, static_cast<size_t>(4 * (chl - ch)));
    add_rows(rows, real, ch, x, as_signed, sm);
  }
}
}  // namespace

void pack_quads(const Operand& src, int shift, int64_t n, int64_t pixels, int64_t ch, int64_t n4, int64_t chl, uint8_t* out,
                int32_t* sums) {
  // ±128 is a flip of the top bit in 8-bit two's complement; the shifted value as the target domain reads it:
  // signed for the A domain (shift −128 or 0 on unsigned / signed codes), unsigned for B (0 or +128).
  const bool flip = shift != 0, asSigned = (shift == -128) || (shift == 0 && src.is_signed);
  const int64_t nq = n4 / 4;
#if FQT_X86
  const bool vnni = active_tier() >= Tier::Avx512 && cpu().avx512vnni;
#else
  const bool vnni = false;
#endif
  parallel_range(pixels, 16, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++)
      pack_pixel(src, p, n, pixels, ch, nq, chl, flip, asSigned, vnni, out + p * nq * chl * 4, sums + p * chl);
  });
}

}  // namespace qconv
}  // namespace fqt
