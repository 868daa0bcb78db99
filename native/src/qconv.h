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
#include <memory>
#include <vector>

#include "common.h"

namespace fqt {
namespace qconv {

// n elements that are NOT value-initialised, for the packed operands and their sums: the packing writes every
// element, and clearing them first (std::vector<T>(n)) was a serial memset of ~2 MiB per stage-1 call while the
// pool's threads waited.
template <class T>
std::unique_ptr<T[]> packed_buffer(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(n)]);
}

// One operand: codes (bytes of an Int8Array or Uint8Array) and its affine groups.
struct Operand {
  const uint8_t* codes;
  bool is_signed;
  const float* offset;
  const float* scale;
  const int32_t* zero;
  int64_t groups;
};

// Micro-kernels of one ISA tier (qconv_micro.h). conv: MR outputs (A data of output r at a + off[r]) × NV vectors of
// L lanes over a list of taps, each tap nq quads of K; writes int32 R to out[MR][NV·L]. gw: MR rows (4 bytes apart in A) × NV vectors
// over nq quads of samples at one pixel; adds into out when `accumulate`.
using ConvMicro = void (*)(const int8_t* a, const int64_t* off, const int64_t* tap_a, const uint8_t* const* tap_b, int ntaps,
                           int64_t nq, int32_t* out);
using GwMicro = void (*)(const int8_t* a, int64_t a_quad_stride, const uint8_t* b, int64_t b_quad_stride, int64_t nq, int32_t* out,
                         bool accumulate);
// conv for MR outputs of one output row whose A data lie a compile-time stride apart (output r at a + r·stride): the
// rows need one address register, not MR of them. Same sums as ConvMicro.
using ConvRowMicro = void (*)(const int8_t* a, const int64_t* tap_a, const uint8_t* const* tap_b, int ntaps, int64_t nq, int32_t* out);

constexpr int kMaxNv = 4;
constexpr int kMaxMr = 24;
// The row strides (bytes of A between neighbouring outputs of a row) with row micro-kernels: 4·k channels at
// stride 1 or 2 for the common channel counts.
constexpr int kRowStrides[] = {16, 32, 64, 128};
constexpr int kNumRowStrides = 4;

// out[j·out_stride + r] = in[r·width + j] for r < rows, j < width (width a multiple of the tier's lanes).
using TransposeFn = void (*)(const int32_t* in, int rows, int64_t width, int32_t* out, int64_t out_stride);

struct Walk;
struct TileEpi;

struct Kernels {
  int lanes;                      // L: int32 lanes of one vector
  TransposeFn transpose;          // the micro-kernel tile, lane-major
  // qconv_util.h: conv_run; qconv_gw.cc's per-pixel block epilogue (total[j] += epi).
  void (*run)(const Kernels& tk, int nv, const Walk& w, int64_t count, int64_t pos0, int64_t step, const double* sA, const TileEpi& e,
              float* out, int64_t plane, int32_t* buf);
  // rows r of acc[r·width + j] (lanes j < lanes): A's group r at oas/sas/zas[r·g_step], its Σ a' at sum_a[r·sa_step].
  void (*flush)(const int32_t* acc, int64_t width, int64_t rows, const int32_t* sum_b, int64_t lanes, const int32_t* sum_a, int64_t sa_step,
                const double* oas, const double* sas, const double* zas, int64_t g_step, double n, double ob, double sb, double zb,
                double* total);
  int conv_mr[kMaxNv + 1];        // largest MR of the conv micro-kernel per NV
  int row_mr[kMaxNv + 1];         // largest MR of the row micro-kernels per NV (0: the tier has none)
  int gw_mr[kMaxNv + 1];          // MR of the grad-weight micro-kernel per NV
  ConvMicro conv[kMaxNv + 1][kMaxMr + 1];
  GwMicro gw[kMaxNv + 1][kMaxMr + 1];
  ConvRowMicro conv_row[kNumRowStrides][kMaxNv + 1][kMaxMr + 1];  // null where the tier has none
};

const Kernels& tier_kernels();  // for the active ISA tier

// Signed-byte (A) and unsigned-byte (B) domain shifts of an operand's codes.
inline int shift_a(const Operand& o) { return o.is_signed ? 0 : -128; }
inline int shift_b(const Operand& o) { return o.is_signed ? 128 : 0; }
inline int32_t code(const Operand& o, int64_t i) {
  return o.is_signed ? static_cast<int32_t>(static_cast<int8_t>(o.codes[i])) : static_cast<int32_t>(o.codes[i]);
}

// Packing (qconv_pack.cc); all parallel over samples or pixels. Sources are NHWC codes [n][rows][cols][ch] (the
// conv input, or dY in layer layout); `shift` moves them into the A (signed) or B (unsigned) byte domain.
// Padded NHWC (the broadcast operand: shift = shift_a, out holds int8 values): out [n][rp][cp][ch4], the source at (top, left), absent pixels holding the sample's shifted zero
// point (zero[n or 0] + shift) and channels ≥ ch holding 0; sums [n][rp][cp] of the real channels.
void pack_nhwc(const Operand& src, int shift, int64_t n, int64_t rows, int64_t cols, int64_t ch, int64_t ch4, int64_t rp,
               int64_t cp, int64_t top, int64_t left, int8_t* out, int32_t* sums);
// Sample quads: out [pixel][n4/4][chl][4] (samples ≥ n, channels ≥ ch: 0) and sums [pixel][chl] = Σ_n (0 past ch).
void pack_quads(const Operand& src, int shift, int64_t n, int64_t pixels, int64_t ch, int64_t n4, int64_t chl, uint8_t* out,
                int32_t* sums);

}  // namespace qconv

void qconv_forward(const ConvGeom& g, const qconv::Operand& x, const qconv::Operand& w, float* y);
// bhq (ngroups 0: none): dY's codes are of Z = T·dY (BHQ), and T⁻¹ is applied to dX group by group while it is in cache.
void qconv_grad_input(const ConvGeom& g, const qconv::Operand& dy, const qconv::Operand& w, const BhqGroups& bhq, float* dx);
void qconv_grad_weight(const ConvGeom& g, const qconv::Operand& dy, const qconv::Operand& x, float* dw);

}  // namespace fqt
