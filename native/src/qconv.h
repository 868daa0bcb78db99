// Fused integer convolutions (src/backend/qconv-kernels.ts is the contract, src/backend/ref/qconv.ts the
// specification): the three passes of a quantized conv as implicit GEMMs on integer codes. Internal interface
// between the drivers (qconv.cc), the operand packing (qconv_pack.cc) and the per-tier micro-kernels
// (qconv_micro.h).
//
// Every pass multiplies a broadcast operand A (x forward; dy backward) held as signed bytes a' = code + shiftA
// (shiftA = −128 for unsigned codes) by a vector operand B (w forward and grad-input; x grad-weight) held as
// unsigned bytes b' = code + shiftB (shiftB = +128 for signed codes): the u8 × s8 dot products of VNNI
// (vpdpbusd). With the shifted zero points za' = za + shiftA, zb' = zb + shiftB and the sums SA = Σa', SB = Σb'
// over the same terms, U = Σ(a − za)(b − zb) = R − zb'·SA − za'·SB + K·za'·zb' exactly (R = Σ a'·b').
// Absent taps (zero padding) hold the zero point (a' = za' or b' = zb'), so they add nothing to U.
#pragma once
#include <cstdint>
#include <vector>

#include "common.h"

namespace fqt {
namespace qconv {

// One operand: codes (bytes of an Int8Array or Uint8Array) and its affine groups.
struct Operand {
  const uint8_t* codes;
  bool is_signed;
  const float* offset;
  const float* scale;
  const int32_t* zero;
  int64_t groups;
};

// Micro-kernels of one ISA tier (qconv_micro.h). conv: MR outputs × NV vectors of L lanes over a list of taps,
// each tap nq quads of K; writes int32 R to out[MR][NV·L]. gw: MR rows × NV vectors over nq quads of samples at
// one pixel; adds into out when `accumulate`.
using ConvMicro = void (*)(const int8_t* a, int64_t a_step, const int64_t* tap_a, const uint8_t* const* tap_b, int ntaps,
                           int64_t nq, int32_t* out);
using GwMicro = void (*)(const int8_t* a, int64_t a_row_stride, const uint8_t* b, int64_t b_quad_stride, int64_t nq,
                         int32_t* out, bool accumulate);

constexpr int kMaxNv = 4;
constexpr int kMaxMr = 24;

struct Kernels {
  int lanes;                      // L: int32 lanes of one vector
  int conv_mr[kMaxNv + 1];        // largest MR of the conv micro-kernel per NV
  int gw_mr[kMaxNv + 1];          // MR of the grad-weight micro-kernel per NV
  ConvMicro conv[kMaxNv + 1][kMaxMr + 1];
  GwMicro gw[kMaxNv + 1][kMaxMr + 1];
};

const Kernels& tier_kernels();  // for the active ISA tier

// Signed-byte (A) and unsigned-byte (B) domain shifts of an operand's codes.
inline int shift_a(const Operand& o) { return o.is_signed ? 0 : -128; }
inline int shift_b(const Operand& o) { return o.is_signed ? 128 : 0; }
inline int32_t code(const Operand& o, int64_t i) {
  return o.is_signed ? static_cast<int32_t>(static_cast<int8_t>(o.codes[i])) : static_cast<int32_t>(o.codes[i]);
}

// Valid-tap classes along one axis: for each output index the bitmask of kernel taps that land in range, the
// distinct masks, and each index's class id.
struct AxisClasses {
  std::vector<int32_t> id;      // per index
  std::vector<uint64_t> masks;  // per class
};

// Packing (qconv_pack.cc); all parallel over samples or pixels.
// x [n, c, h, w] → xp [n][h+2p][w+2p][c4] signed bytes (pads: the sample's za'; channels ≥ c: 0) and cs, the
// per-pixel sums of a' over the real channels.
void pack_input_nhwc(const Operand& x, const ConvGeom& g, int64_t c4, int8_t* xp, int32_t* cs);
// dy rows [n·oh·ow, oc] → dp [n][ohp][owp][oc4] signed bytes at offset (oy0, ox0) of the padded grid, pads = za',
// and cs per padded pixel.
void pack_grad_nhwc(const Operand& dy, const ConvGeom& g, int64_t oc4, int64_t ohp, int64_t owp, int64_t oy0, int64_t ox0,
                    int8_t* dp, int32_t* cs);
// dy rows → dg [oc][oh·ow][n4] signed bytes (samples ≥ n: 0) and sa[oc][oh·ow] = Σ_n a'.
void pack_grad_by_channel(const Operand& dy, const ConvGeom& g, int64_t n4, int8_t* dg, int32_t* sa);
// x [n, c, h, w] → xg [h·w][n4/4][cl][4] unsigned bytes (samples ≥ n, channels ≥ c: 0) and sb[h·w][cl] = Σ_n b'
// (0 past c).
void pack_input_by_pixel(const Operand& x, const ConvGeom& g, int64_t n4, int64_t cl, uint8_t* xg, int32_t* sb);

}  // namespace qconv

void qconv_forward(const ConvGeom& g, const qconv::Operand& x, const qconv::Operand& w, float* y);
void qconv_grad_input(const ConvGeom& g, const qconv::Operand& dy, const qconv::Operand& w, float* dx);
void qconv_grad_weight(const ConvGeom& g, const qconv::Operand& dy, const qconv::Operand& x, float* dw);

}  // namespace fqt
