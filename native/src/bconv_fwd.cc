// Binary conv forward and the output-scale gradient (bconv.h): per sample, the sign bits of X are laid out as a
// zero-bordered channel-packed image (pixel = C bits rounded up to whole bytes); the GEMM row of an output pixel is
// kh segments of kw consecutive pixels (kw·C contiguous bits, one to a few 64-bit words), XOR-popcounted against W's
// rows in the same order by the lane GEMM of gemm_b1_lanes.cc. Convs put the sample's output pixels in the vector
// lanes (the pixel rows transposed into the lane GEMM's B, W's rows as A: results arrive per channel, contiguous in
// NCHW); layers with fewer than 8 output pixels (linear) put the channels in the lanes and read each pixel's row from
// the image as the GEMM asks for it. A padding tap counts as x = −1 (its bits are 0); a per-(pixel, channel) table
// adds back Σ_ch w± of the padded taps, so padding contributes exactly 0.
#include <immintrin.h>

#include <algorithm>
#include <limits>
#include <memory>
#include <vector>

#include "bconv.h"
#include "common.h"
#include "gemm_b1_lanes.h"
#include "thread_pool.h"

namespace fqt {
namespace {

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
// channels × 8 pixels of an image row are one 8×8 bit transpose.
void build_image(const BGeom& g, const FwdLayout& L, const uint32_t* x_signs, int64_t s, uint8_t* img) {
  std::memset(img, 0, static_cast<size_t>(L.img_bytes));
  const uint32_t* row = x_signs + s * words32(g.chw());
  const int64_t hw = g.hw(), w = g.w, cbb = L.cbb;
  uint64_t field[8];
  for (int64_t y = 0; y < g.h; y++) {
    uint8_t* out = img + ((y + g.pad) * L.wp + g.pad) * cbb;
    for (int64_t x0 = 0; x0 < w; x0 += 64) {  // 64 pixels of an image row: one 64-bit field per channel
      const int64_t len = std::min<int64_t>(64, w - x0);
      for (int64_t cb = 0; cb < cbb; cb++) {
        for (int64_t t = 0; t < 8; t++) {
          const int64_t ch = cb * 8 + t, pos = ch * hw + y * w + x0;
          field[t] = ch >= g.c ? 0 : len <= 32 ? bit_field(row, pos, len) : bit_field(row, pos, 32) | bit_field(row, pos + 32, len - 32) << 32;
        }
        for (int64_t k0 = 0; k0 < len; k0 += 8) {
          uint64_t m = 0;
          for (int t = 0; t < 8; t++) m |= ((field[t] >> k0) & 0xff) << (8 * t);
          const uint64_t tr = transpose8(m);
          const int64_t kn = std::min<int64_t>(8, len - k0);
          uint8_t* o = out + (x0 + k0) * cbb + cb;
          for (int64_t k = 0; k < kn; k++) o[k * cbb] = static_cast<uint8_t>(tr >> (8 * k));
        }
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
std::vector<uint64_t> weight_rows(const BGeom& g, const FwdLayout& L, const std::vector<uint8_t>& wt) {
  std::vector<uint64_t> rows(static_cast<size_t>(g.oc * L.row_words64()), 0);
  for (int64_t o = 0; o < g.oc; o++)
    for (int64_t i = 0; i < g.kh; i++) {
      auto* seg = reinterpret_cast<uint8_t*>(rows.data() + o * L.row_words64() + i * L.sw);  // little-endian words
      for (int64_t j = 0; j < g.kw; j++) std::memcpy(seg + j * L.cbb, wt.data() + (o * g.taps() + i * g.kw + j) * L.cbb, static_cast<size_t>(L.cbb));
    }
  return rows;
}

// corr[o·P + p] = Σ over the padded taps of output pixel p of Σ_ch w±[o, ch, tap] (0 for interior pixels).
std::vector<int32_t> padding_correction(const BGeom& g, const std::vector<uint8_t>& wt) {
  const int64_t P = g.P();
  std::vector<int32_t> corr(static_cast<size_t>(P * g.oc), 0);
  if (g.pad == 0) return corr;
  const int64_t T = g.taps(), cbb = (g.c + 7) / 8;
  std::vector<int32_t> tapsum(static_cast<size_t>(g.oc * T), 0);
  for (int64_t ot = 0; ot < g.oc * T; ot++) {
    int32_t ones = 0;
    for (int64_t b = 0; b < cbb; b++) ones += popcount8(wt[ot * cbb + b]);
    tapsum[ot] = 2 * ones - static_cast<int32_t>(g.c);
  }
  for (int64_t oy = 0; oy < g.oh; oy++)
    for (int64_t ox = 0; ox < g.ow; ox++)
      for (int64_t i = 0; i < g.kh; i++)
        for (int64_t j = 0; j < g.kw; j++) {
          const int64_t y = oy * g.stride - g.pad + i, x = ox * g.stride - g.pad + j;
          if (y >= 0 && y < g.h && x >= 0 && x < g.w) continue;
          for (int64_t o = 0; o < g.oc; o++) corr[o * P + oy * g.ow + ox] += tapsum[o * T + i * g.kw + j];
        }
  return corr;
}

// Exact z of a tile of outputs: channels [o0, o0 + noc) × pixels [p0, p0 + np), z(o, p) = c[e] − kfix + corr[e] with
// e = (o − o0)·os + (p − p0)·ps. A tile of one channel has ps = 1 (contiguous pixels).
struct ZTile {
  const int32_t *c, *corr;
  int32_t kfix;
  int64_t o0, noc, p0, np, os, ps;
  int32_t z(int64_t e) const { return c[e] - kfix + corr[e]; }
};

// What both orientations share: the layout, W's rows, the correction.
struct FwdCommon {
  const BGeom& g;
  FwdLayout L;
  std::vector<uint64_t> wrows;
  std::vector<int32_t> corr;
  int32_t kfix;  // the zero bits past C and past kw·C count as +1 in k − 2·popcount
  FwdCommon(const BGeom& g_, const std::vector<uint8_t>& wt)
      : g(g_), L(g_), wrows(weight_rows(g_, L, wt)), corr(padding_correction(g_, wt)), kfix(static_cast<int32_t>(L.kbits - g_.K())) {}
};

// Pixels in lanes: A = W's rows (channel o), B = the sample's pixel rows; store gets channel o's P results.
template <class Epi>
struct ChannelRows {
  const FwdCommon& f;
  Epi& epi;
  static int64_t load(const void* ctx, int64_t o, uint64_t* aw) {
    const auto& r = *static_cast<const ChannelRows*>(ctx);
    std::memcpy(aw, r.f.wrows.data() + o * r.f.L.row_words64(), sizeof(uint64_t) * static_cast<size_t>(r.f.L.row_words64()));
    return 0;
  }
  static void store(const void* ctx, int64_t o, const int32_t* c) {
    const auto& r = *static_cast<const ChannelRows*>(ctx);
    const int64_t P = r.f.g.P();
    r.epi(ZTile{c, r.f.corr.data() + o * P, r.f.kfix, o, 1, 0, P, 0, 1});
  }
};

// B = the sample's pixel rows transposed: bt[(i·sw + w)·np + p] = word w of kernel row i of output pixel p.
void pixels_in_lanes(const FwdCommon& f, const uint8_t* img, LaneB* bt) {
  const BGeom& g = f.g;
  const int64_t sw = f.L.sw, np = bt->np, ow = g.ow, st = g.stride * f.L.cbb, wp = f.L.wp, cbb = f.L.cbb;
  const uint64_t lm = f.L.last_mask;
  uint64_t* out = bt->bt.data();
  for (int64_t i = 0; i < g.kh; i++)
    for (int64_t w = 0; w < sw; w++) {
      const uint64_t mask = w + 1 == sw ? lm : ~0ull;
      for (int64_t oy = 0; oy < g.oh; oy++) {
        const uint8_t* src = img + (oy * g.stride + i) * wp * cbb + 8 * w;
        uint64_t* o = out + (i * sw + w) * np + oy * ow;
        for (int64_t ox = 0; ox < ow; ox++) {
          uint64_t v;
          std::memcpy(&v, src + ox * st, 8);
          o[ox] = v & mask;
        }
      }
    }
}

// Channels in lanes (fewer than 8 pixels): A = the pixel rows read from the image, B = W's rows.
template <class Epi>
struct PixelRows {
  const FwdCommon& f;
  const uint8_t* img;
  Epi& epi;
  int32_t* corr;  // [oc]: channel o's correction of the current pixel
  static int64_t load(const void* ctx, int64_t p, uint64_t* aw) {
    const auto& r = *static_cast<const PixelRows*>(ctx);
    image_row(r.f.g, r.f.L, r.img, p / r.f.g.ow, p % r.f.g.ow, aw);
    return 0;
  }
  static void store(const void* ctx, int64_t p, const int32_t* c) {
    const auto& r = *static_cast<const PixelRows*>(ctx);
    const int64_t P = r.f.g.P(), oc = r.f.g.oc;
    for (int64_t o = 0; o < oc; o++) r.corr[o] = r.f.corr[o * P + p];
    r.epi(ZTile{c, r.corr, r.f.kfix, 0, oc, p, 1, 1, 0});
  }
};

// z of every output, sample by sample on the pool: make_epi(s) gives sample s's epilogue, called with ZTiles that
// cover each channel's pixels in increasing order.
template <class MakeEpi>
void forward_z(const BGeom& g, const uint32_t* x_signs, const uint32_t* w_signs, MakeEpi&& make_epi) {
  if (g.n <= 0 || g.oc <= 0 || g.P() <= 0) return;
  const FwdCommon f(g, tap_major_weights(g, w_signs));
  const int64_t P = g.P();
  const bool lanes_are_pixels = P >= 8;
  const LaneB wb = lanes_are_pixels ? LaneB(int64_t{0}, f.L.kbits) : LaneB(f.wrows.data(), g.oc, f.L.kbits);
  parallel_for(g.n, [&](int64_t s, int) {
    const auto img = uninit_array<uint8_t>(f.L.img_bytes);
    const auto corr = uninit_array<int32_t>(g.oc);
    build_image(g, f.L, x_signs, s, img.get());
    auto epi = make_epi(s);
    if (lanes_are_pixels) {
      LaneB bt(P, f.L.kbits);
      pixels_in_lanes(f, img.get(), &bt);
      using Src = ChannelRows<decltype(epi)>;
      const Src src{f, epi};
      gemm_lanes_rows(0, g.oc, 0, bt, LaneRows{&Src::load, &Src::store, &src});
    } else {
      using Src = PixelRows<decltype(epi)>;
      const Src src{f, img.get(), epi, corr.get()};
      gemm_lanes_rows(0, P, 0, wb, LaneRows{&Src::load, &Src::store, &src});
    }
  });
}

}  // namespace

void binary_conv_forward(const BGeom& g, const uint32_t* x_signs, const uint32_t* w_signs, const float* scale, float* y) {
  const int64_t P = g.P(), oc = g.oc;
  forward_z(g, x_signs, w_signs, [&](int64_t s) {
    float* ys = y + s * oc * P;
    // f32(a·z) = the float32 product of a and the exact float32 z (|z| < 2^24).
    return [=](const ZTile& t) {
      for (int64_t o = t.o0; o < t.o0 + t.noc; o++) {
        const float a = scale ? scale[o] : 1.0f;
        const int64_t e0 = (o - t.o0) * t.os;
        float* yo = ys + o * P + t.p0;
        if (t.ps == 1) {
          const int32_t *c = t.c + e0, *corr = t.corr + e0;
          for (int64_t q = 0; q < t.np; q++) yo[q] = a * static_cast<float>(c[q] - t.kfix + corr[q]);
        } else {
          for (int64_t q = 0; q < t.np; q++) yo[q] = a * static_cast<float>(t.z(e0 + q * t.ps));
        }
      }
    };
  });
}

// (l0 + l1) + (l2 + l3) with l_j = Σ_{p ≡ j mod 4} d[p]·z[p] in float64, in order (the spec of bconv-kernels.ts): four
// independent lanes, one AVX2 vector chain.
double lane_dot_base(const float* __restrict d, const int32_t* __restrict z, int64_t P) {
  double l[4] = {0, 0, 0, 0};
  for (int64_t p = 0; p < P; p++) l[p & 3] += static_cast<double>(d[p]) * z[p];
  return (l[0] + l[1]) + (l[2] + l[3]);
}
#if FQT_X86
__attribute__((target("avx2"))) double lane_dot_avx2(const float* __restrict d, const int32_t* __restrict z, int64_t P) {
  __m256d acc = _mm256_setzero_pd();
  int64_t p = 0;
  for (; p + 4 <= P; p += 4) {
    const __m256d dv = _mm256_cvtps_pd(_mm_loadu_ps(d + p));
    const __m256d zv = _mm256_cvtepi32_pd(_mm_loadu_si128(reinterpret_cast<const __m128i*>(z + p)));
    acc = _mm256_add_pd(acc, _mm256_mul_pd(dv, zv));
  }
  alignas(32) double l[4];
  _mm256_store_pd(l, acc);
  for (; p < P; p++) l[p & 3] += static_cast<double>(d[p]) * z[p];
  return (l[0] + l[1]) + (l[2] + l[3]);
}
#endif
inline double lane_dot(const float* d, const int32_t* z, int64_t P) {
#if FQT_X86
  if (active_tier() >= Tier::Avx2) return lane_dot_avx2(d, z, P);
#endif
  return lane_dot_base(d, z, P);
}

void binary_conv_scale_grad(const BGeom& g, const uint32_t* x_signs, const uint32_t* w_signs, const float* dy, float* da,
                            float* mins, float* maxs) {
  const int64_t P = g.P(), oc = g.oc;
  // s_n[o] (lane_dot, one task per sample), then summed over samples in order.
  std::vector<double> part(static_cast<size_t>(std::max<int64_t>(0, g.n * oc)), 0.0);
  forward_z(g, x_signs, w_signs, [&](int64_t s) {
    const float* ds = dy + s * oc * P;
    double* ps = part.data() + s * oc;
    auto zs = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(oc * P));
    return [=](const ZTile& t) {
      int32_t* __restrict z = zs->data();
      for (int64_t o = t.o0; o < t.o0 + t.noc; o++) {
        const int64_t e0 = (o - t.o0) * t.os;
        int32_t* zo = z + o * P + t.p0;
        if (t.ps == 1) {
          const int32_t *__restrict c = t.c + e0, *__restrict corr = t.corr + e0;
          const int32_t kfix = t.kfix;
          for (int64_t q = 0; q < t.np; q++) zo[q] = c[q] - kfix + corr[q];
        } else {
          for (int64_t q = 0; q < t.np; q++) zo[q] = t.z(e0 + q * t.ps);
        }
      }
      if (t.o0 + t.noc < oc || t.p0 + t.np < P) return;  // the sample's last tile: every z is known
      for (int64_t o = 0; o < oc; o++) ps[o] = lane_dot(ds + o * P, z + o * P, P);
      if (mins == nullptr) return;  // the ranges of the sample's channels while dy is in cache
      for (int64_t o = 0; o < oc; o++) {
        float lo = std::numeric_limits<float>::infinity(), hi = -lo;
        range_run(ds + o * P, P, &lo, &hi);
        mins[s * oc + o] = lo, maxs[s * oc + o] = hi;
      }
    };
  });
  for (int64_t o = 0; o < oc; o++) {
    double t = 0;
    for (int64_t s = 0; s < g.n; s++) t += part[s * oc + o];
    da[o] = static_cast<float>(t);
  }
}

}  // namespace fqt
