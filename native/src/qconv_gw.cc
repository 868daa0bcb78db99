// Grad-weight pass of the fused integer convolutions (see qconv.h): dW[o, ci, tap] = Σ over samples and the tap's
// valid output pixels of dY·X, with dY as the broadcast operand laid out [o][pixel][sample] and X as the vector
// operand [pixel][sample quad][ci][4] (sample quads are untouched by the tap shift, so every stride and padding
// reads aligned quads). Tasks are (tap, block of output channels, lane block of input channels); each output is
// finished by its task in pixel order. Per-feature dY groups (one per (o, pixel)) make one K-block per pixel whose
// float64 epilogue joins a running total, exactly as src/backend/ref/qconv.ts sums them.
#include <algorithm>
#include <vector>

#include "qconv_util.h"
#include "thread_pool.h"

namespace fqt {
using namespace qconv;

namespace {

// [lo, hi) of output indices whose input index o·stride − pad + k lies in [0, size).
void valid_range(int64_t k, int64_t size, int64_t out, int64_t stride, int64_t pad, int64_t* lo, int64_t* hi) {
  *lo = std::max<int64_t>(0, (pad - k + stride - 1) / stride);
  *hi = size - 1 + pad - k < 0 ? 0 : std::min<int64_t>(out, (size - 1 + pad - k) / stride + 1);
}

}  // namespace

void qconv_grad_weight(const ConvGeom& g, const Operand& dy, const Operand& x, float* dw) {
  const Kernels& tk = tier_kernels();
  const int L = tk.lanes;
  const int64_t T = g.kh * g.kw, K = g.c * T, P = g.oh * g.ow, st = g.stride;
  if (g.oc * K == 0) return;
  if (g.n == 0) {  // empty sums (an empty batch has no groups to read either)
    std::fill(dw, dw + g.oc * K, 0.0f);
    return;
  }
  const bool feature = dy.groups == g.oc * P && P > 1;
  const int64_t n4 = round_up(std::max<int64_t>(g.n, 1), 4), nq = n4 / 4;
  const LaneBlocks lb = lane_blocks(g.c, L);
  const int64_t cl = lb.padded;
  // Both operands as sample quads: dY [pixel][quad][oc][4] (broadcast rows o are 4 bytes apart), X [pixel][quad][cl][4].
  const auto dgr = packed_buffer<uint8_t>(P * nq * g.oc * 4);
  const auto sumA = packed_buffer<int32_t>(P * g.oc);
  const auto xg = packed_buffer<uint8_t>(g.h * g.w * nq * cl * 4);
  const auto sumB = packed_buffer<int32_t>(g.h * g.w * cl);
  pack_quads(dy, shift_a(dy), g.n, P, g.oc, n4, g.oc, dgr.get(), sumA.get());
  pack_quads(x, shift_b(x), g.n, g.h * g.w, g.c, n4, cl, xg.get(), sumB.get());
  const Groups gd = groups_of(dy, shift_a(dy)), gx = groups_of(x, shift_b(x));
  const double zb = gx.zero[0], sb = gx.scale[0], ob = gx.offset[0], n = static_cast<double>(g.n);
  int nvMax = 1;
  for (const int nv : lb.nv) nvMax = std::max(nvMax, nv);
  // Blocks of output channels: balanced, at most the micro-kernel's rows, and at least two (two threads).
  const int64_t oblocks = std::max<int64_t>(std::min<int64_t>(2, g.oc), (g.oc + tk.gw_mr[nvMax] - 1) / tk.gw_mr[nvMax]);
  const int64_t mrTask = (g.oc + oblocks - 1) / oblocks, nlb = static_cast<int64_t>(lb.nv.size());
  // Pixels between flushes of the int32 sums (one pixel adds n4 terms per output).
  const int64_t flushEvery = std::max<int64_t>(1, kMaxTermsInt32 / n4);

  parallel_for(T * oblocks * nlb, [&](int64_t task, int) {
    const int64_t t = task / (oblocks * nlb), o0 = (task / nlb) % oblocks * mrTask, b = task % nlb;
    const int nv = lb.nv[static_cast<size_t>(b)];
    const int64_t width = nv * L, rows = std::min<int64_t>(mrTask, g.oc - o0), l0 = lb.l0[static_cast<size_t>(b)];
    const int64_t lanes = std::min<int64_t>(width, g.c - l0), ky = t / g.kw, kx = t % g.kw;
    int64_t oyLo, oyHi, oxLo, oxHi;
    valid_range(ky, g.h, g.oh, st, g.pad, &oyLo, &oyHi);
    valid_range(kx, g.w, g.ow, st, g.pad, &oxLo, &oxHi);
    std::vector<int32_t> acc(static_cast<size_t>(kMaxMr * kMaxNv * L));
    std::vector<double> total(static_cast<size_t>(rows * width), 0.0), sbValid(static_cast<size_t>(width), 0.0);
    std::vector<double> saValid(static_cast<size_t>(rows), 0.0);
    int64_t pixels = 0, sinceFlush = 0;
    for (int64_t oy = oyLo; oy < oyHi; oy++) {
      for (int64_t ox = oxLo; ox < oxHi; ox++) {
        const int64_t p = oy * g.ow + ox, pix = (oy * st - g.pad + ky) * g.w + (ox * st - g.pad + kx);
        const int32_t* sB = sumB.get() + pix * cl + l0;
        tk.gw[nv][rows](reinterpret_cast<const int8_t*>(dgr.get()) + (p * nq * g.oc + o0) * 4, g.oc * 4,
                        xg.get() + pix * nq * cl * 4 + l0 * 4, cl * 4, nq, acc.data(), !feature && sinceFlush > 0);
        pixels++;
        if (feature) {
          const size_t gi = static_cast<size_t>(p * g.oc + o0);
          tk.flush(acc.data(), width, rows, sB, lanes, sumA.get() + p * g.oc + o0, 1, gd.offset.data() + gi, gd.scale.data() + gi,
                   gd.zero.data() + gi, 1, n, ob, sb, zb, total.data());
          continue;
        }
        for (int64_t r = 0; r < rows; r++) saValid[static_cast<size_t>(r)] += sumA[static_cast<size_t>(p * g.oc + o0 + r)];
        for (int64_t j = 0; j < lanes; j++) sbValid[static_cast<size_t>(j)] += sB[j];
        if (++sinceFlush == flushEvery) {
          for (int64_t e = 0; e < rows * width; e++) total[static_cast<size_t>(e)] += acc[static_cast<size_t>(e)];
          sinceFlush = 0;
        }
      }
    }
    if (!feature && sinceFlush > 0)
      for (int64_t e = 0; e < rows * width; e++) total[static_cast<size_t>(e)] += acc[static_cast<size_t>(e)];
    const double kv = n * static_cast<double>(pixels);
    for (int64_t r = 0; r < rows; r++) {
      const int64_t o = o0 + r;
      const size_t gi = static_cast<size_t>(dy.groups == 1 ? 0 : o);
      for (int64_t j = 0; j < lanes; j++) {
        const double tot = total[static_cast<size_t>(r * width + j)];
        float& out = dw[o * K + (l0 + j) * T + t];
        if (feature) {
          out = static_cast<float>(tot);
          continue;
        }
        // Sums over the tap's valid pixels only: U = R − zb'·SA − za'·SB + Kv·za'·zb'.
        const double za = gd.zero[gi], sA = saValid[static_cast<size_t>(r)], sBv = sbValid[static_cast<size_t>(j)];
        const double u = tot - zb * sA - za * sBv + kv * za * zb;
        out = static_cast<float>(epilogue(u, sA - kv * za, sBv - kv * zb, kv, gd.offset[gi], gd.scale[gi], ob, sb));
      }
    }
  });
}

}  // namespace fqt
