// Binary conv grad-input on bit planes (bconv.h): the transposed conv dX = col2im(Q(dY)·W±) computed per input pixel,
// so col2im is fused and dX is written once. Per kept sample (one pool task each): the dY codes, quantized in the
// GEMM-row order [pixel][channel] (RNG index (s·P + p)·oc + o, as quantizeAffine on dY's rows), become `bits`
// zero-bordered channel-packed plane images (pixel = oc bits rounded up to bytes). Stride s splits the input pixels
// into s² phases; within a phase (py, px) the taps reading input pixel (y, x) are the kernel rows i ≡ py + pad and
// columns j ≡ px + pad (mod s), and their output pixels along a kernel row are consecutive: a GEMM row of the phase
// is |I| segments of |J| consecutive G pixels. The lane GEMM (gemm_b1_lanes.cc) puts (plane, input pixel) in the
// vector lanes and runs an all-ones row and the flipped, transposed W sign rows against them:
//   dot[ch, m] = Σ_b 2^b·(C[ch, b, m] − C[ones, b, m]/2)  with C = 2·popcount(row ∧ G_b)  (= Σ code·w±, exactly)
// and V (the lo term: Σ w± over the taps landing on the output grid) is the same GEMM on an all-ones plane, once per
// call. Pruned samples are never quantized or multiplied: their dX is zero-filled.
#include <emmintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "bconv.h"
#include "common.h"
#include "gemm_b1_lanes.h"
#include "thread_pool.h"

namespace fqt {
namespace {

struct GiLayout {
  int64_t ocb;          // bytes per G pixel
  int64_t oc16;         // codes per pixel in the code buffer (oc rounded up to 16, zeros past oc)
  int64_t by, bx;       // zero border (rows, columns) around the oh × ow grid
  int64_t hg, wg;       // bordered G image size in pixels
  int64_t plane_bytes;  // one plane image, plus slack for 64-bit loads
  explicit GiLayout(const BGeom& g)
      : ocb((g.oc + 7) / 8), oc16((g.oc + 15) / 16 * 16), by(g.kh), bx(g.kw), hg(g.oh + 2 * by), wg(g.ow + 2 * bx),
        plane_bytes(hg * wg * ocb + 16) {}
  int64_t at(int64_t oy, int64_t ox) const { return ((oy + by) * wg + ox + bx) * ocb; }
};

// One stride phase: kernel rows I and columns J (ascending), its input pixels (py + s·a, px + s·b), the GEMM row
// layout (|I| segments of sw 64-bit words), and its A rows: all ones, then the C filters.
struct Phase {
  int64_t py, px, ny, nx;
  std::vector<int64_t> I, J;
  int64_t seg_bits, sw, kbits;
  uint64_t last_mask;
  std::vector<uint64_t> arows;  // [1 + c][row_words64]
  std::vector<int32_t> V;       // [c][pixels]

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

  // The GEMM rows of every pixel of the phase from one plane image: pixel m = a·nx + b goes to column col0 + m of B.
  // Output pixel of kernel row I[ti] for input row py + s·a: a + floor((py + pad − I[ti]) / s); the segment starts
  // at output column b + floor((px + pad − J.back()) / s).
  void put_rows(const BGeom& g, const GiLayout& L, const uint8_t* img, LaneB* bt, int64_t col0) const {
    const int64_t s = g.stride, np = bt->np, nsw = sw, nxx = nx, ocb = L.ocb;
    const int64_t dx0 = div(px + g.pad - J.back(), s);
    const uint64_t lm = last_mask;
    uint64_t* out = bt->bt.data();
    for (size_t ti = 0; ti < I.size(); ti++) {
      const int64_t dyt = div(py + g.pad - I[ti], s);
      for (int64_t a = 0; a < ny; a++) {
        const uint8_t* rowp = img + L.at(a + dyt, dx0);
        for (int64_t w = 0; w < nsw; w++) {
          uint64_t* o = out + (static_cast<int64_t>(ti) * nsw + w) * np + col0 + a * nxx;
          const uint64_t mask = w + 1 == nsw ? lm : ~0ull;
          for (int64_t b = 0; b < nxx; b++) {
            uint64_t v;
            std::memcpy(&v, rowp + b * ocb + 8 * w, 8);
            o[b] = v & mask;
          }
        }
      }
    }
  }

