// Direct fp32 convolution of stride-1 layers (conv.cc dispatches here; other strides keep im2col + sgemm):
//   forward      Y_s  = W ⋆ pad(X_s)                         (implicit GEMM on padded planes, see the kernel header)
//   grad-input   dX_s = W' ⋆ pad'(dY_s),  W'[ci][o][i][j] = W[o][ci][kh−1−i][kw−1−j], pad' = k − 1 − pad
//                (a stride-1 transposed convolution is the correlation of dY with the flipped kernel)
//   grad-weight  dW[o][k] = Σ_s Σ_q dYwide_s[o][q] · P_s[off[k] + q]   (dY widened to the padded row pitch
//                with zeros in the discarded columns, so every product outside the image is 0)
// Nothing batch-sized is written besides the outputs: each task pads one sample (or a few, for dW) into
// per-thread scratch. dW partials are per fixed group of 8 samples, added in group order; inside a group,
// blocks of samples (as many as fit in L2, from the shape only) share vector accumulators — so results do
// not depend on the thread count. Float32 accumulation in a different order than the reference: the
// tolerance is the conv bound of native/README.md.
#include "conv_direct.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "fp32_simd.h"
#include "scratch.h"
#include "thread_pool.h"

namespace fqt {
namespace {

using FwdPlanesFn = void (*)(int64_t, int64_t, const float*, const int32_t*, const float*, int64_t, float*);
using DwPlanesFn = void (*)(int64_t, int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t,
                            const int32_t*, float*);

namespace scalar {
using V = simd::scalar::V;
constexpr int CMR = 4, CNV = 4, DMR = 4, DKC = 2;
#include "conv_direct_kernel.h"
}  // namespace scalar

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
using V = simd::avx2::V;
// forward: 4 weight rows × 24 pixels = 12 accumulators + 3 pixel vectors + 1 broadcast of 16 ymm registers;
// grad-weight: 4 dY rows × 3 taps = 12 accumulators + 3 tap vectors (the dY vector is a memory operand).
constexpr int CMR = 4, CNV = 3, DMR = 4, DKC = 3;
#include "conv_direct_kernel.h"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
namespace avx512 {
using V = simd::avx512::V;
constexpr int CMR = 8, CNV = 3, DMR = 8, DKC = 3;  // 24 accumulators of 32 zmm registers
#include "conv_direct_kernel.h"
}  // namespace avx512
#pragma GCC pop_options
#endif

struct Kernels {
  int64_t cmr;  // weight rows per forward tile (packed block height)
  int64_t vw;   // vector width in floats (wide rows are padded to a multiple)
  FwdPlanesFn fwd;
  DwPlanesFn dw;
};

Kernels kernels_for(Tier t) {
#if FQT_X86
  if (t >= Tier::Avx512) return {avx512::CMR, avx512::V::W, &avx512::fwd_planes, &avx512::dw_planes};
  if (t >= Tier::Avx2) return {avx2::CMR, avx2::V::W, &avx2::fwd_planes, &avx2::dw_planes};
#endif
  (void)t;
  return {scalar::CMR, scalar::V::W, &scalar::fwd_planes, &scalar::dw_planes};
}

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// `cin` planes of h × w, zero-padded by (ph, pw), convolved with a kh × kw window at stride `st`. For st > 1
// the padded planes P are split into st² phase planes Q_ab[ci][y][x] = P[ci][st·y + a][st·x + b] (hq × wq), so
// output (oy, ox) reads tap (i, j) at Q_{i mod st, j mod st}[ci][oy + i div st][ox + j div st]: again a constant
// offset per tap plus the wide pixel q = oy·wq + ox, and the same tiles apply (st = 1: one phase, Q = P).
// Wide output: oh rows of `pitch` = wq pixels, padded to a whole vector. Every valid output reads inside its
// phase plane (st·(ow−1) + kw − 1 ≤ wp − 1 ⇒ ow − 1 + (kw−1) div st ≤ wq − 1, rows alike), and the largest
// offset plus the last wide pixel stays below st²·cin·hq·wq + (kw−1) div st + vw ≤ psize (a multiple of 16
// floats so consecutive samples stay 64-byte aligned).
struct Planes {
  int64_t cin, h, w, ph, pw, kh, kw, st, hp, wp, hq, wq, oh, ow, pitch, ncols, psize;
  Planes(int64_t cin_, int64_t h_, int64_t w_, int64_t ph_, int64_t pw_, int64_t kh_, int64_t kw_, int64_t vw,
         int64_t st_ = 1)
      : cin(cin_), h(h_), w(w_), ph(ph_), pw(pw_), kh(kh_), kw(kw_), st(st_), hp(h_ + 2 * ph_), wp(w_ + 2 * pw_),
        hq((hp + st_ - 1) / st_), wq((wp + st_ - 1) / st_), oh((hp - kh_) / st_ + 1), ow((wp - kw_) / st_ + 1),
        pitch(wq), ncols(round_up(oh * wq, vw)), psize(round_up(st_ * st_ * cin_ * hq * wq + kw_ + vw, 16)) {}

  int64_t phase_size() const { return cin * hq * wq; }

