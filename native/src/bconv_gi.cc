// Binary conv grad-input on bit planes (bconv.h): the transposed conv dX = col2im(Q(dY)·W±) computed per input pixel,
// so col2im is fused and dX is written once. Per chunk of kept samples: the dY codes of a sample become `bits`
// zero-bordered channel-packed plane images (pixel = oc bits rounded up to bytes). Stride s splits the input pixels
// into s² phases; within a phase (py, px) the taps reading input pixel (y, x) are the kernel rows i ≡ py + pad and
// columns j ≡ px + pad (mod s), and their output pixels along a kernel row are consecutive: a row of the phase's
// GEMM is |I| segments of |J| consecutive G pixels. gemm_bitplane runs those rows against the flipped, transposed W
// signs; V (the lo term) is the same GEMM on an all-ones plane, once per call. Pruned samples are never quantized
// or multiplied: their dX is zero-filled.
#include <algorithm>
#include <vector>

#include "bconv.h"
#include "common.h"
#include "thread_pool.h"

namespace fqt {
namespace {

// Bit b of 8 code bytes as one byte (bit t = bit b of byte t).
inline uint8_t plane_byte(uint64_t codes8, int b) {
  return static_cast<uint8_t>((((codes8 >> b) & 0x0101010101010101ull) * 0x0102040810204080ull) >> 56);
}

struct GiLayout {
  int64_t ocb;         // bytes per G pixel
  int64_t by, bx;      // zero border (rows, columns) around the oh × ow grid
  int64_t hg, wg;      // bordered G image size in pixels
  int64_t plane_bytes; // one plane image, plus slack for 64-bit loads
  explicit GiLayout(const BGeom& g)
      : ocb((g.oc + 7) / 8), by(g.kh), bx(g.kw), hg(g.oh + 2 * by), wg(g.ow + 2 * bx), plane_bytes(hg * wg * ocb + 16) {}
  int64_t at(int64_t oy, int64_t ox) const { return ((oy + by) * wg + ox + bx) * ocb; }
};

// One stride phase: kernel rows I and columns J (ascending), its input pixels (py + s·a, px + s·b), and the GEMM row
// layout (|I| segments of sw 64-bit words).
struct Phase {
  int64_t py, px, ny, nx;
  std::vector<int64_t> I, J;
  int64_t seg_bits, sw, kbits;
  uint64_t last_mask;
  Phase(const BGeom& g, const GiLayout& L, int64_t py_, int64_t px_) : py(py_), px(px_) {
    const int64_t s = g.stride;
    ny = py < g.h ? (g.h - py + s - 1) / s : 0;
    nx = px < g.w ? (g.w - px + s - 1) / s : 0;
    for (int64_t i = 0; i < g.kh; i++)
      if ((py + g.pad - i) % s == 0) I.push_back(i);
    for (int64_t j = 0; j < g.kw; j++)
      if ((px + g.pad - j) % s == 0) J.push_back(j);
    seg_bits = static_cast<int64_t>(J.size()) * L.ocb * 8;
    sw = std::max<int64_t>(1, (seg_bits + 63) / 64);
    kbits = static_cast<int64_t>(I.size()) * sw * 64;
    last_mask = low_mask(seg_bits - 64 * (sw - 1));
  }
  int64_t pixels() const { return ny * nx; }
  bool empty() const { return I.empty() || J.empty() || pixels() == 0; }
  int64_t row_words64() const { return kbits / 64; }
  // Floor division of a possibly negative multiple of s.
  static int64_t div(int64_t a, int64_t s) { return (a >= 0 ? a : a - (s - 1)) / s; }

  // The GEMM row of input pixel (py + s·a, px + s·b) from one plane image.
  void row(const BGeom& g, const GiLayout& L, const uint8_t* img, int64_t a, int64_t b, uint64_t* out) const {
    const int64_t s = g.stride, y = py + s * a, x = px + s * b;
    const int64_t ox0 = div(x + g.pad - J.back(), s);
    for (size_t ti = 0; ti < I.size(); ti++) {
      const int64_t oy = div(y + g.pad - I[ti], s);
      const uint8_t* p = img + L.at(oy, ox0);
      for (int64_t w = 0; w < sw; w++) {
        uint64_t v;
        std::memcpy(&v, p + 8 * w, 8);
        out[ti * sw + w] = w + 1 == sw ? v & last_mask : v;
      }
    }
  }