  // A row 0: all ones; row 1 + ch: segment ti, pixel slot t (j = J[|J|−1−t]), bit o = sign of w[o, ch, I[ti], j].
  // From W's tap-major bytes (tap_major_weights): per tap, the [o][ch] bit blocks transposed to [ch][o], 8×8 at once.
  void build_arows(const BGeom& g, const GiLayout& L, const std::vector<uint8_t>& wt) {
    const int64_t rw = row_words64(), nj = static_cast<int64_t>(J.size()), T = g.taps(), cbb = (g.c + 7) / 8;
    arows.assign(static_cast<size_t>((1 + g.c) * rw), 0);
    std::fill(arows.begin(), arows.begin() + rw, ~0ull);
    auto* bytes = reinterpret_cast<uint8_t*>(arows.data());  // little-endian words: bit b is byte b/8, bit b%8
    for (size_t ti = 0; ti < I.size(); ti++)
      for (int64_t t = 0; t < nj; t++) {
        const int64_t tap = I[ti] * g.kw + J[nj - 1 - t];
        for (int64_t ob = 0; ob < L.ocb; ob++)
          for (int64_t cb = 0; cb < cbb; cb++) {
            uint64_t m = 0;
            for (int64_t k = 0; k < 8 && ob * 8 + k < g.oc; k++)
              m |= static_cast<uint64_t>(wt[((ob * 8 + k) * T + tap) * cbb + cb]) << (8 * k);
            const uint64_t tr = transpose8(m);  // byte u: bit k = w[ob·8 + k, cb·8 + u, tap]
            for (int64_t u = 0; u < 8 && cb * 8 + u < g.c; u++)
              bytes[((1 + cb * 8 + u) * rw + static_cast<int64_t>(ti) * sw) * 8 + t * L.ocb + ob] = static_cast<uint8_t>(tr >> (8 * u));
          }
      }
  }
};

// V of a phase: the lane GEMM on an all-ones plane (every output pixel, every channel): V = C[ch] − C[ones]/2.
void phase_v(const BGeom& g, const GiLayout& L, Phase& ph) {
  std::vector<uint8_t> ones(static_cast<size_t>(L.plane_bytes), 0);
  for (int64_t oy = 0; oy < g.oh; oy++)
    for (int64_t ox = 0; ox < g.ow; ox++)
      for (int64_t o = 0; o < g.oc; o++) ones[L.at(oy, ox) + o / 8] |= static_cast<uint8_t>(1u << (o % 8));
  const int64_t M = ph.pixels(), rw = ph.row_words64();
  LaneB bt(M, ph.kbits);
  ph.put_rows(g, L, ones.data(), &bt, 0);
  ph.V.assign(static_cast<size_t>(g.c * M), 0);
  std::vector<int32_t> half(static_cast<size_t>(M));
  lanes_rows(0, 1 + g.c, 1, bt,
             [&](int64_t r, uint64_t* aw) -> int64_t {
               std::memcpy(aw, ph.arows.data() + r * rw, sizeof(uint64_t) * static_cast<size_t>(rw));
               return 0;
             },
             [&](int64_t r, const int32_t* out) {
               if (r == 0) {
                 for (int64_t m = 0; m < M; m++) half[m] = out[m] / 2;
               } else {
                 for (int64_t m = 0; m < M; m++) ph.V[(r - 1) * M + m] = out[m] - half[m];
               }
             });
}

// Sample s's dY codes in GEMM-row order [pixel][oc16] (zeros past oc): dZ transposed (and scaled), then quantized in
// runs of rows sharing a group (a whole sample for the per-sample and per-tensor groups this kernel takes).
void sample_codes(const BGeom& g, const GiLayout& L, const float* dy, const float* scale, const DyQuant& q, int64_t s,
                  float* buf, uint8_t* codes) {
  const int64_t P = g.P(), oc = g.oc;
  std::vector<float> sc(static_cast<size_t>(oc), 1.0f);
  if (scale) std::copy(scale, scale + oc, sc.begin());
  const float *__restrict d = dy + s * oc * P, *__restrict a = sc.data();
  float* __restrict bt = buf;
  for (int64_t p = 0; p < P; p++)
    for (int64_t o = 0; o < oc; o++) bt[p * oc + o] = d[o * P + p] * a[o];
  const double qmax = static_cast<double>((1 << q.bits) - 1);
  std::vector<uint8_t> run(static_cast<size_t>(P * oc));
  // Runs of pixels (GEMM rows) in one group: the whole sample for per-sample and per-tensor groups.
  const bool one = q.row_mod == 1 || q.row_div % P == 0;
  for (int64_t p = 0; p < P;) {
    const int64_t grp = q.group(s * P + p, 0);
    int64_t e = one ? P : p + 1;
    while (e < P && q.group(s * P + e, 0) == grp) e++;
    quantize_run(buf + p * oc, (e - p) * oc, q.offset[grp], q.inv[grp], q.zero_point[grp], 0.0, qmax, q.stochastic, q.key,
                 static_cast<uint32_t>((s * P + p) * oc), 1, run.data() + p * oc);
    p = e;
  }
  for (int64_t p = 0; p < P; p++) {
    std::memcpy(codes + p * L.oc16, run.data() + p * oc, static_cast<size_t>(oc));
    std::memset(codes + p * L.oc16 + oc, 0, static_cast<size_t>(L.oc16 - oc));
  }
}

// Bit b of each pixel's codes → plane b's image (16 channels per byte shift + movemask).
void code_planes(const BGeom& g, const GiLayout& L, const uint8_t* codes, int bits, uint8_t* planes) {
  std::memset(planes, 0, static_cast<size_t>(bits * L.plane_bytes));
  for (int64_t p = 0; p < g.P(); p++) {
    const int64_t at = L.at(p / g.ow, p % g.ow);
    for (int64_t c0 = 0; c0 < L.oc16; c0 += 16) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + p * L.oc16 + c0));
      const int64_t nbytes = std::min<int64_t>(2, L.ocb - c0 / 8);
      for (int b = 0; b < bits; b++) {
        const auto m = static_cast<uint16_t>(_mm_movemask_epi8(_mm_sll_epi16(v, _mm_cvtsi32_si128(7 - b))));
        uint8_t* dst = planes + b * L.plane_bytes + at + c0 / 8;
        dst[0] = static_cast<uint8_t>(m);
        if (nbytes > 1) dst[1] = static_cast<uint8_t>(m >> 8);
      }
    }
  }
}

