// Helpers shared by the drivers of the fused integer convolutions (qconv_passes.cc, qconv_gw.cc): lane blocks,
// the operands' affine groups, weight panels, and the runs of micro-kernel tiles with their vectorised epilogue.
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

// One run of a conv-shaped pass: `count` outputs, the A data of output i at a + off[i].
struct Walk {
  const int8_t* a;
  const int64_t* off;
  const int64_t* tap_a;         // A byte offset per tap
  const uint8_t* const* tap_b;  // B panel per tap (of this lane block)
  int ntaps;
  int64_t nq;                   // quads of K per tap
  // Optional: the outputs form rows of row_len (the last may be shorter) within which off grows by row_stride bytes
  // per output; tiles then stay within a row and run on the row micro-kernels. 0: no such structure.
  int64_t row_len = 0, row_stride = 0;
};

// The epilogue constants of one lane block for one run of outputs of a forward or grad-input pass (qconv.h): with
// R the run's integer sums and SA each output's Σ a' over all its taps (absent ones hold the zero point),
//   out[j·plane + pos] = f32((sa·sb_j)·(R + c_j − zb_j·SA) [+ (oa·sb_j)·Ub_j(pos)])
// where Ub_j(pos) = Σ (b' − zb') over the valid taps of the output at plane position pos. The terms of W offsets
// (ob ≠ 0) and outputs without valid taps go through the scalar `epilogue` (generic).
struct TileEpi {
  int64_t width, lanes;   // the block's vector lanes; its real lanes
  const double* alpha;    // [width] sa·sb_j
  const double* zb;       // [width] zb'_j
  const double* c;        // [width] −za'·SB_j + K·za'·zb'_j over the run's terms
  const double* beta;     // [width] oa·sb_j, or null when oa = 0
  const double* ub;       // ub[j·ub_stride + pos], or null when oa = 0 and not generic
  int64_t ub_stride;
  bool generic;           // some ob ≠ 0, or some output of the plane has no valid tap
  const double* ob;       // [width] (generic)
  const double* sb;       // [width] (generic)
  const double* kv;       // [plane positions] valid terms (generic)
  double oa, sa, kza;     // A's group; K·za' (generic: Ua = SA − K·za')
  const double* ubt;      // Ub_j(pos) position-major: ubt[pos·ubt_stride + j] (the whole-tile epilogue)
  int64_t ubt_stride;
};

// A run of `count` outputs: R through the micro-kernels (tiles of balanced MR; taps in chunks whose int32 sums stay
// exact), finished in place by the epilogue: output i is plane position pos0 + i·step, sA[i] its Σ a'.
// buf: ≥ 2·kMaxMr·kMaxNv·L int32 and kMaxMr·kMaxNv·L doubles after them.
inline void conv_run(const Kernels& tk, int nv, const Walk& w, int64_t count, int64_t pos0, int64_t step, const double* sA,
                     const TileEpi& e, float* out, int64_t plane, int32_t* buf) {
  tk.run(tk, nv, w, count, pos0, step, sA, e, out, plane, buf);
}

// The thread's scratch of `count` elements of T in slot `slot` (contents undefined).
template <class T>
T* scratch(int slot, int64_t count);

}  // namespace qconv
}  // namespace fqt
