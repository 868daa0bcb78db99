// Fused binary convolution kernels of 1-bit FQT (src/backend/bconv-kernels.ts is the specification, the reference
// twins are src/backend/ref/bconv.ts). Shared declarations and small helpers of bconv_pack.cc, bconv_fwd.cc,
// bconv_gi.cc and bconv_gw.cc.
//
// Every GEMM of a binary layer runs on packed bits through the tiered bit GEMMs of gemm_b1.cc (gemm_b1: XOR-popcount,
// gemm_bitplane: AND-popcount per bit plane, METHODS §3.6), on operands these files build per chunk of samples from
// the bits the layer keeps (never from fp32 im2col rows):
//   forward      rows of the channel-packed sign image of X (one row per output pixel, kh segments of kw·C bits)
//                against W's rows in the same order; padding taps are corrected by a per-pixel table.
//   grad-input   rows of the channel-packed bit planes of the dY codes of one kept sample (one row per input pixel,
//                the taps of one stride phase) against the flipped, transposed W signs: a transposed conv, col2im fused.
//   grad-weight  bit planes of the dY codes of the kept channels along (sample, pixel) against X's signs shifted by
//                each tap (plus one validity row per tap), the reduction axis running over the whole batch.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace fqt {

struct BGeom {
  int64_t n, c, h, w, oc, kh, kw, stride, pad, oh, ow;
  explicit BGeom(const int32_t* g)
      : n(g[0]), c(g[1]), h(g[2]), w(g[3]), oc(g[4]), kh(g[5]), kw(g[6]), stride(g[7]), pad(g[8]), oh(g[9]), ow(g[10]) {}
  int64_t hw() const { return h * w; }
  int64_t chw() const { return c * h * w; }
  int64_t P() const { return oh * ow; }
  int64_t K() const { return c * kh * kw; }
  int64_t taps() const { return kh * kw; }
};

// The dY quantizer of a backward kernel (bconv-kernels.ts "Gradient codes"): q = [rowDiv, rowMod, colDiv, bits,
// stochastic, seed, stream, blocked] and the per-group parameters.
struct DyQuant {
  int64_t row_div, row_mod, col_div, col_groups;
  int bits;
  bool stochastic, blocked;
  uint32_t key;
  const float *offset, *qscale, *inv;
  const int32_t* zero_point;

  int64_t group(int64_t r, int64_t o) const { return (r / row_div % row_mod) * col_groups + o / col_div; }
  bool pruned(int64_t g) const { return offset[g] == 0.0f && qscale[g] == 0.0f; }
  // lo = f32(offset − f32(zeroPoint·scale)), the value of code 0.
  float lo(int64_t g) const {
    const float zs = static_cast<float>(static_cast<double>(zero_point[g]) * qscale[g]);
    return offset[g] - zs;
  }
  // Codes of n consecutive pixels of sample s, channel o: v = f32(dy·scale) already in `v`.
  void codes(const float* v, int64_t n, int64_t s, int64_t o, int64_t P, int64_t oc, uint8_t* out) const;
};

DyQuant dy_quant(const int32_t* q, int64_t oc, const float* offset, const float* qscale, const float* inv,
                 const int32_t* zero_point);

// The epilogue of the bit-plane backward GEMMs: f32(f32(Δ·dot) + f32(lo·sum)) (both products exact in double).
inline float affine_out(float delta, int64_t dot, float lo, int64_t sum) {
  const float a = static_cast<float>(static_cast<double>(delta) * static_cast<double>(dot));
  const float b = static_cast<float>(static_cast<double>(lo) * static_cast<double>(sum));
  return a + b;
}

