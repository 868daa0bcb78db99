// Helpers of the fused integer convolutions (see qconv_util.h).
#include "qconv_util.h"
#include "scratch.h"

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

template <class T>
T* scratch(int slot, int64_t count) {
  return thread_scratch(slot).as<T>(static_cast<size_t>(std::max<int64_t>(1, count)));
}
template double* scratch<double>(int, int64_t);
template int32_t* scratch<int32_t>(int, int64_t);
template int64_t* scratch<int64_t>(int, int64_t);

}  // namespace qconv
}  // namespace fqt
