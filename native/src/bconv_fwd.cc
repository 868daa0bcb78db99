// Binary conv forward and the output-scale gradient (bconv.h): per chunk of samples, the sign bits of X are laid
// out as a zero-bordered channel-packed image (pixel = C bits rounded up to whole bytes), each output pixel's row
// is kh segments of kw consecutive pixels (kw·C contiguous bits, one to a few 64-bit words), and gemm_b1 runs
// the chunk's rows against W's rows in the same order. gemm_b1 counts a padding tap as x = −1 (its bits are 0); a
// per-(pixel, channel) table adds back Σ_ch w± of the padded taps, so padding contributes exactly 0.
#include <algorithm>
#include <vector>

#include "bconv.h"
#include "common.h"
#include "thread_pool.h"

namespace fqt {
namespace {

// 8×8 bit transpose (Hacker's Delight, transpose8rS64): byte t, bit k in → byte k, bit t out.
inline uint64_t transpose8(uint64_t x) {
  uint64_t t;
  t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
  x = x ^ t ^ (t << 7);
  t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
  x = x ^ t ^ (t << 14);
  t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
  return x ^ t ^ (t << 28);
}

// The forward layout of one geometry: the padded channel-packed image and the rows gemm_b1 reads.
struct FwdLayout {
  int64_t cbb;        // bytes per pixel (C bits rounded up to bytes)
  int64_t hp, wp;     // padded image size in pixels
  int64_t img_bytes;  // one image, plus slack for the last segment's 64-bit loads
  int64_t seg_bits, sw;  // a kernel row: kw pixels = seg_bits bits in sw 64-bit words
  int64_t kbits;      // K' = kh·sw·64 bits per GEMM row
  uint64_t last_mask;
  explicit FwdLayout(const BGeom& g)
      : cbb((g.c + 7) / 8), hp(g.h + 2 * g.pad), wp(g.w + 2 * g.pad), img_bytes(hp * wp * cbb + 16),
        seg_bits(g.kw * cbb * 8), sw((seg_bits + 63) / 64), kbits(g.kh * sw * 64),
        last_mask(low_mask(seg_bits - 64 * (sw - 1))) {}
  int64_t row_words64() const { return kbits / 64; }
};

// Sample s's sign bits (packSigns layout, row s of c·h·w bits) as the padded channel-packed image: blocks of 8
// channels × 8 consecutive pixels are one 8×8 bit transpose.
void build_image(const BGeom& g, const FwdLayout& L, const uint32_t* x_signs, int64_t s, uint8_t* img) {
  std::memset(img, 0, static_cast<size_t>(L.img_bytes));
  const uint32_t* row = x_signs + s * words32(g.chw());
  const int64_t hw = g.hw();
  for (int64_t cb = 0; cb < L.cbb; cb++) {
    for (int64_t p0 = 0; p0 < hw; p0 += 8) {
      uint64_t m = 0;
      const int64_t len = std::min<int64_t>(8, hw - p0);
      for (int64_t t = 0; t < 8 && cb * 8 + t < g.c; t++) m |= bit_field(row, (cb * 8 + t) * hw + p0, len) << (8 * t);
      const uint64_t tr = transpose8(m);
      for (int64_t k = 0; k < 8 && p0 + k < hw; k++) {
        const int64_t y = (p0 + k) / g.w, x = (p0 + k) % g.w;
        img[((y + g.pad) * L.wp + x + g.pad) * L.cbb + cb] = static_cast<uint8_t>(tr >> (8 * k));
      }
    }
  }
}

// GEMM row of output pixel (oy, ox): kernel row i is the kw pixels from (oy·s + i, ox·s) of the padded image.
inline void image_row(const BGeom& g, const FwdLayout& L, const uint8_t* img, int64_t oy, int64_t ox, uint64_t* out) {
  for (int64_t i = 0; i < g.kh; i++) {
    const uint8_t* p = img + ((oy * g.stride + i) * L.wp + ox * g.stride) * L.cbb;
    for (int64_t w = 0; w < L.sw; w++) {
      uint64_t v;
      std::memcpy(&v, p + 8 * w, 8);
      out[i * L.sw + w] = w + 1 == L.sw ? v & L.last_mask : v;
    }
  }
}

// W's rows in the image-row order: bit j·C8 + ch of segment i is the sign of w[o, ch, i, j].
std::vector<uint64_t> weight_rows(const BGeom& g, const FwdLayout& L, const uint32_t* w_signs) {
  std::vector<uint64_t> rows(static_cast<size_t>(g.oc * L.row_words64()), 0);
  const int64_t K = g.K();
  for (int64_t o = 0; o < g.oc; o++) {
    const uint32_t* wr = w_signs + o * words32(K);
    for (int64_t ch = 0; ch < g.c; ch++)
      for (int64_t i = 0; i < g.kh; i++)
        for (int64_t j = 0; j < g.kw; j++) {
          if (!bit_at(wr, (ch * g.kh + i) * g.kw + j)) continue;
          const int64_t b = j * L.cbb * 8 + ch;
          rows[o * L.row_words64() + i * L.sw + (b >> 6)] |= 1ull << (b & 63);
        }
  }
  return rows;
}

// corr[p·oc + o] = Σ over the padded taps of output pixel p of Σ_ch w±[o, ch, tap] (0 for interior pixels).
std::vector<int32_t> padding_correction(const BGeom& g, const uint32_t* w_signs) {
  std::vector<int32_t> corr(static_cast<size_t>(g.P() * g.oc), 0);
  if (g.pad == 0) return corr;
  const int64_t K = g.K(), T = g.taps();
  std::vector<int32_t> tapsum(static_cast<size_t>(g.oc * T), 0);
  for (int64_t o = 0; o < g.oc; o++)
    for (int64_t ch = 0; ch < g.c; ch++)
      for (int64_t t = 0; t < T; t++) tapsum[o * T + t] += bit_at(w_signs + o * words32(K), ch * T + t) ? 1 : -1;
  for (int64_t oy = 0; oy < g.oh; oy++)
    for (int64_t ox = 0; ox < g.ow; ox++)
      for (int64_t i = 0; i < g.kh; i++)
        for (int64_t j = 0; j < g.kw; j++) {
          const int64_t y = oy * g.stride - g.pad + i, x = ox * g.stride - g.pad + j;
          if (y >= 0 && y < g.h && x >= 0 && x < g.w) continue;
          for (int64_t o = 0; o < g.oc; o++) corr[(oy * g.ow + ox) * g.oc + o] += tapsum[o * T + i * g.kw + j];
        }
  return corr;
}

// z of every output of the batch, chunk by chunk: epi(s, z) gets sample s's z as [P, oc] int32 rows (exact).
template <class Epi>
void forward_z(const BGeom& g, const uint32_t* x_signs, const uint32_t* w_signs, Epi&& epi) {
  if (g.n <= 0 || g.oc <= 0 || g.P() <= 0) return;
  const FwdLayout L(g);
  const std::vector<uint64_t> wrows = weight_rows(g, L, w_signs);
  const std::vector<int32_t> corr = padding_correction(g, w_signs);
  const int64_t P = g.P(), rw = L.row_words64();
  const int32_t kfix = static_cast<int32_t>(L.kbits - g.K());  // the zero bits past C and past kw·C count as +1
  const int64_t per_sample = P * std::max<int64_t>(rw * 8, g.oc * 4);
  const int64_t S = std::max<int64_t>(1, std::min<int64_t>(g.n, (8 << 20) / per_sample));
  const auto rows = uninit_array<uint64_t>(S * P * rw);
  const auto z = uninit_array<int32_t>(S * P * g.oc);
  for (int64_t s0 = 0; s0 < g.n; s0 += S) {
    const int64_t ns = std::min(S, g.n - s0);
    parallel_for(ns, [&](int64_t t, int) {
      const auto img = uninit_array<uint8_t>(L.img_bytes);
      build_image(g, L, x_signs, s0 + t, img.get());
      for (int64_t p = 0; p < P; p++) image_row(g, L, img.get(), p / g.ow, p % g.ow, rows.get() + (t * P + p) * rw);
    });
    gemm_b1(ns * P, g.oc, L.kbits, reinterpret_cast<const uint32_t*>(rows.get()),
            reinterpret_cast<const uint32_t*>(wrows.data()), z.get());
    parallel_for(ns, [&](int64_t t, int) {
      int32_t* zs = z.get() + t * P * g.oc;
      for (int64_t i = 0; i < P * g.oc; i++) zs[i] = zs[i] - kfix + corr[i];
      epi(s0 + t, zs);
    });
  }
}

}  // namespace

void binary_conv_forward(const BGeom& g, const uint32_t* x_signs, const uint32_t* w_signs, const float* scale, float* y) {
  const int64_t P = g.P();
  forward_z(g, x_signs, w_signs, [&](int64_t s, const int32_t* z) {
    for (int64_t o = 0; o < g.oc; o++) {
      float* yo = y + (s * g.oc + o) * P;
      if (scale) {
        const double a = scale[o];
        for (int64_t p = 0; p < P; p++) yo[p] = static_cast<float>(a * z[p * g.oc + o]);
      } else {
        for (int64_t p = 0; p < P; p++) yo[p] = static_cast<float>(z[p * g.oc + o]);
      }
    }
  });
}

void binary_conv_scale_grad(const BGeom& g, const uint32_t* x_signs, const uint32_t* w_signs, const float* dy, float* da) {
  const int64_t P = g.P();
  std::vector<double> part(static_cast<size_t>(std::max<int64_t>(0, g.n * g.oc)), 0.0);
  forward_z(g, x_signs, w_signs, [&](int64_t s, const int32_t* z) {
    for (int64_t o = 0; o < g.oc; o++) {
      const float* d = dy + (s * g.oc + o) * P;
      double acc = 0;
      for (int64_t p = 0; p < P; p++) acc += static_cast<double>(d[p]) * z[p * g.oc + o];
      part[s * g.oc + o] = acc;
    }
  });
  for (int64_t o = 0; o < g.oc; o++) {
    double t = 0;
    for (int64_t s = 0; s < g.n; s++) t += part[s * g.oc + o];
    da[o] = static_cast<float>(t);
  }
}

}  // namespace fqt
