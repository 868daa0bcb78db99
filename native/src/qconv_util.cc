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