  std::vector<int32_t> offsets() const {
    std::vector<int32_t> off(static_cast<size_t>(cin * kh * kw));
    size_t k = 0;
    for (int64_t ci = 0; ci < cin; ci++)
      for (int64_t i = 0; i < kh; i++)
        for (int64_t j = 0; j < kw; j++)
          off[k++] = static_cast<int32_t>(((i % st) * st + j % st) * phase_size() + ci * hq * wq + (i / st) * wq + j / st);
    return off;
  }

  // src [cin][h][w] → dst [psize]: the (phase) planes with zero borders and tail. Phases no tap reads
  // (a ≥ kh or b ≥ kw, e.g. three of the four of a 1×1 stride-2 window) stay zero.
  void pad(const float* src, float* dst) const {
    std::memset(dst, 0, sizeof(float) * static_cast<size_t>(psize));
    if (st == 1) {
      for (int64_t ci = 0; ci < cin; ci++)
        for (int64_t y = 0; y < h; y++)
          std::memcpy(dst + ci * hp * wp + (y + ph) * wp + pw, src + (ci * h + y) * w, sizeof(float) * static_cast<size_t>(w));
      return;
    }
    for (int64_t a = 0; a < std::min(st, kh); a++)
      for (int64_t b = 0; b < std::min(st, kw); b++) {
        float* q = dst + (a * st + b) * phase_size();
        // Q_ab[ci][y][x] = x[ci][st·y + a − ph][st·x + b − pw] where inside the image.
        const int64_t x0 = std::max<int64_t>(0, (pw - b + st - 1) / st), x1 = std::min<int64_t>(wq, (w + pw - b + st - 1) / st);
        for (int64_t ci = 0; ci < cin; ci++)
          for (int64_t y = 0; y < hq; y++) {
            const int64_t sy = st * y + a - ph;
            if (sy < 0 || sy >= h) continue;
            const float* row = src + (ci * h + sy) * w;
            float* out = q + (ci * hq + y) * wq;
            for (int64_t x = x0; x < x1; x++) out[x] = row[st * x + b - pw];
          }
      }
  }

  // `rows` planes [oh][ow] → wide rows [rows][ncols] (pitch wq, zeros in the discarded pixels).
  void widen(const float* src, int64_t rows, float* dst) const {
    std::memset(dst, 0, sizeof(float) * static_cast<size_t>(rows * ncols));
    for (int64_t r = 0; r < rows; r++)
      for (int64_t y = 0; y < oh; y++)
        std::memcpy(dst + r * ncols + y * pitch, src + (r * oh + y) * ow, sizeof(float) * static_cast<size_t>(ow));
  }

