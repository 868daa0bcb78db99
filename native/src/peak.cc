// Peak loops for `npm run bench -- kernels`: every pool thread runs an instruction loop with enough
// independent accumulators to hide latency until a common deadline; the result is operations per
// second over all threads, the denominator of the "% of peak" the benchmark prints.
#include <immintrin.h>

#include <atomic>
#include <chrono>
#include <cstring>

#include "common.h"
#include "gemm_i8.h"
#include "thread_pool.h"

namespace fqt {
namespace {

using Clock = std::chrono::steady_clock;

// Runs body(iters) → ops on every thread until `seconds` have passed; returns ops / second.
template <class Body>
double run_peak(double seconds, Body body) {
  std::atomic<int64_t> total{0};
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  parallel_for(num_threads(), [&](int64_t, int) {
    int64_t ops = 0;
    while (Clock::now() < deadline) ops += body(20000);
    total += ops;
  });
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(total.load()) / elapsed;
}

// Makes a register value opaque to the optimizer (free at run time), so loop-invariant work in the
// timed loops is not hoisted out of them.
#define FQT_OPAQUE(x) __asm__ volatile("" : "+v"(x))

volatile float g_sink_f;
volatile int32_t g_sink_i;

int64_t fma_scalar(int64_t iters) {
  float acc[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  const float x = 0.999f, y = 1e-3f;
  for (int64_t it = 0; it < iters; it++)
    for (int j = 0; j < 8; j++) acc[j] = acc[j] * x + y;
  g_sink_f = acc[0] + acc[7];
  return iters * 8 * 2;
}

int64_t int8_scalar(int64_t iters) {
  int32_t acc[8] = {0};
  volatile int8_t va = 3, vb = -5;
  const int32_t a = va, b = vb;
  for (int64_t it = 0; it < iters; it++)
    for (int j = 0; j < 8; j++) acc[j] += (a + j) * b;
  g_sink_i = acc[0] + acc[7];
  return iters * 8 * 2;
}

int64_t popcount_scalar(int64_t iters) {
  uint64_t acc[4] = {0}, x = 0x123456789abcdefull;
  for (int64_t it = 0; it < iters; it++)
    for (int j = 0; j < 4; j++) acc[j] += __builtin_popcountll((x + j) ^ static_cast<uint64_t>(it));
  g_sink_i = static_cast<int32_t>(acc[0] + acc[3]);
  return iters * 4 * 64 * 2;
}

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma,popcnt")
int64_t fma_avx2(int64_t iters) {
  __m256 acc[12];
  for (int j = 0; j < 12; j++) acc[j] = _mm256_set1_ps(static_cast<float>(j));
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
  for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 12
    for (int j = 0; j < 12; j++) acc[j] = _mm256_fmadd_ps(acc[j], x, y);
  __m256 s = acc[0];
  for (int j = 1; j < 12; j++) s = _mm256_add_ps(s, acc[j]);
  g_sink_f = _mm256_cvtss_f32(s);
  return iters * 12 * 8 * 2;
}
// vpmaddubsw → vpmaddwd(1) → vpaddd: the usual (saturating) int8 sequence, 32 MACs per step.
int64_t int8_avx2(int64_t iters) {
  __m256i acc[8];
  for (int j = 0; j < 8; j++) acc[j] = _mm256_set1_epi32(j);
  const __m256i a = _mm256_set1_epi8(3), b = _mm256_set1_epi8(-5), one = _mm256_set1_epi16(1);
  __m256i a2 = a;
  for (int64_t it = 0; it < iters; it++) {
    FQT_OPAQUE(a2);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
      acc[j] = _mm256_add_epi32(acc[j], _mm256_madd_epi16(_mm256_maddubs_epi16(a2, b), one));
  }
  __m256i s = acc[0];
  for (int j = 1; j < 8; j++) s = _mm256_add_epi32(s, acc[j]);
  g_sink_i = _mm256_extract_epi32(s, 0);
  return iters * 8 * 32 * 2;
}
// The exact sequence gemm_i8 uses on AVX2: two vpmaddwd on even/odd bytes per 32 MACs.
int64_t int8_exact_avx2(int64_t iters) {
  __m256i acc[8];
  for (int j = 0; j < 8; j++) acc[j] = _mm256_set1_epi32(j);
  const __m256i alo = _mm256_set1_epi16(3), ahi = _mm256_set1_epi16(7), blo = _mm256_set1_epi16(-5),
                bhi = _mm256_set1_epi16(9);
  __m256i a0 = alo, a1 = ahi;
  for (int64_t it = 0; it < iters; it++) {
    FQT_OPAQUE(a0);
    FQT_OPAQUE(a1);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
      acc[j] = _mm256_add_epi32(acc[j], _mm256_add_epi32(_mm256_madd_epi16(a0, blo), _mm256_madd_epi16(a1, bhi)));
  }
  __m256i s = acc[0];
  for (int j = 1; j < 8; j++) s = _mm256_add_epi32(s, acc[j]);
  g_sink_i = _mm256_extract_epi32(s, 0);
  return iters * 8 * 32 * 2;
}
int64_t popcount_avx2(int64_t iters) {  // the nibble-table sequence of gemm_b1 on 256-bit words
  const __m256i lut = _mm256_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4,
                                       0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4);
  const __m256i low = _mm256_set1_epi8(0x0f);
  __m256i acc[6], v[6];
  for (int j = 0; j < 6; j++) acc[j] = _mm256_setzero_si256(), v[j] = _mm256_set1_epi32(0x1234567 * (j + 1));
  const __m256i w = _mm256_set1_epi32(0x7654321);
  for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 6
    for (int j = 0; j < 6; j++) {
      FQT_OPAQUE(v[j]);
      const __m256i x = _mm256_xor_si256(v[j], w);
      const __m256i c = _mm256_add_epi8(_mm256_shuffle_epi8(lut, _mm256_and_si256(x, low)),
                                        _mm256_shuffle_epi8(lut, _mm256_and_si256(_mm256_srli_epi16(x, 4), low)));
      acc[j] = _mm256_add_epi64(acc[j], _mm256_sad_epu8(c, _mm256_setzero_si256()));
    }
  __m256i s = acc[0];
  for (int j = 1; j < 6; j++) s = _mm256_add_epi64(s, acc[j]);
  g_sink_i = static_cast<int32_t>(_mm256_extract_epi64(s, 0));
  return iters * 6 * 256 * 2;
}
int64_t popcount_popcnt(int64_t iters) {  // scalar popcnt instruction, 4 chains
  uint64_t acc[4] = {0}, x = 0x123456789abcdefull;
  for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) acc[j] += _mm_popcnt_u64((x + j) ^ static_cast<uint64_t>(it));
  g_sink_i = static_cast<int32_t>(acc[0] + acc[3]);
  return iters * 4 * 64 * 2;
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
int64_t fma_avx512(int64_t iters) {
  __m512 acc[16];
  for (int j = 0; j < 16; j++) acc[j] = _mm512_set1_ps(static_cast<float>(j));
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
  for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 16
    for (int j = 0; j < 16; j++) acc[j] = _mm512_fmadd_ps(acc[j], x, y);
  __m512 s = acc[0];
  for (int j = 1; j < 16; j++) s = _mm512_add_ps(s, acc[j]);
  g_sink_f = _mm512_reduce_add_ps(s);
  return iters * 16 * 16 * 2;
}
int64_t int8_avx512_emul(int64_t iters) {
  __m512i acc[8];
  for (int j = 0; j < 8; j++) acc[j] = _mm512_set1_epi32(j);
  const __m512i alo = _mm512_set1_epi16(3), ahi = _mm512_set1_epi16(7), blo = _mm512_set1_epi16(-5),
                bhi = _mm512_set1_epi16(9);
  __m512i a0 = alo, a1 = ahi;
  for (int64_t it = 0; it < iters; it++) {
    FQT_OPAQUE(a0);
    FQT_OPAQUE(a1);
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
      acc[j] = _mm512_add_epi32(acc[j], _mm512_add_epi32(_mm512_madd_epi16(a0, blo), _mm512_madd_epi16(a1, bhi)));
  }
  __m512i s = acc[0];
  for (int j = 1; j < 8; j++) s = _mm512_add_epi32(s, acc[j]);
  g_sink_i = _mm512_reduce_add_epi32(s);
  return iters * 8 * 64 * 2;
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma")
int64_t int8_vnni(int64_t iters) {
  __m512i acc[12];
  for (int j = 0; j < 12; j++) acc[j] = _mm512_set1_epi32(j);
  const __m512i a = _mm512_set1_epi8(3), b = _mm512_set1_epi8(-5);
  for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 12
    for (int j = 0; j < 12; j++) acc[j] = _mm512_dpbusd_epi32(acc[j], a, b);
  __m512i s = acc[0];
  for (int j = 1; j < 12; j++) s = _mm512_add_epi32(s, acc[j]);
  g_sink_i = _mm512_reduce_add_epi32(s);
  return iters * 12 * 64 * 2;
}
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vpopcntdq,avx2,fma")
int64_t popcount_vpopcntdq(int64_t iters) {
  __m512i acc[8], v[8];
  for (int j = 0; j < 8; j++) acc[j] = _mm512_setzero_si512(), v[j] = _mm512_set1_epi32(0x1234567 * (j + 1));
  const __m512i w = _mm512_set1_epi32(0x7654321);
  for (int64_t it = 0; it < iters; it++)
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++) {
      FQT_OPAQUE(v[j]);
      acc[j] = _mm512_add_epi64(acc[j], _mm512_popcnt_epi64(_mm512_xor_si512(v[j], w)));
    }
  __m512i s = acc[0];
  for (int j = 1; j < 8; j++) s = _mm512_add_epi64(s, acc[j]);
  g_sink_i = static_cast<int32_t>(_mm512_reduce_add_epi64(s));
  return iters * 8 * 512 * 2;
}
#pragma GCC pop_options
#endif

}  // namespace

double peak_fma_flops(Tier t, double s) {
#if FQT_X86
  if (t >= Tier::Avx512) return run_peak(s, fma_avx512);
  if (t >= Tier::Avx2) return run_peak(s, fma_avx2);
#endif
  return run_peak(s, fma_scalar);
}

double peak_int8_ops(Tier t, double s) {
#if FQT_X86
  if (t >= Tier::Amx) return run_peak(s, [](int64_t it) { return 2 * i8::amx_peak_macs(it / 64 + 1); });
  if (t >= Tier::Avx512) return cpu().avx512vnni ? run_peak(s, int8_vnni) : run_peak(s, int8_avx512_emul);
  if (t >= Tier::Avx2) return run_peak(s, int8_avx2);
#endif
  return run_peak(s, int8_scalar);
}

double peak_int8_exact_ops(Tier t, double s) {
#if FQT_X86
  if (t >= Tier::Avx512) return peak_int8_ops(t, s);  // vpdpbusd / tdpbusd are exact; else the emulation
  if (t >= Tier::Avx2) return run_peak(s, int8_exact_avx2);
#endif
  return run_peak(s, int8_scalar);
}

double peak_popcount_ops(Tier t, double s) {
#if FQT_X86
  if (t >= Tier::Avx512 && cpu().avx512vpopcntdq) return run_peak(s, popcount_vpopcntdq);
  if (t >= Tier::Avx2) {
    const double lut = run_peak(s / 2, popcount_avx2), pc = run_peak(s / 2, popcount_popcnt);
    return lut > pc ? lut : pc;
  }
#endif
  return run_peak(s, popcount_scalar);
}

}  // namespace fqt
