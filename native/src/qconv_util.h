// Helpers shared by the drivers of the fused integer convolutions (qconv_passes.cc, qconv_gw.cc): lane blocks,
// valid-tap classes, the operands' affine groups, weight panels, the micro-kernel walk and the vectorised epilogue.
#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

#include "qconv.h"

namespace fqt {
namespace qconv {

inline int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// int32 R stays exact while (terms per sum)·128·255 < 2^31.
constexpr int64_t kMaxTermsInt32 = (int64_t{1} << 31) / (128 * 255) - 1;

// Vector blocks of L lanes over `lanes` outputs: blocks of up to kMaxNv vectors.
struct LaneBlocks {
  std::vector<int> nv;      // vectors per block
  std::vector<int64_t> l0;  // first lane of each block
  int64_t padded = 0;       // lanes rounded up to whole vectors
};
LaneBlocks lane_blocks(int64_t lanes, int L);

// Valid-tap classes along one axis (see AxisClasses in qconv.h). forward: taps k with o·stride − pad + k in
// [0, size); input: taps k with (i + pad − k) divisible by stride and (i + pad − k)/stride in [0, out).
AxisClasses forward_classes(int64_t out, int64_t taps, int64_t stride, int64_t pad, int64_t size);
AxisClasses input_classes(int64_t size, int64_t taps, int64_t stride, int64_t pad, int64_t out);

// The affine groups of one operand, shifted into its byte domain (zero as double: every use is exact).
struct Groups {
  std::vector<double> offset, scale, zero;
};
Groups groups_of(const Operand& o, int shift);

// The epilogue of src/backend/qconv-kernels.ts for one output (U, Ua, Ub exact integers held in doubles).
inline double epilogue(double u, double ua, double ub, double kv, double oa, double sa, double ob, double sb) {
  if (kv == 0) return 0.0;
  double r = sa * sb * u;
  if (oa != 0) r += oa * sb * ub;
  if (ob != 0) r += oa != 0 ? ob * sa * ua + kv * oa * ob : ob * sa * ua;
  return r;
}

// The vector operand of a conv-shaped pass: per lane block, per tap, [q][nv·L][4] unsigned bytes with value
// get(lane, tap, k) (already shifted), 0 past `lanes` or `kdepth`. block_offset[b]: byte offset of block b.
template <class Get>
std::vector<uint8_t> pack_panels(const LaneBlocks& lb, int L, int64_t taps, int64_t kdepth, int64_t lanes, Get get,
                                 std::vector<int64_t>* block_offset) {
  const int64_t nq = round_up(kdepth, 4) / 4;
  std::vector<uint8_t> out(static_cast<size_t>(taps * nq * lb.padded * 4));
  block_offset->clear();
  int64_t off = 0;
  for (size_t b = 0; b < lb.nv.size(); b++) {
    block_offset->push_back(off);
    const int64_t width = lb.nv[b] * L;
    for (int64_t t = 0; t < taps; t++) {
      uint8_t* dst = out.data() + off + t * nq * width * 4;
      for (int64_t q = 0; q < nq; q++)
        for (int64_t j = 0; j < width; j++)
          for (int64_t e = 0; e < 4; e++) {
            const int64_t lane = lb.l0[b] + j, k = 4 * q + e;
            dst[(q * width + j) * 4 + e] = lane < lanes && k < kdepth ? get(lane, t, k) : 0;
          }
    }
    off += taps * nq * width * 4;
  }
  return out;
}

// One run of a conv-shaped pass: `count` outputs whose A data start at a and step by a_step bytes.
struct Walk {
  const int8_t* a;
  int64_t a_step;
  const int64_t* tap_a;         // A byte offset per tap
  const uint8_t* const* tap_b;  // B panel per tap (of this lane block)
  int ntaps;
  int64_t nq;                   // quads of K per tap
};

// R + add[j] of the run (exact integers as doubles) into r[j·lane_stride + i·step] for lanes j < nv·L and outputs
// i < count, through MR-sized micro-kernel calls; taps are split into chunks whose int32 sums stay exact.
// buf: ≥ 2·kMaxMr·nv·L int32.
inline void conv_walk(const Kernels& tk, int nv, const Walk& w, int64_t count, const double* add, double* r, int64_t lane_stride,
                      int64_t step, int32_t* buf) {
  tk.walk(tk, nv, w, count, add, r, lane_stride, step, buf);
}

// The forward / grad-input epilogue over a span of positions of one lane block, with r = R + c (see qconv.h):
//   out[j·plane + p] = f32((sa·sb_j)·(r − zb_j·SA[p]) [+ (oa·sb_j)·Ub_j[p]])
// Ub_j[p]: Σ (b' − zb') over position p's valid taps; beta (= oa·sb_j) and ub are null when oa = 0. The terms of
// W offsets (ob ≠ 0) and positions without valid taps are patched afterwards by the scalar `epilogue`.
struct PlaneEpi {
  int64_t lanes, count;
  const double* alpha;  // [lanes]
  const double* zb;     // [lanes]
  const double* beta;   // [lanes] or null
  const double* ub;     // [lanes][ub_stride] or null
  int64_t ub_stride;
};
inline void plane_epilogue(const Kernels& tk, const PlaneEpi& e, const double* r, int64_t r_stride, const double* sa, float* out,
                           int64_t plane) {
  tk.epilogue(e, r, r_stride, sa, out, plane);
}

// The thread's scratch of `count` elements of T in slot `slot` (contents undefined).
template <class T>
T* scratch(int slot, int64_t count);

}  // namespace qconv
}  // namespace fqt