  // wide rows [rows][ncols] → planes [rows][oh][ow] (the inverse of widen).
  void narrow(const float* src, int64_t rows, float* dst) const {
    for (int64_t r = 0; r < rows; r++)
      for (int64_t y = 0; y < oh; y++)
        std::memcpy(dst + (r * oh + y) * ow, src + r * ncols + y * pitch, sizeof(float) * static_cast<size_t>(ow));
  }
};

// Weights as the forward tiles read them: blocks of cmr rows, [rows_p/cmr][kk][cmr], rows ≥ `rows` zero.
template <class Get>
std::vector<float> pack_weights(int64_t rows, int64_t kk, int64_t cmr, Get get) {
  const int64_t rows_p = round_up(rows, cmr);
  std::vector<float> out(static_cast<size_t>(rows_p * kk), 0.0f);
  for (int64_t r = 0; r < rows; r++)
    for (int64_t k = 0; k < kk; k++) out[static_cast<size_t>(((r / cmr) * kk + k) * cmr + r % cmr)] = get(r, k);
  return out;
}

constexpr int64_t kSamplesPerGroup = 8;        // dW partials (the same groups as the im2col path)
constexpr int64_t kBlockBytes = 192 * 1024;    // dW sample block: padded inputs + wide dY stay in L2

}  // namespace

bool conv_direct_applies(const ConvGeom& g) {
  if (g.stride < 1 || g.c <= 0 || g.oc <= 0 || g.oh <= 0 || g.ow <= 0) return false;
  if (g.oh != (g.h + 2 * g.pad - g.kh) / g.stride + 1 || g.ow != (g.w + 2 * g.pad - g.kw) / g.stride + 1) return false;
  // Offsets into the (phase) planes are int32.
  const int64_t hq = (g.h + 2 * g.pad + g.stride - 1) / g.stride, wq = (g.w + 2 * g.pad + g.stride - 1) / g.stride;
  return g.stride * g.stride * g.c * hq * wq < std::numeric_limits<int32_t>::max() / 2;
}

bool conv_direct_dx_applies(const ConvGeom& g) {
  // dX as the correlation of dY padded by k − 1 − pad ≥ 0 with the flipped kernel (stride 1 only).
  return g.stride == 1 && g.pad <= g.kh - 1 && g.pad <= g.kw - 1 && conv_direct_applies(g) &&
         g.oc * (g.h + g.kh) * (g.w + g.kw) < std::numeric_limits<int32_t>::max() / 2;
}

void conv_direct_forward(const ConvGeom& g, const float* x, const float* weight, float* y) {
  const Kernels kr = kernels_for(active_tier());
  const Planes P(g.c, g.h, g.w, g.pad, g.pad, g.kh, g.kw, kr.vw, g.stride);
  const int64_t kk = g.c * g.kh * g.kw, rows_p = round_up(g.oc, kr.cmr);
  const std::vector<int32_t> off = P.offsets();
  const std::vector<float> wpack = pack_weights(g.oc, kk, kr.cmr, [&](int64_t r, int64_t k) { return weight[r * kk + k]; });
  parallel_for(g.n, [&](int64_t s, int) {
    float* xp = thread_scratch(2).as<float>(static_cast<size_t>(P.psize + rows_p * P.ncols));
    float* wide = xp + P.psize;
    P.pad(x + s * g.c * g.h * g.w, xp);
    kr.fwd(rows_p, kk, wpack.data(), off.data(), xp, P.ncols, wide);
    P.narrow(wide, g.oc, y + s * g.oc * g.oh * g.ow);
  });
}

void conv_direct_backward(const ConvGeom& g, const float* x, const float* weight, const float* dy, float* dx, float* dw) {
  const Kernels kr = kernels_for(active_tier());
  const int64_t kk = g.c * g.kh * g.kw, wsize = g.oc * kk, in_size = g.c * g.h * g.w, out_size = g.oc * g.oh * g.ow;
  // dW: padded inputs and dY widened to their pitch. dX: dY padded by k − 1 − pad, flipped transposed weights.
  const Planes PX(g.c, g.h, g.w, g.pad, g.pad, g.kh, g.kw, kr.vw, g.stride);
  const Planes PD(g.oc, g.oh, g.ow, dx ? g.kh - 1 - g.pad : 0, dx ? g.kw - 1 - g.pad : 0, g.kh, g.kw, kr.vw);
  const int64_t kd = g.oc * g.kh * g.kw, crows_p = round_up(g.c, kr.cmr);
  const std::vector<int32_t> offx = dw ? PX.offsets() : std::vector<int32_t>();
  const std::vector<int32_t> offd = dx ? PD.offsets() : std::vector<int32_t>();
  const std::vector<float> wflip = dx ? pack_weights(g.c, kd, kr.cmr, [&](int64_t ci, int64_t k) {
    const int64_t o = k / (g.kh * g.kw), i = k / g.kw % g.kh, j = k % g.kw;
    return weight[((o * g.c + ci) * g.kh + (g.kh - 1 - i)) * g.kw + (g.kw - 1 - j)];
  }) : std::vector<float>();
  const int64_t dyw_size = g.oc * PX.ncols, block_floats = PX.psize + dyw_size;
  int64_t ns = kSamplesPerGroup;
  while (ns > 1 && ns * block_floats * static_cast<int64_t>(sizeof(float)) > kBlockBytes) ns /= 2;
  const int64_t groups = (g.n + kSamplesPerGroup - 1) / kSamplesPerGroup;
  // Per call, not a kept scratch buffer: groups·wsize floats is ~150 MB for 512-channel layers at batch 128.
  // Every group writes its whole partial, so no zero fill.
  std::unique_ptr<float[]> partial_buf(dw ? new float[static_cast<size_t>(std::max<int64_t>(1, groups * wsize))] : nullptr);
  float* partial = partial_buf.get();

  parallel_for(groups, [&](int64_t grp, int) {
    const size_t xdw = dw ? static_cast<size_t>(ns * block_floats) : 0, xdx = dx ? static_cast<size_t>(PD.psize + crows_p * PD.ncols) : 0;
    float* buf = thread_scratch(2).as<float>(xdw + xdx);
    float* xp = buf;
    float* dyw = buf + ns * PX.psize;
    float* dyp = buf + xdw;
    float* wide = dyp + PD.psize;
    float* acc = dw ? partial + grp * wsize : nullptr;
    if (dw) std::memset(acc, 0, sizeof(float) * static_cast<size_t>(wsize));
    const int64_t s1 = std::min(g.n, (grp + 1) * kSamplesPerGroup);
    for (int64_t s0 = grp * kSamplesPerGroup; s0 < s1; s0 += ns) {
      const int64_t nb = std::min(ns, s1 - s0);
      if (dw) {
        for (int64_t b = 0; b < nb; b++) {
          PX.pad(x + (s0 + b) * in_size, xp + b * PX.psize);
          PX.widen(dy + (s0 + b) * out_size, g.oc, dyw + b * dyw_size);
        }
        kr.dw(g.oc, kk, PX.ncols, nb, dyw, dyw_size, xp, PX.psize, offx.data(), acc);
      }
      if (dx) {
        for (int64_t s = s0; s < s0 + nb; s++) {
          PD.pad(dy + s * out_size, dyp);
          kr.fwd(crows_p, kd, wflip.data(), offd.data(), dyp, PD.ncols, wide);
          PD.narrow(wide, g.c, dx + s * in_size);
        }
      }
    }
  });
  if (dw) sum_group_partials(partial, groups, wsize, dw);
}

}  // namespace fqt
