// Fused fp32 convolution (the fp32 layer path; the direct kernels of conv_direct.cc take the forward and dW
// of every layer and dX of stride-1 layers, this file is the im2col path for the rest; quantized layers keep
// the explicit im2col rows that their quantizers need). Work is split by sample: each task im2cols ONE sample into a per-thread scratch buffer
// that stays in cache and runs the GEMMs on it, so the batch-sized column matrix (9× the input for a 3×3
// window) is never written to memory, and the output is produced directly in NCHW:
//   forward      Y_s[oc, ohw]  = W[oc, K] · cols_sᵀ
//   grad-input   dcols_s       = dY_sᵀ · W        → col2im → dX_s
//   grad-weight  dW            = Σ_s dY_s · cols_s  (partials per fixed group of samples, added in group
//                                                    order, so results do not depend on the thread count)
#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common.h"
#include "conv_direct.h"
#include "scratch.h"
#include "thread_pool.h"

namespace fqt {

namespace {
constexpr int64_t kSamplesPerGroup = 8;
}

void conv2d_forward(const ConvGeom& g, const float* x, const float* weight, float* y) {
  if (conv_direct_applies(g)) return conv_direct_forward(g, x, weight, y);
  const int64_t k = g.c * g.kh * g.kw, ohw = g.oh * g.ow, in_size = g.c * g.h * g.w;
  parallel_for(g.n, [&](int64_t s, int) {
    float* cols = thread_scratch(2).as<float>(static_cast<size_t>(ohw * k));
    float* rows = thread_scratch(3).as<float>(static_cast<size_t>(ohw * g.oc));
    im2col_one(x + s * in_size, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow, cols);
    // Y_sᵀ[ohw, oc] = cols_s · Wᵀ streams the big operand in place (only the small W is packed), then a
    // cache-resident transpose gives NCHW.
    sgemm_t_serial(ohw, g.oc, k, cols, false, weight, false, rows);
    transpose_serial(ohw, g.oc, rows, y + s * g.oc * ohw);
  });
}

void conv2d_backward(const ConvGeom& g, const float* x, const float* weight, const float* dy, float* dx, float* dw) {
  // The direct kernels take dW (any stride) and dX (stride 1); what they do not take runs below.
  const bool direct_dw = dw != nullptr && conv_direct_applies(g), direct_dx = dx != nullptr && conv_direct_dx_applies(g);
  if (direct_dw || direct_dx) conv_direct_backward(g, x, weight, dy, direct_dx ? dx : nullptr, direct_dw ? dw : nullptr);
  if (direct_dx) dx = nullptr;
  if (direct_dw) dw = nullptr;
  if (dx == nullptr && dw == nullptr) return;
  const int64_t k = g.c * g.kh * g.kw, ohw = g.oh * g.ow, in_size = g.c * g.h * g.w, wsize = g.oc * k;
  const int64_t groups = (g.n + kSamplesPerGroup - 1) / kSamplesPerGroup;
  std::vector<float> partial(dw ? static_cast<size_t>(groups * wsize) : 0);
  parallel_for(groups, [&](int64_t grp, int) {
    float* cols = thread_scratch(2).as<float>(static_cast<size_t>(ohw * k));
    float* tmp = dw ? thread_scratch(3).as<float>(static_cast<size_t>(wsize)) : nullptr;
    float* acc = dw ? partial.data() + grp * wsize : nullptr;
    const int64_t s1 = std::min(g.n, (grp + 1) * kSamplesPerGroup);
    for (int64_t s = grp * kSamplesPerGroup; s < s1; s++) {
      const float* dys = dy + s * g.oc * ohw;
      if (dw) {
        im2col_one(x + s * in_size, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow, cols);
        // dW_s[oc, K] = dY_s[oc, ohw] · cols_s[ohw, K]: A in place, B stored [k = ohw, n = K].
        sgemm_t_serial(g.oc, k, ohw, dys, false, cols, true, s == grp * kSamplesPerGroup ? acc : tmp);
        if (s != grp * kSamplesPerGroup)
          for (int64_t e = 0; e < wsize; e++) acc[e] += tmp[e];
      }
      if (dx) {
        // dcols_s[ohw, K] = dY_s[oc, ohw]ᵀ · W[oc, K]: A stored [k = oc, m = ohw], B stored [k = oc, n = K].
        sgemm_t_serial(ohw, k, g.oc, dys, true, weight, true, cols);
        col2im_one(cols, g.c, g.h, g.w, g.kh, g.kw, g.stride, g.pad, g.oh, g.ow, dx + s * in_size);
      }
    }
  });
  if (dw) sum_group_partials(partial.data(), groups, wsize, dw);
}

void sum_group_partials(const float* partial, int64_t groups, int64_t wsize, float* dw) {
  if (groups == 0) {
    std::memset(dw, 0, sizeof(float) * static_cast<size_t>(wsize));
    return;
  }
  parallel_range(wsize, 4096, [&](int64_t lo, int64_t hi) {
    for (int64_t e = lo; e < hi; e++) {
      float sum = partial[e];
      for (int64_t grp = 1; grp < groups; grp++) sum += partial[grp * wsize + e];
      dw[e] = sum;
    }
  });
}

}  // namespace fqt
