// fp32 NT GEMM C[m,n] = A[m,k]·B[n,k]ᵀ (sgemm_t: either operand stored transposed): output tiles of MT×NT run as independent tasks; inside a
// tile, B is packed per KC-slice into NR-wide panels and the tier's register-tiled micro-kernel
// streams A in place. Tiles (and the k-split used when the output is too small to occupy the
// threads) are chosen from the shape only, so results do not depend on the thread count.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "common.h"
#include "fp32_simd.h"
#include "scratch.h"
#include "thread_pool.h"

namespace fqt {
namespace {

using PanelFn = void (*)(int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, bool);

namespace scalar {
using V = simd::scalar::V;
constexpr int MR = 4, NV = 4;
#include "sgemm_kernel.h"
}  // namespace scalar

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2 {
using V = simd::avx2::V;
constexpr int MR = 6, NV = 2;  // 12 accumulators + 2 B vectors + 1 broadcast of 16 ymm registers
#include "sgemm_kernel.h"
}  // namespace avx2
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
namespace avx512 {
using V = simd::avx512::V;
constexpr int MR = 12, NV = 2;  // 24 accumulators of 32 zmm registers
#include "sgemm_kernel.h"
}  // namespace avx512
#pragma GCC pop_options
#endif

struct Config {
  int64_t nr;  // packed panel width
  int64_t mt;  // rows per tile (A block of mt × KC stays in L2)
  PanelFn panel;
};

Config config_for(Tier t) {
#if FQT_X86
  if (t >= Tier::Avx512) return {avx512::NR, 144, &avx512::panel};
  if (t >= Tier::Avx2) return {avx2::NR, 144, &avx2::panel};
#endif
  (void)t;
  return {scalar::NR, 64, &scalar::panel};
}

constexpr int64_t KC = 256;  // k-slice: one packed B panel of KC × NR floats stays in L1
constexpr int64_t NT = 256;  // columns per tile (a multiple of every NR)

// A GEMM operand viewed as [rows, k]: element (r, p) at ptr[r·rs + p·ks]. NT operands have ks = 1; a
// transposed operand (stored [k, rows]) has rs = 1, ks = rows.
struct Mat {
  const float* ptr;
  int64_t rs, ks;
};

// B rows [j0, j1), k-range [k0, k0+kc) → panels bp[(jp·kc + p)·nr + t], zero-padded columns.
void pack_b(const Mat& b, int64_t j0, int64_t j1, int64_t k0, int64_t kc, int64_t nr, float* bp) {
  const int64_t panels = (j1 - j0 + nr - 1) / nr;
  if (b.ks != 1 && b.rs == 1) {
    // Transposed B (stored [k, n]): read each k-row once, contiguously, and deal it out to the panels.
    for (int64_t p = 0; p < kc; p++) {
      const float* src = b.ptr + (k0 + p) * b.ks + j0;
      for (int64_t jp = 0; jp < panels; jp++) {
        float* dst = bp + jp * kc * nr + p * nr;
        const int64_t jb = jp * nr, valid = std::min(nr, j1 - j0 - jb);
        std::memcpy(dst, src + jb, sizeof(float) * static_cast<size_t>(valid));
        for (int64_t t = valid; t < nr; t++) dst[t] = 0.0f;
      }
    }
    return;
  }
  for (int64_t jp = 0; jp < panels; jp++) {
    float* dst = bp + jp * kc * nr;
    const int64_t jb = j0 + jp * nr, valid = std::min(nr, j1 - jb);
    for (int64_t t = 0; t < valid; t++) {
      const float* src = b.ptr + (jb + t) * b.rs + k0 * b.ks;
      for (int64_t p = 0; p < kc; p++) dst[p * nr + t] = src[p * b.ks];
    }
    for (int64_t t = valid; t < nr; t++)
      for (int64_t p = 0; p < kc; p++) dst[p * nr + t] = 0.0f;
  }
}

// A rows [i0, i1), k-range [k0, k0+kc) → ap[(i − i0)·kc + p] (only for transposed A; NT A is read in place).
void pack_a(const Mat& a, int64_t i0, int64_t i1, int64_t k0, int64_t kc, float* ap) {
  for (int64_t p = 0; p < kc; p++) {
    const float* src = a.ptr + (k0 + p) * a.ks;
    for (int64_t i = i0; i < i1; i++) ap[(i - i0) * kc + p] = src[i * a.rs];
  }
}

// C[i0:i1, j0:j1] (ldc) = A[i0:i1, k0:k1] · B[j0:j1, k0:k1]ᵀ on the calling thread.
void run_tile(const Config& cfg, const Mat& a, const Mat& b, int64_t i0, int64_t i1, int64_t j0, int64_t j1,
              int64_t k0, int64_t k1, float* c, int64_t ldc) {
  const int64_t panels = (j1 - j0 + cfg.nr - 1) / cfg.nr;
  float* bp = thread_scratch(0).as<float>(static_cast<size_t>(panels * cfg.nr * KC));
  float* ap = a.ks == 1 ? nullptr : thread_scratch(1).as<float>(static_cast<size_t>((i1 - i0) * KC));
  for (int64_t pc = k0; pc < k1; pc += KC) {
    const int64_t kc = std::min(KC, k1 - pc);
    pack_b(b, j0, j1, pc, kc, cfg.nr, bp);
    const float* ablk = a.ptr + i0 * a.rs + pc;
    int64_t lda = a.rs;
    if (ap) {
      pack_a(a, i0, i1, pc, kc, ap);
      ablk = ap;
      lda = kc;
    }
    for (int64_t jp = 0; jp < panels; jp++) {
      const int64_t jc = j0 + jp * cfg.nr;
      cfg.panel(i1 - i0, kc, ablk, lda, bp + jp * kc * cfg.nr, std::min(cfg.nr, j1 - jc), c + i0 * ldc + jc, ldc,
                pc > k0);
    }
  }
}

void gemm_mats(int64_t m, int64_t n, int64_t k, const Mat& a, const Mat& b, float* c) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    std::memset(c, 0, sizeof(float) * static_cast<size_t>(m * n));
    return;
  }
  const Config cfg = config_for(active_tier());
  const int64_t tm = (m + cfg.mt - 1) / cfg.mt, tn = (n + NT - 1) / NT, tiles = tm * tn;
  // Small output, long k (the grad-weight GEMM of a conv: k = batch·pixels): split k into fixed
  // chunks, compute partial products in parallel and add them in chunk order (deterministic).
  int64_t chunk = k, splits = 1;
  if (tiles < 8 && k >= 4 * 2048) {
    chunk = std::max<int64_t>(2048, (k / 32 + KC - 1) / KC * KC);
    splits = (k + chunk - 1) / chunk;
  }
  auto tile_task = [&](int64_t t, float* out, int64_t k0, int64_t k1) {
    const int64_t it = t / tn, jt = t % tn;
    const int64_t i0 = it * cfg.mt, j0 = jt * NT;
    run_tile(cfg, a, b, i0, std::min(m, i0 + cfg.mt), j0, std::min(n, j0 + NT), k0, k1, out, n);
  };
  if (splits == 1) {
    parallel_for(tiles, [&](int64_t t, int) { tile_task(t, c, 0, k); });
    return;
  }
  float* part = static_cast<float*>(std::aligned_alloc(64, ((sizeof(float) * splits * m * n) + 63) / 64 * 64));
  parallel_for(tiles * splits, [&](int64_t t, int) {
    const int64_t s = t / tiles;
    tile_task(t % tiles, part + s * m * n, s * chunk, std::min(k, (s + 1) * chunk));
  });
  const int64_t total = m * n;
  parallel_range(total, 16384, [&](int64_t lo, int64_t hi) {
    for (int64_t e = lo; e < hi; e++) {
      float acc = part[e];
      for (int64_t s = 1; s < splits; s++) acc += part[s * total + e];
      c[e] = acc;
    }
  });
  std::free(part);
}

}  // namespace

