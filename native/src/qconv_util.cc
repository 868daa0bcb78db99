// Helpers of the fused integer convolutions (see qconv_util.h).
#include "qconv_util.h"

namespace fqt {
namespace qconv {

LaneBlocks lane_blocks(int64_t lanes, int L) {
  LaneBlocks b;
  int64_t vectors = (lanes + L - 1) / L;
  b.padded = vectors * L;
  for (int64_t l = 0; vectors > 0;) {
    const int nv = static_cast<int>(std::min<int64_t>(kMaxNv, vectors));
    b.nv.push_back(nv);
    b.l0.push_back(l);
    l += nv * L;
    vectors -= nv;
  }
  return b;
}

namespace {
template <class Valid>
AxisClasses classes(int64_t count, int64_t taps, Valid valid) {
  AxisClasses c;
  c.id.resize(static_cast<size_t>(count));
  for (int64_t o = 0; o < count; o++) {
    uint64_t m = 0;
    for (int64_t k = 0; k < taps; k++)
      if (valid(o, k)) m |= uint64_t{1} << k;
    const auto it = std::find(c.masks.begin(), c.masks.end(), m);
    c.id[static_cast<size_t>(o)] = static_cast<int32_t>(it - c.masks.begin());
    if (it == c.masks.end()) c.masks.push_back(m);
  }
  return c;
}
}  // namespace

AxisClasses forward_classes(int64_t out, int64_t taps, int64_t stride, int64_t pad, int64_t size) {
  return classes(out, taps, [&](int64_t o, int64_t k) { const int64_t i = o * stride - pad + k; return i >= 0 && i < size; });
}

AxisClasses input_classes(int64_t size, int64_t taps, int64_t stride, int64_t pad, int64_t out) {
  return classes(size, taps, [&](int64_t i, int64_t k) {
    const int64_t t = i + pad - k;
    return t >= 0 && t % stride == 0 && t / stride < out;
  });
}

Groups groups_of(const Operand& o, int shift) {
  Groups g;
  for (int64_t i = 0; i < o.groups; i++) {
    g.offset.push_back(static_cast<double>(o.offset[i]));
    g.scale.push_back(static_cast<double>(o.scale[i]));
    g.zero.push_back(static_cast<double>(o.zero[i] + shift));
  }
  return g;
}

void conv_walk(const Kernels& tk, int nv, const Walk& w, int64_t count, double* r, int32_t* buf) {
  const int64_t width = nv * tk.lanes;
  const int64_t per_tap = 4 * w.nq, chunk = std::max<int64_t>(1, kMaxTermsInt32 / std::max<int64_t>(1, per_tap));
  for (int64_t r0 = 0; r0 < count; r0 += tk.conv_mr[nv]) {
    const int mr = static_cast<int>(std::min<int64_t>(tk.conv_mr[nv], count - r0));
    double* dst = r + r0 * width;
    for (int t0 = 0; t0 < w.ntaps; t0 += static_cast<int>(chunk)) {
      const int nt = static_cast<int>(std::min<int64_t>(chunk, w.ntaps - t0));
      tk.conv[nv][mr](w.a + r0 * w.a_step, w.a_step, w.tap_a + t0, w.tap_b + t0, nt, w.nq, buf);
      if (t0 == 0)
        for (int64_t e = 0; e < mr * width; e++) dst[e] = static_cast<double>(buf[e]);
      else
        for (int64_t e = 0; e < mr * width; e++) dst[e] += static_cast<double>(buf[e]);
    }
    if (w.ntaps == 0) std::fill(dst, dst + mr * width, 0.0);
  }
}

void epilogue_run(const EpiLanes& e, const double* r, const double* sa, const int32_t* cls, int64_t count, int64_t lanes,
                  float* out) {
  const int64_t width = e.width;
  for (int64_t i = 0; i < count; i++) {
    const double* __restrict ri = r + i * width;
    float* __restrict oi = out + i * width;
    const int64_t c = cls[i];
    if (e.kv[c] == 0) {
      std::fill(oi, oi + lanes, 0.0f);
      continue;
    }
    const double s = sa[i], ua = s - e.kza;
    const double* __restrict alpha = e.alpha;
    const double* __restrict zb = e.zb;
    const double* __restrict cc = e.c;
    if (e.kappa == nullptr && e.gamma == nullptr) {
      for (int64_t j = 0; j < lanes; j++) oi[j] = static_cast<float>(alpha[j] * (ri[j] - zb[j] * s + cc[j]));
    } else if (e.gamma == nullptr) {
      const double* __restrict kap = e.kappa + c * width;
      for (int64_t j = 0; j < lanes; j++) oi[j] = static_cast<float>(alpha[j] * (ri[j] - zb[j] * s + cc[j]) + kap[j]);
    } else {
      for (int64_t j = 0; j < lanes; j++) {
        double v = alpha[j] * (ri[j] - zb[j] * s + cc[j]);
        if (e.kappa) v += e.kappa[c * width + j];
        if (e.obnz[j]) v += e.delta ? e.gamma[j] * ua + e.delta[c * width + j] : e.gamma[j] * ua;
        oi[j] = static_cast<float>(v);
      }
    }
  }
}

}  // namespace qconv
}  // namespace fqt
