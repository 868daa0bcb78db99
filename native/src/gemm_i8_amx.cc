// AMX-INT8 tile kernel for gemm_i8 (packed format in gemm_i8.h with NR = 16, G = 64, rows padded
// to 32, an even number of panels). One step computes a 32 × 32 int32 block in four C tiles:
//   tmm0..3 = C[2 × 2], tmm4/5 = A rows 0-15 / 16-31 (16 × 64 u8), tmm6/7 = B panels (16 quads × 16 cols).
// tdpbusd multiplies u8 (a + 128) by s8, like vpdpbusd; the epilogue is the AVX-512 one of the
// other tiers. The kernel asks the OS for tile state once (cpu_features.cc); the tile configuration
// is per thread, so every task loads it and releases the tiles when done.
#include "common.h"
#include "gemm_i8.h"

#if FQT_X86
#include <immintrin.h>

#include <cstring>

namespace fqt {
namespace i8 {
namespace {

#pragma GCC push_options
#pragma GCC target("amx-tile,amx-int8,avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")

struct alignas(64) TileConfig {
  uint8_t palette_id;
  uint8_t start_row;
  uint8_t reserved[14];
  uint16_t colsb[16];
  uint8_t rows[16];
};

void load_config() {
  TileConfig cfg;
  std::memset(&cfg, 0, sizeof(cfg));
  cfg.palette_id = 1;
  for (int t = 0; t < 8; t++) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  _tile_loadconfig(&cfg);
}

// f[0..16) += fl(fl(sa·sb) · (d − 128·cs)), exactly the reference epilogue (see gemm_i8_kernel.h).
inline void epi16(float* f, const double* d, const int32_t* cs, float sa, const float* sb) {
  const __m512i c = _mm512_loadu_si512(cs);
  const __m512d k128 = _mm512_set1_pd(128.0);
  const __m512d dlo = _mm512_sub_pd(_mm512_loadu_pd(d), _mm512_mul_pd(k128, _mm512_cvtepi32_pd(_mm512_castsi512_si256(c))));
  const __m512d dhi = _mm512_sub_pd(_mm512_loadu_pd(d + 8), _mm512_mul_pd(k128, _mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(c, 1))));
  const __m512 s = _mm512_mul_ps(_mm512_set1_ps(sa), _mm512_loadu_ps(sb));
  const __m256 slo = _mm512_castps512_ps256(s);
  const __m256 shi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(s), 1));
  const __m256 tlo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(slo), dlo));
  const __m256 thi = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(shi), dhi));
  _mm512_storeu_ps(f, _mm512_add_ps(_mm512_loadu_ps(f), _mm512_insertf32x8(_mm512_castps256_ps512(tlo), thi, 1)));
}

// 32 rows (i, padded) × panels (jp, jp + 1) → C rows [i, i + rows) and their valid columns.
void block32(const Packed& p, int64_t i, int64_t jp, float* c, int rows) {
  alignas(64) int32_t ibuf[32 * 32];
  alignas(64) double ddot[32 * 32];
  alignas(64) float facc[32 * 32];
  for (int e = 0; e < 32 * 32; e++) facc[e] = 0.0f;
  const uint8_t* a0 = p.ap + i * p.kp;
  const uint8_t* a1 = a0 + 16 * p.kp;
  const int8_t* b0 = p.bp + jp * p.kp * 16;
  const int8_t* b1 = b0 + p.kp * 16;
  for (int64_t kb = 0; kb < p.nkb; kb++) {
    const int64_t off = kb * p.P, plen = p.block_padded(kb);
    for (int64_t s0 = 0; s0 < plen; s0 += KSUB) {
      const int64_t s1 = s0 + KSUB < plen ? s0 + KSUB : plen;
      _tile_zero(0);
      _tile_zero(1);
      _tile_zero(2);
      _tile_zero(3);
      for (int64_t kk = off + s0; kk < off + s1; kk += 64) {
        _tile_loadd(4, a0 + kk, p.kp);
        _tile_loadd(5, a1 + kk, p.kp);
        _tile_loadd(6, b0 + kk * 16, 64);  // 16 quads (64 k) × 16 columns × 4 bytes, rows of 64 bytes
        _tile_loadd(7, b1 + kk * 16, 64);
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
      }
      _tile_stored(0, ibuf, 128);
      _tile_stored(1, ibuf + 16, 128);
      _tile_stored(2, ibuf + 16 * 32, 128);
      _tile_stored(3, ibuf + 16 * 32 + 16, 128);
      for (int e = 0; e < 32 * 32; e += 8) {
        __m512d v = _mm512_cvtepi32_pd(_mm256_load_si256(reinterpret_cast<const __m256i*>(ibuf + e)));
        if (s0 != 0) v = _mm512_add_pd(v, _mm512_load_pd(ddot + e));
        _mm512_store_pd(ddot + e, v);
      }
    }
    for (int half = 0; half < 2; half++) {
      const int64_t panel = jp + half;
      const int32_t* cs = p.cs + (panel * p.nkb + kb) * 16;
      const float* sb = p.sbp + (panel * p.nkb + kb) * 16;
      for (int r = 0; r < rows; r++) {
        const int e = r * 32 + half * 16;
        epi16(facc + e, ddot + e, cs, p.sa[(i + r) * p.nkb + kb], sb);
      }
    }
  }
  const int64_t j = jp * 16;
  const int64_t ncols = p.n - j < 32 ? p.n - j : 32;
  for (int r = 0; r < rows; r++)
    for (int64_t t = 0; t < ncols; t++) c[(i + r) * p.n + j + t] = facc[r * 32 + t];
}

void tile(const Packed& p, int64_t i0, int64_t i1, int64_t p0, int64_t p1, float* c) {
  load_config();
  for (int64_t jp = p0; jp < p1; jp += 2) {
    for (int64_t i = i0; i < i1; i += 32) block32(p, i, jp, c, static_cast<int>(i1 - i < 32 ? i1 - i : 32));
  }
  _tile_release();
}

#pragma GCC pop_options

}  // namespace

TileFn amx_tile_fn() { return &tile; }

}  // namespace i8
}  // namespace fqt
#endif

#if FQT_X86
namespace fqt {
namespace i8 {
#pragma GCC push_options
#pragma GCC target("amx-tile,amx-int8,avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
// Peak loop for the benchmark: `iters` × 4 tdpbusd on resident tiles; returns int8 MACs done.
int64_t amx_peak_macs(int64_t iters) {
  alignas(64) static const uint8_t buf[16 * 64] = {1};
  alignas(64) int32_t out[16 * 16];
  load_config();
  _tile_loadd(4, buf, 64);
  _tile_loadd(5, buf, 64);
  _tile_loadd(6, buf, 64);
  _tile_loadd(7, buf, 64);
  _tile_zero(0);
  _tile_zero(1);
  _tile_zero(2);
  _tile_zero(3);
  for (int64_t it = 0; it < iters; it++) {
    _tile_dpbusd(0, 4, 6);
    _tile_dpbusd(1, 4, 7);
    _tile_dpbusd(2, 5, 6);
    _tile_dpbusd(3, 5, 7);
  }
  _tile_stored(0, out, 64);
  _tile_release();
  return iters * 4 * 16 * 16 * 64 + (out[0] & 0);
}
#pragma GCC pop_options
}  // namespace i8
}  // namespace fqt
#endif