// dx of one phase of sample s from the lane GEMM's rows: row 0 (ones) gives Σ_b 2^b·popcount(G_b), row 1 + ch the
// AND counts of filter ch. The epilogue f32(f32(Δ·dot) + f32(lo·V)) runs in float32 when |dot| and |V| stay below
// 2^24 (`exact`: float32(dot) is then exact and a float32 product is the rounded exact product), else in double.
struct GiEpilogue {
  const BGeom& g;
  const Phase& ph;
  int bits;
  bool exact;
  float lo, delta;
  float* dxs;            // the sample's dx
  std::vector<int32_t> gpop, dot;
  std::vector<float> val;

  void store(int64_t r, const int32_t* c) {
    const int64_t M = ph.pixels();
    if (r == 0) {  // C[ones, b, m] = 2·popcount(G_b row)
      gpop.assign(static_cast<size_t>(M), 0);
      int32_t* __restrict gp = gpop.data();
      for (int b = 0; b < bits; b++)
        for (int64_t m = 0; m < M; m++) gp[m] += (c[b * M + m] / 2) << b;
      dot.resize(static_cast<size_t>(M));
      val.resize(static_cast<size_t>(M));
      return;
    }
    int32_t* __restrict d = dot.data();
    const int32_t* __restrict gp = gpop.data();
    for (int64_t m = 0; m < M; m++) d[m] = -gp[m];
    for (int b = 0; b < bits; b++) {
      const int32_t* __restrict cb = c + b * M;
      for (int64_t m = 0; m < M; m++) d[m] += cb[m] << b;
    }
    const int64_t ch = r - 1;
    const int32_t* __restrict v = ph.V.data() + ch * M;
    float* __restrict out = val.data();
    const float dl = delta, l = lo;
    if (exact) {
      for (int64_t m = 0; m < M; m++) out[m] = dl * static_cast<float>(d[m]) + l * static_cast<float>(v[m]);
    } else {
      for (int64_t m = 0; m < M; m++) out[m] = affine_out(dl, d[m], l, v[m]);
    }
    scatter(ch, out);
  }