// Bits of packSigns' layout: row r of k bits starts at 32-bit word r·ceil(k/32).
inline int64_t words32(int64_t k) { return (k + 31) / 32; }
inline int bit_at(const uint32_t* row, int64_t i) { return static_cast<int>((row[i >> 5] >> (i & 31)) & 1u); }
// 64 bits starting at bit `pos` of a bit string (little-endian); reads up to 8 bytes past the last full byte.
inline uint64_t bits64_at(const uint8_t* base, int64_t pos) {
  uint64_t lo, hi = 0;
  std::memcpy(&lo, base + (pos >> 3), 8);
  const int sh = static_cast<int>(pos & 7);
  if (sh == 0) return lo;
  std::memcpy(&hi, base + (pos >> 3) + 8, 1);
  return (lo >> sh) | (hi << (64 - sh));
}
inline int32_t popcount8(uint8_t v) {
  v = static_cast<uint8_t>(v - ((v >> 1) & 0x55));
  v = static_cast<uint8_t>((v & 0x33) + ((v >> 2) & 0x33));
  return (v + (v >> 4)) & 0x0f;
}
inline uint64_t low_mask(int64_t nbits) { return nbits >= 64 ? ~0ull : (1ull << nbits) - 1; }
// Bits [pos, pos + len) of a row of 32-bit words (len ≤ 32), reading only the words they lie in.
inline uint64_t bit_field(const uint32_t* row, int64_t pos, int64_t len) {
  const int64_t w = pos >> 5, sh = pos & 31;
  uint64_t v = row[w] >> sh;
  if (sh + len > 32) v |= static_cast<uint64_t>(row[w + 1]) << (32 - sh);
  return v & low_mask(len);
}

// out[i] = f32(x[i]·a). Plain locals and restrict: with the build's -fno-strict-aliasing a store through `out` would
// otherwise reload every bound reachable through a reference, and the loop would not vectorize.
inline void scale_run(const float* __restrict x, int64_t n, float a, float* __restrict out) {
  for (int64_t i = 0; i < n; i++) out[i] = x[i] * a;
}

// 8×8 bit transpose (Hacker's Delight, transpose8rS64): byte t, bit k in → byte k, bit t out.
inline uint64_t transpose8(uint64_t x) {
  uint64_t t;
  t = (x ^ (x >> 7)) & 0x00AA00AA00AA00AAull;
  x = x ^ t ^ (t << 7);
  t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCCull;
  x = x ^ t ^ (t << 14);
  t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0ull;
  return x ^ t ^ (t << 28);
}

// W's signs tap-major: byte (o·taps + t)·cbb + ch/8, bit ch%8 = sign of w[o, ch, t] (cbb = ceil(c/8), zero past c),
// from packSigns(oc, c·kh·kw) rows by 8×8 bit transposes (bconv_pack.cc).
std::vector<uint8_t> tap_major_weights(const BGeom& g, const uint32_t* w_signs);

template <class T>
std::unique_ptr<T[]> uninit_array(int64_t n) {
  return std::unique_ptr<T[]>(new T[static_cast<size_t>(n > 0 ? n : 1)]);
}

// ---- kernels (argument order of the TypeScript BinaryConvKernels interface) ----
void pack_signs_clip(int64_t rows, int64_t k, const float* x, float clip, uint32_t* signs, uint32_t* mask, int32_t* nan);
void unpack_signs(int64_t rows, int64_t k, const uint32_t* signs, float* out);
void mask_bits(int64_t rows, int64_t k, const float* g, const uint32_t* mask, float* out);
void sample_channel_range(int64_t n, int64_t c, int64_t hw, const float* x, float* mins, float* maxs);
void binary_conv_forward(const BGeom& g, const uint32_t* x_signs, const uint32_t* w_signs, const float* scale, float* y);
void binary_conv_scale_grad(const BGeom& g, const uint32_t* x_signs, const uint32_t* w_signs, const float* dy, float* da,
                            float* mins, float* maxs);
void binary_conv_grad_input(const BGeom& g, const float* dy, const float* scale, const DyQuant& q, const uint32_t* w_signs,
                            const uint32_t* x_mask, float* dx);
void binary_conv_grad_weight(const BGeom& g, const float* dy, const float* scale, const DyQuant& q,
                             const uint32_t* x_signs, float* dw);

}  // namespace fqt