void sgemm(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  gemm_mats(m, n, k, Mat{a, k, 1}, Mat{b, k, 1}, c);
}

// Same kernel with transposed storage read by the packing routines, so sgemm_t on transposed operands
// gives bit-identical results to sgemm on explicitly transposed copies (and no transpose is written).
void sgemm_t(int64_t m, int64_t n, int64_t k, const float* a, bool trans_a, const float* b, bool trans_b, float* c) {
  gemm_mats(m, n, k, trans_a ? Mat{a, 1, m} : Mat{a, k, 1}, trans_b ? Mat{b, 1, n} : Mat{b, k, 1}, c);
}

void sgemm_t_serial(int64_t m, int64_t n, int64_t k, const float* a, bool trans_a, const float* b, bool trans_b,
                    float* c) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    std::memset(c, 0, sizeof(float) * static_cast<size_t>(m * n));
    return;
  }
  const Config cfg = config_for(active_tier());
  const Mat am = trans_a ? Mat{a, 1, m} : Mat{a, k, 1}, bm = trans_b ? Mat{b, 1, n} : Mat{b, k, 1};
  for (int64_t i0 = 0; i0 < m; i0 += cfg.mt)
    for (int64_t j0 = 0; j0 < n; j0 += NT)
      run_tile(cfg, am, bm, i0, std::min(m, i0 + cfg.mt), j0, std::min(n, j0 + NT), 0, k, c, n);
}

}  // namespace fqt