  // The phase's pixels of channel ch into dx (the clipped-STE mask is applied to the whole sample afterwards).
  void scatter(int64_t ch, const float* val_) const {
    const int64_t hw = g.hw(), w = g.w, st = g.stride, nx = ph.nx, ny = ph.ny, x0 = ph.px, y0 = ph.py;
    float* __restrict out = dxs + ch * hw;
    for (int64_t a = 0; a < ny; a++) {
      float* o = out + (y0 + st * a) * w + x0;
      const float* va = val_ + a * nx;
      if (st == 1) std::memcpy(o, va, sizeof(float) * static_cast<size_t>(nx));
      else
        for (int64_t b = 0; b < nx; b++) o[st * b] = va[b];
    }
  }
};

}  // namespace

void binary_conv_grad_input(const BGeom& g, const float* dy, const float* scale, const DyQuant& q, const uint32_t* w_signs,
                            const uint32_t* x_mask, float* dx) {
  if (g.n <= 0 || g.chw() <= 0) return;
  const int64_t P = g.P(), chw = g.chw();
  std::vector<int64_t> kept;
  for (int64_t s = 0; s < g.n; s++) {
    if (q.pruned(q.group(s * P, 0)) || g.oc <= 0) std::fill(dx + s * chw, dx + (s + 1) * chw, 0.0f);
    else kept.push_back(s);
  }
  if (kept.empty()) return;
  const GiLayout L(g);
  const std::vector<uint8_t> wt = tap_major_weights(g, w_signs);
  std::vector<Phase> phases;
  for (int64_t py = 0; py < g.stride; py++)
    for (int64_t px = 0; px < g.stride; px++) {
      phases.emplace_back(g, L, py, px);
      Phase& ph = phases.back();
      if (ph.empty()) {  // no tap reaches these pixels: dot = V = 0
        ph.V.assign(static_cast<size_t>(g.c * ph.pixels()), 0);
        continue;
      }
      ph.build_arows(g, L, wt);
      phase_v(g, L, ph);
    }
  const int bits = q.bits;
  const bool exact = ((int64_t{1} << bits) - 1) * g.oc * g.taps() < (int64_t{1} << 24);  // bounds |dot| and |V|
  parallel_for(static_cast<int64_t>(kept.size()), [&](int64_t k, int) {
    const int64_t s = kept[k], grp = q.group(s * P, 0);
    const auto buf = uninit_array<float>(P * g.oc);
    const auto codes = uninit_array<uint8_t>(P * L.oc16);
    const auto planes = uninit_array<uint8_t>(bits * L.plane_bytes);
    sample_codes(g, L, dy, scale, q, s, buf.get(), codes.get());
    code_planes(g, L, codes.get(), bits, planes.get());
    for (const Phase& ph : phases) {
      GiEpilogue epi{g, ph, bits, exact, q.lo(grp), q.qscale[grp], dx + s * chw, {}, {}, {}};
      if (ph.empty()) {
        const std::vector<int32_t> zeros(static_cast<size_t>(bits * ph.pixels()), 0);
        for (int64_t r = 0; r <= g.c; r++) epi.store(r, zeros.data());
        continue;
      }
      const int64_t M = ph.pixels(), rw = ph.row_words64();
      LaneB bt(bits * M, ph.kbits);
      for (int b = 0; b < bits; b++) ph.put_rows(g, L, planes.get() + b * L.plane_bytes, &bt, b * M);
      lanes_rows(0, 1 + g.c, 1, bt,
                 [&](int64_t r, uint64_t* aw) -> int64_t {
                   std::memcpy(aw, ph.arows.data() + r * rw, sizeof(uint64_t) * static_cast<size_t>(rw));
                   return 0;
                 },
                 [&](int64_t r, const int32_t* c) { epi.store(r, c); });
    }
    // The clipped-STE mask over the sample's dX at once (expand_bits' vector path instead of a bit test per element).
    if (x_mask) mask_bits(1, chw, dx + s * chw, x_mask + s * words32(chw), dx + s * chw);
  });
}

}  // namespace fqt
