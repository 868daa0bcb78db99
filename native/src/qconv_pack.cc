// Operand packing of the fused integer convolutions (see qconv.h): NHWC codes into the layouts the micro-kernels
// read, shifted into the signed (A) or unsigned (B) byte domain, with the sums the exact epilogue needs. Parallel
// over samples or pixels; every byte is written, so the buffers need no clearing.
#include <algorithm>
#include <cstring>

#include "qconv.h"
#include "thread_pool.h"

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
    for (int64_t py = 0; py < rp; py++) {
      const int64_t y = py - top;
      for (int64_t px = 0; px < cp; px++) {
        const int64_t x = px - left;
        uint8_t* pix = o + (py * cp + px) * ch4;
        if (y < 0 || y >= rows || x < 0 || x >= cols) {
          std::memset(pix, z, static_cast<size_t>(ch));
          sm[py * cp + px] = z * static_cast<int32_t>(ch);
        } else {
          sm[py * cp + px] = shifted_copy(src, ((s * rows + y) * cols + x) * ch, ch, shift, pix);
        }
        if (ch4 > ch) std::memset(pix + ch, 0, static_cast<size_t>(ch4 - ch));
      }
    }
  });
}

void pack_quads(const Operand& src, int shift, int64_t n, int64_t pixels, int64_t ch, int64_t n4, int64_t chl, uint8_t* out,
                int32_t* sums) {
  const int64_t nq = n4 / 4;
  parallel_range(pixels, 16, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      uint8_t* o = out + p * nq * chl * 4;
      int32_t* sm = sums + p * chl;
      std::memset(o, 0, static_cast<size_t>(nq * chl * 4));
      std::fill(sm, sm + chl, 0);
      for (int64_t s = 0; s < n; s++) {
        uint8_t* dst = o + (s / 4) * chl * 4 + (s & 3);
        const int64_t at = (s * pixels + p) * ch;
        if (src.is_signed) {
          const int8_t* v = reinterpret_cast<const int8_t*>(src.codes) + at;
          for (int64_t c = 0; c < ch; c++) {
            const int32_t b = v[c] + shift;
            dst[4 * c] = static_cast<uint8_t>(b);
            sm[c] += b;
          }
        } else {
          const uint8_t* v = src.codes + at;
          for (int64_t c = 0; c < ch; c++) {
            const int32_t b = v[c] + shift;
            dst[4 * c] = static_cast<uint8_t>(b);
            sm[c] += b;
          }
        }
      }
    }
  });
}

}  // namespace qconv
}  // namespace fqt
