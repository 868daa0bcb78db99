// Internal interface of the int8 GEMM: the packed operands shared by every tier.
//
// Packing (one format for all tiers, so the VNNI/AMX layouts are exercised by the AVX2 and scalar
// tiers that run everywhere):
//   ap  [mPad][kp] u8 = a + 128 (xor 0x80), each K-block zero-padded (code 128 = value 0) to a
//       multiple of G bytes: block kb starts at byte kb·P, P = roundup(kBlock, G).
//   bp  [panel][kp/4][NR][4] s8: for every k-quad, 4 consecutive k of NR columns (VNNI / AMX B-tile
//       layout, padding = 0); cs [panel][nkb][NR] int32 column sums per block; sbp [panel][nkb][NR]
//       the column scales sB[j, kb].
// u8·s8 dot products then give Σ(a+128)·b = Σa·b + 128·Σb, corrected exactly with cs.
#pragma once
#include <cstdint>

namespace fqt {
namespace i8 {

// Integer partial sums run over slices of at most KSUB bytes, then go to float64: the biased int32
// sum stays exact (KSUB·255·128 < 2^31) and a block of any length is exact (|dot| < 2^53).
constexpr int64_t KSUB = 8192;

struct Packed {
  int64_t m, n, k, kblock, nkb, G, P, kp, nr, panels, mpad;
  const uint8_t* ap;
  const int8_t* bp;
  const int32_t* cs;
  const float* sbp;
  const float* sa;  // caller's scaleA [m][nkb]
  int64_t block_len(int64_t kb) const { return kb + 1 < nkb ? kblock : k - kb * kblock; }
  int64_t block_padded(int64_t kb) const { return (block_len(kb) + G - 1) / G * G; }
};

// Computes C rows [i0, i1) × panels [p0, p1) (columns clipped to n); ldc = n.
using TileFn = void (*)(const Packed&, int64_t i0, int64_t i1, int64_t p0, int64_t p1, float* c);

#if FQT_X86
TileFn amx_tile_fn();  // gemm_i8_amx.cc: panels of NR = 16, G = 64, 32 × 32 register tiles
int64_t amx_peak_macs(int64_t iters);  // benchmark peak loop (tdpbusd on resident tiles)
#endif

}  // namespace i8
}  // namespace fqt
