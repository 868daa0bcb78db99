// Operand packing of the fused integer convolutions (see qconv.h): NHWC codes into the layouts the micro-kernels
// read, shifted into the signed (A) or unsigned (B) byte domain, with the sums the exact epilogue needs. Parallel
// over samples or pixels; every byte is written, so the buffers need no clearing.
#include <algorithm>
#include <cstring>

#include "qconv.h"
#include "thread_pool.h"

#if FQT_X86
#include <emmintrin.h>
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
}  // namespace

void pack_nhwc(const Operand& src, int shift, int64_t n, int64_t rows, int64_t cols, int64_t ch, int64_t ch4, int64_t rp,
               int64_t cp, int64_t top, int64_t left, int8_t* out, int32_t* sums) {
  parallel_for(n, [&](int64_t s, int) {
    const int32_t z = src.zero[src.groups == 1 ? 0 : s] + shift;
    uint8_t* o = reinterpret_cast<uint8_t*>(out) + s * rp * cp * ch4;
    int32_t* sm = sums + s * rp * cp;
    const auto absent = [&](uint8_t* pix, int32_t* sum) {
      std::memset(pix, z, static_cast<size_t>(ch));
      if (ch4 > ch) std::memset(pix + ch, 0, static_cast<size_t>(ch4 - ch));
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
        for (int64_t px = x0; px < x1; px++) {
          const int8_t* v = reinterpret_cast<const int8_t*>(orow + px * ch);
          int32_t sum = 0;
          for (int64_t c = 0; c < ch; c++) sum += v[c];  // the signed (A) domain: out holds int8 values
          srow[px] = sum;
        }
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

// One pixel's sample quads (see pack_quads).
void pack_pixel(const Operand& src, int64_t p, int64_t n, int64_t pixels, int64_t ch, int64_t nq, int64_t chl, bool flip, bool as_signed,
                uint8_t* o, int32_t* sm) {
  std::fill(sm, sm + chl, 0);
  const uint8_t x = flip ? 0x80 : 0;
  for (int64_t q = 0; q < nq; q++) {
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
  parallel_range(pixels, 16, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) pack_pixel(src, p, n, pixels, ch, nq, chl, flip, asSigned, out + p * nq * chl * 4, sums + p * chl);
  });
}

}  // namespace qconv
}  // namespace fqt