  // Filter ch's row: segment ti, pixel slot t (j = J[|J|−1−t]), bit o = sign of w[o, ch, I[ti], j].
  std::vector<uint64_t> weights(const BGeom& g, const GiLayout& L, const uint32_t* w_signs) const {
    std::vector<uint64_t> rows(static_cast<size_t>(g.c * row_words64()), 0);
    const int64_t K = g.K(), nj = static_cast<int64_t>(J.size());
    for (int64_t ch = 0; ch < g.c; ch++)
      for (size_t ti = 0; ti < I.size(); ti++)
        for (int64_t t = 0; t < nj; t++)
          for (int64_t o = 0; o < g.oc; o++) {
            if (!bit_at(w_signs + o * words32(K), (ch * g.kh + I[ti]) * g.kw + J[nj - 1 - t])) continue;
            const int64_t bpos = t * L.ocb * 8 + o;
            rows[ch * row_words64() + ti * sw + (bpos >> 6)] |= 1ull << (bpos & 63);
          }
    return rows;
  }
};

// The plane images of sample s: codes of every channel (in dY's NCHW order, RNG index (s·P + p)·oc + o), transposed
// to pixel-major bytes, then bit b of the oc codes of a pixel → plane b.
void code_planes(const BGeom& g, const GiLayout& L, const float* dy, const float* scale, const DyQuant& q, int64_t s,
                 uint8_t* planes) {
  const int64_t P = g.P(), oc8 = L.ocb * 8;
  const auto v = uninit_array<float>(P);
  const auto codes = uninit_array<uint8_t>(g.oc * P);
  for (int64_t o = 0; o < g.oc; o++) {
    const float* d = dy + (s * g.oc + o) * P;
    if (scale) {
      for (int64_t p = 0; p < P; p++) v[p] = d[p] * scale[o];
      d = v.get();
    }
    q.codes(d, P, s, o, P, g.oc, codes.get() + o * P);
  }
  std::vector<uint8_t> px(static_cast<size_t>(oc8), 0);  // one pixel's codes, zero past oc
  std::memset(planes, 0, static_cast<size_t>(q.bits * L.plane_bytes));
  for (int64_t p = 0; p < P; p++) {
    for (int64_t o = 0; o < g.oc; o++) px[o] = codes[o * P + p];
    const int64_t at = L.at(p / g.ow, p % g.ow);
    for (int64_t cb = 0; cb < L.ocb; cb++) {
      uint64_t c8;
      std::memcpy(&c8, px.data() + 8 * cb, 8);
      for (int b = 0; b < q.bits; b++) planes[b * L.plane_bytes + at + cb] = plane_byte(c8, b);
    }
  }
}

// V[m·c + ch] of a phase: Σ over the taps of input pixel m that land on the output grid of Σ_o w±.
std::vector<int32_t> phase_v(const BGeom& g, const GiLayout& L, const Phase& ph, const std::vector<uint64_t>& wrows) {
  std::vector<uint8_t> ones(static_cast<size_t>(L.plane_bytes), 0);
  for (int64_t oy = 0; oy < g.oh; oy++)
    for (int64_t ox = 0; ox < g.ow; ox++)
      for (int64_t o = 0; o < g.oc; o++) ones[L.at(oy, ox) + o / 8] |= static_cast<uint8_t>(1u << (o % 8));
  const int64_t M = ph.pixels(), rw = ph.row_words64();
  std::vector<uint64_t> rows(static_cast<size_t>(M * rw));
  for (int64_t m = 0; m < M; m++) ph.row(g, L, ones.data(), m / ph.nx, m % ph.nx, rows.data() + m * rw);
  std::vector<int32_t> v(static_cast<size_t>(M * g.c));
  gemm_bitplane(M, g.c, ph.kbits, 1, reinterpret_cast<const uint32_t*>(rows.data()),
                reinterpret_cast<const uint32_t*>(wrows.data()), v.data());
  return v;
}

}  // namespace

void binary_conv_grad_input(const BGeom& g, const float* dy, const float* scale, const DyQuant& q, const uint32_t* w_signs,
                            const uint32_t* x_mask, float* dx) {
  if (g.n <= 0 || g.chw() <= 0) return;
  const int64_t P = g.P(), chw = g.chw(), bits = q.bits;
  std::vector<int64_t> kept;
  for (int64_t s = 0; s < g.n; s++) {
    if (q.pruned(q.group(s * P, 0)) || g.oc <= 0) std::fill(dx + s * chw, dx + (s + 1) * chw, 0.0f);
    else kept.push_back(s);
  }
  if (kept.empty()) return;
  const GiLayout L(g);
  std::vector<Phase> phases;
  for (int64_t py = 0; py < g.stride; py++)
    for (int64_t px = 0; px < g.stride; px++) phases.emplace_back(g, L, py, px);
  int64_t max_rows_bytes = 0;
  for (const Phase& ph : phases) max_rows_bytes = std::max(max_rows_bytes, ph.pixels() * (bits * ph.kbits / 8 + 4 * g.c));
  const int64_t S = std::max<int64_t>(1, std::min<int64_t>(static_cast<int64_t>(kept.size()),
                                                           (8 << 20) / std::max<int64_t>(1, max_rows_bytes + bits * L.plane_bytes)));
  const auto planes = uninit_array<uint8_t>(S * bits * L.plane_bytes);
  // Per phase, once per call: the weight rows and the lo term V.
  std::vector<std::vector<uint64_t>> wrows(phases.size());
  std::vector<std::vector<int32_t>> V(phases.size());
  for (size_t f = 0; f < phases.size(); f++) {
    const Phase& ph = phases[f];
    if (ph.pixels() == 0) continue;
    if (!ph.empty()) wrows[f] = ph.weights(g, L, w_signs);
    V[f] = ph.empty() ? std::vector<int32_t>(static_cast<size_t>(ph.pixels() * g.c), 0) : phase_v(g, L, ph, wrows[f]);
  }
  std::vector<uint64_t> rows;
  std::vector<int32_t> out;
  for (size_t k0 = 0; k0 < kept.size(); k0 += S) {
    const int64_t ns = std::min<int64_t>(S, static_cast<int64_t>(kept.size() - k0));
    parallel_for(ns, [&](int64_t t, int) { code_planes(g, L, dy, scale, q, kept[k0 + t], planes.get() + t * bits * L.plane_bytes); });
    for (size_t f = 0; f < phases.size(); f++) {
      const Phase& ph = phases[f];
      const int64_t M = ph.pixels(), rw = ph.row_words64();
      if (M == 0) continue;
      if (ph.empty()) {
        out.assign(static_cast<size_t>(ns * M * g.c), 0);
      } else {
        out.resize(static_cast<size_t>(ns * M * g.c));
        rows.resize(static_cast<size_t>(bits * ns * M * rw));
        parallel_for(ns, [&](int64_t t, int) {
          const uint8_t* img = planes.get() + t * bits * L.plane_bytes;
          for (int64_t b = 0; b < bits; b++)
            for (int64_t m = 0; m < M; m++)
              ph.row(g, L, img + b * L.plane_bytes, m / ph.nx, m % ph.nx, rows.data() + ((b * ns + t) * M + m) * rw);
        });
        gemm_bitplane(ns * M, g.c, ph.kbits, bits, reinterpret_cast<const uint32_t*>(rows.data()),
                      reinterpret_cast<const uint32_t*>(wrows[f].data()), out.data());
      }
      const std::vector<int32_t>& Vf = V[f];
      parallel_for(ns, [&](int64_t t, int) {
        const int64_t s = kept[k0 + t], grp = q.group(s * P, 0);
        const float lo = q.lo(grp), delta = q.qscale[grp];
        const uint32_t* mrow = x_mask ? x_mask + s * words32(chw) : nullptr;
        for (int64_t m = 0; m < M; m++) {
          const int64_t pix = (ph.py + g.stride * (m / ph.nx)) * g.w + ph.px + g.stride * (m % ph.nx);
          for (int64_t ch = 0; ch < g.c; ch++) {
            const int64_t at = ch * g.hw() + pix;
            const int32_t dot = out[(t * M + m) * g.c + ch];
            dx[s * chw + at] = mrow && !bit_at(mrow, at) ? 0.0f : affine_out(delta, dot, lo, Vf[m * g.c + ch]);
          }
        }
      });
    }
  }
}

}  // namespace fqt
