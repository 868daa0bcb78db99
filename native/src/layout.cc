// Data-movement kernels: im2col / col2im (convolution), batched transpose, strided copy.
// Pure copies (and col2im's sums in the reference's order), so results are bit-identical to ref.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "common.h"
#include "thread_pool.h"

namespace fqt {

namespace {

// Rows [lo, hi) of (sample, output row) for a kh × KW window (KW = 0: kw at run time). The common
// 3 × 3 and 1 × 1 windows get compile-time widths: a 3-element copy is otherwise dominated by loop
// overhead. Pointers are __restrict locals (node-gyp builds with -fno-strict-aliasing). T = float
// (padding 0) or uint8_t quantization codes (padding pad_values[s], the code of 0 of sample s).
template <class T, int KW>
void im2col_rows(const T* x, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw_rt, int64_t stride,
                 int64_t pad, int64_t oh, int64_t ow, const T* pad_values, T* out, int64_t lo, int64_t hi) {
  const int64_t kw = KW > 0 ? KW : kw_rt;
  const int64_t row_len = c * kh * kw;
  for (int64_t so = lo; so < hi; so++) {
    const int64_t s = so / oh, oy = so % oh;
    const T zero = pad_values ? pad_values[s] : T(0);
    const T* __restrict xs = x + s * c * h * w;
    T* __restrict dst = out + so * ow * row_len;
    for (int64_t ox = 0; ox < ow; ox++) {
      const int64_t x0 = ox * stride - pad;
      const bool inside_x = x0 >= 0 && x0 + kw <= w;
      for (int64_t ch = 0; ch < c; ch++) {
        const T* __restrict plane = xs + ch * h * w;
        for (int64_t i = 0; i < kh; i++, dst += kw) {
          const int64_t y = oy * stride - pad + i;
          if (y < 0 || y >= h) {
            for (int64_t j = 0; j < kw; j++) dst[j] = zero;
          } else if (inside_x) {
            const T* __restrict src = plane + y * w + x0;
            for (int64_t j = 0; j < kw; j++) dst[j] = src[j];
          } else {
            for (int64_t j = 0; j < kw; j++) {
              const int64_t xx = x0 + j;
              dst[j] = xx >= 0 && xx < w ? plane[y * w + xx] : zero;
            }
          }
        }
      }
    }
  }
}

}  // namespace

namespace {

template <class T>
void im2col_batch(const T* x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride,
                  int64_t pad, int64_t oh, int64_t ow, const T* pad_values, T* out) {
  const int64_t row_len = c * kh * kw;
  auto rows = kw == 3 ? &im2col_rows<T, 3> : kw == 1 ? &im2col_rows<T, 1> : &im2col_rows<T, 0>;
  const int64_t grain = std::max<int64_t>(1, 8192 * 4 / static_cast<int64_t>(sizeof(T)) / std::max<int64_t>(1, ow * row_len));
  parallel_range(n * oh, grain, [=](int64_t lo, int64_t hi) {
    rows(x, c, h, w, kh, kw, stride, pad, oh, ow, pad_values, out, lo, hi);
  });
}

}  // namespace

void im2col(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride,
            int64_t pad, int64_t oh, int64_t ow, float* out) {
  im2col_batch<float>(x, n, c, h, w, kh, kw, stride, pad, oh, ow, nullptr, out);
}


namespace {

// Sample s of col2im for a kh × KW window (KW = 0: kw at run time; see im2col_rows).
template <int KW>
void col2im_sample(const float* cols, int64_t s, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw_rt,
                   int64_t stride, int64_t pad, int64_t oh, int64_t ow, float* out) {
  const int64_t kw = KW > 0 ? KW : kw_rt;
  const int64_t row_len = c * kh * kw;
  float* __restrict planes = out + s * c * h * w;
  std::memset(planes, 0, sizeof(float) * static_cast<size_t>(c * h * w));
  const float* __restrict src = cols + s * oh * ow * row_len;
  for (int64_t oy = 0; oy < oh; oy++) {
    for (int64_t ox = 0; ox < ow; ox++, src += row_len) {
      const int64_t x0 = ox * stride - pad;
      const bool inside_x = x0 >= 0 && x0 + kw <= w;
      const int64_t j0 = std::max<int64_t>(0, -x0), j1 = std::min<int64_t>(kw, w - x0);
      for (int64_t ch = 0; ch < c; ch++) {
        float* __restrict plane = planes + ch * h * w;
        for (int64_t i = 0; i < kh; i++) {
          const int64_t y = oy * stride - pad + i;
          if (y < 0 || y >= h) continue;
          const float* __restrict sr = src + (ch * kh + i) * kw;
          float* __restrict dst = plane + y * w + x0 * inside_x;
          if (inside_x) for (int64_t j = 0; j < kw; j++) dst[j] += sr[j];
          else for (int64_t j = j0; j < j1; j++) dst[x0 + j] += sr[j];
        }
      }
    }
  }
}

}  // namespace

void col2im(const float* cols, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride,
            int64_t pad, int64_t oh, int64_t ow, float* out) {
  // One task per sample: its column rows are read once, in order, and added into its c planes
  // (which stay in cache). For every output element the additions happen in increasing (oy, ox),
  // exactly the reference's order, so the float sums are bit-identical.
  auto sample = kw == 3 ? &col2im_sample<3> : kw == 1 ? &col2im_sample<1> : &col2im_sample<0>;
  parallel_for(n, [=](int64_t s, int) { sample(cols, s, c, h, w, kh, kw, stride, pad, oh, ow, out); });
}

void im2col_one(const float* xs, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride, int64_t pad,
                int64_t oh, int64_t ow, float* out) {
  auto rows = kw == 3 ? &im2col_rows<float, 3> : kw == 1 ? &im2col_rows<float, 1> : &im2col_rows<float, 0>;
  rows(xs, c, h, w, kh, kw, stride, pad, oh, ow, nullptr, out, 0, oh);
}

void col2im_one(const float* cols, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride, int64_t pad,
                int64_t oh, int64_t ow, float* out) {
  auto sample = kw == 3 ? &col2im_sample<3> : kw == 1 ? &col2im_sample<1> : &col2im_sample<0>;
  sample(cols, 0, c, h, w, kh, kw, stride, pad, oh, ow, out);
}

namespace {

// Scalar transpose of the block rows [i0, i1) × cols [j0, j1) of one matrix.
void transpose_block(const float* __restrict src, float* __restrict dst, int64_t rows, int64_t cols, int64_t i0,
                     int64_t i1, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; j++)
    for (int64_t i = i0; i < i1; i++) dst[j * rows + i] = src[i * cols + j];
}

#if FQT_X86
#pragma GCC push_options
#pragma GCC target("avx2,fma")
// 8 × 8 in-register transpose (unpack / shuffle / permute2f128) of src rows i..i+7, cols j..j+7.
inline void transpose8x8(const float* src, int64_t cols, float* dst, int64_t rows) {
  __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + cols), r2 = _mm256_loadu_ps(src + 2 * cols),
         r3 = _mm256_loadu_ps(src + 3 * cols), r4 = _mm256_loadu_ps(src + 4 * cols), r5 = _mm256_loadu_ps(src + 5 * cols),
         r6 = _mm256_loadu_ps(src + 6 * cols), r7 = _mm256_loadu_ps(src + 7 * cols);
  __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1), t2 = _mm256_unpacklo_ps(r2, r3),
         t3 = _mm256_unpackhi_ps(r2, r3), t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
         t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  r0 = _mm256_shuffle_ps(t0, t2, 0x44); r1 = _mm256_shuffle_ps(t0, t2, 0xee);
  r2 = _mm256_shuffle_ps(t1, t3, 0x44); r3 = _mm256_shuffle_ps(t1, t3, 0xee);
  r4 = _mm256_shuffle_ps(t4, t6, 0x44); r5 = _mm256_shuffle_ps(t4, t6, 0xee);
  r6 = _mm256_shuffle_ps(t5, t7, 0x44); r7 = _mm256_shuffle_ps(t5, t7, 0xee);
  _mm256_storeu_ps(dst, _mm256_permute2f128_ps(r0, r4, 0x20));
  _mm256_storeu_ps(dst + rows, _mm256_permute2f128_ps(r1, r5, 0x20));
  _mm256_storeu_ps(dst + 2 * rows, _mm256_permute2f128_ps(r2, r6, 0x20));
  _mm256_storeu_ps(dst + 3 * rows, _mm256_permute2f128_ps(r3, r7, 0x20));
  _mm256_storeu_ps(dst + 4 * rows, _mm256_permute2f128_ps(r0, r4, 0x31));
  _mm256_storeu_ps(dst + 5 * rows, _mm256_permute2f128_ps(r1, r5, 0x31));
  _mm256_storeu_ps(dst + 6 * rows, _mm256_permute2f128_ps(r2, r6, 0x31));
  _mm256_storeu_ps(dst + 7 * rows, _mm256_permute2f128_ps(r3, r7, 0x31));
}

void transpose_block_avx2(const float* __restrict src, float* __restrict dst, int64_t rows, int64_t cols, int64_t i0,
                          int64_t i1, int64_t j0, int64_t j1) {
  const int64_t i8 = i0 + (i1 - i0) / 8 * 8, j8 = j0 + (j1 - j0) / 8 * 8;
  for (int64_t i = i0; i < i8; i += 8)
    for (int64_t j = j0; j < j8; j += 8) transpose8x8(src + i * cols + j, cols, dst + j * rows + i, rows);
  transpose_block(src, dst, rows, cols, i8, i1, j0, j1);   // bottom rows
  transpose_block(src, dst, rows, cols, i0, i8, j8, j1);   // right columns
}
#pragma GCC pop_options
#endif

}  // namespace

void transpose(int64_t batch, int64_t rows, int64_t cols, const float* x, float* out) {
  if (batch <= 0 || rows <= 0 || cols <= 0) return;
  auto block = &transpose_block;
#if FQT_X86
  if (active_tier() >= Tier::Avx2) block = &transpose_block_avx2;
#endif
  constexpr int64_t B = 32;  // 32 × 32 blocks: both the read and the write side stay in L1
  const int64_t rb = (rows + B - 1) / B;
  const int64_t per_task = std::max<int64_t>(1, 65536 / (B * cols));  // row blocks per task
  const int64_t tasks_per_mat = (rb + per_task - 1) / per_task;
  parallel_for(batch * tasks_per_mat, [=](int64_t t, int) {
    const int64_t bt = t / tasks_per_mat, r0 = (t % tasks_per_mat) * per_task * B;
    const int64_t r1 = std::min(rows, r0 + per_task * B);
    const float* src = x + bt * rows * cols;
    float* dst = out + bt * rows * cols;
    for (int64_t i0 = r0; i0 < r1; i0 += B)
      for (int64_t j0 = 0; j0 < cols; j0 += B) block(src, dst, rows, cols, i0, std::min(r1, i0 + B), j0, std::min(cols, j0 + B));
  });
}

namespace {
void transpose_bytes_block(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t cols, int64_t i0, int64_t i1, int64_t j0,
                           int64_t j1) {
  for (int64_t j = j0; j < j1; j++)
    for (int64_t i = i0; i < i1; i++) dst[j * rows + i] = src[i * cols + j];
}

#if FQT_X86
// 16 × 16 bytes in registers (SSE2, the x86-64 baseline): interleave bytes, then 16-, 32- and 64-bit pairs.
void transpose16x16_bytes(const uint8_t* src, int64_t cols, uint8_t* dst, int64_t rows) {
  __m128i a[16], b[16];
  for (int i = 0; i < 16; i++) a[i] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i * cols));
  for (int i = 0; i < 8; i++) {
    b[2 * i] = _mm_unpacklo_epi8(a[2 * i], a[2 * i + 1]);      // columns 0..7 of rows 2i, 2i+1
    b[2 * i + 1] = _mm_unpackhi_epi8(a[2 * i], a[2 * i + 1]);  // columns 8..15
  }
  for (int q = 0; q < 4; q++) {  // rows 4q..4q+3: a[4q + m] = columns 4m..4m+3
    a[4 * q] = _mm_unpacklo_epi16(b[4 * q], b[4 * q + 2]);
    a[4 * q + 1] = _mm_unpackhi_epi16(b[4 * q], b[4 * q + 2]);
    a[4 * q + 2] = _mm_unpacklo_epi16(b[4 * q + 1], b[4 * q + 3]);
    a[4 * q + 3] = _mm_unpackhi_epi16(b[4 * q + 1], b[4 * q + 3]);
  }
  for (int h = 0; h < 2; h++) {  // rows 8h..8h+7: b[8h + m] = columns 2m, 2m+1
    for (int m = 0; m < 4; m++) {
      b[8 * h + 2 * m] = _mm_unpacklo_epi32(a[8 * h + m], a[8 * h + 4 + m]);
      b[8 * h + 2 * m + 1] = _mm_unpackhi_epi32(a[8 * h + m], a[8 * h + 4 + m]);
    }
  }
  for (int m = 0; m < 8; m++) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (2 * m) * rows), _mm_unpacklo_epi64(b[m], b[8 + m]));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + (2 * m + 1) * rows), _mm_unpackhi_epi64(b[m], b[8 + m]));
  }
}
#endif
}  // namespace

namespace {
// Rows [i0, i1) of one [rows, cols] byte matrix transposed, in 64 × 64 blocks (16 × 16 in registers inside).
void transpose_bytes_rows(const uint8_t* src, uint8_t* dst, int64_t rows, int64_t cols, int64_t i0, int64_t i1) {
  constexpr int64_t B = 64;
  for (int64_t j0 = 0; j0 < cols; j0 += B) {
    const int64_t j1 = std::min(cols, j0 + B);
    int64_t i16 = i0, j16 = j0;
#if FQT_X86
    i16 = i0 + (i1 - i0) / 16 * 16;
    j16 = j0 + (j1 - j0) / 16 * 16;
    for (int64_t i = i0; i < i16; i += 16)
      for (int64_t j = j0; j < j16; j += 16) transpose16x16_bytes(src + i * cols + j, cols, dst + j * rows + i, rows);
#endif
    transpose_bytes_block(src, dst, rows, cols, i16, i1, j0, j1);  // bottom rows
    transpose_bytes_block(src, dst, rows, cols, i0, i16, j16, j1);  // right columns
  }
}
}  // namespace

void transpose_bytes(int64_t batch, int64_t rows, int64_t cols, const uint8_t* x, uint8_t* out) {
  if (batch <= 0 || rows <= 0 || cols <= 0) return;
  constexpr int64_t B = 64;
  const int64_t rb = (rows + B - 1) / B;
  parallel_for(batch * rb, [=](int64_t t, int) {
    const int64_t bt = t / rb, i0 = (t % rb) * B;
    transpose_bytes_rows(x + bt * rows * cols, out + bt * rows * cols, rows, cols, i0, std::min(rows, i0 + B));
  });
}

void transpose_bytes_serial(int64_t rows, int64_t cols, const uint8_t* x, uint8_t* out) {
  if (rows > 0 && cols > 0) transpose_bytes_rows(x, out, rows, cols, 0, rows);
}

void transpose_serial(int64_t rows, int64_t cols, const float* x, float* out) {
  auto block = &transpose_block;
#if FQT_X86
  if (active_tier() >= Tier::Avx2) block = &transpose_block_avx2;
#endif
  constexpr int64_t B = 32;
  for (int64_t i0 = 0; i0 < rows; i0 += B)
    for (int64_t j0 = 0; j0 < cols; j0 += B) block(x, out, rows, cols, i0, std::min(rows, i0 + B), j0, std::min(cols, j0 + B));
}

void copy_strided(const float* src, int64_t src_off, const int32_t* ss, const int32_t* shape, int rank, float* dst,
                  int64_t dst_off, const int32_t* ds) {
  int64_t total = 1;
  for (int d = 0; d < rank; d++) total *= shape[d];
  if (total == 0) return;
  if (rank == 0) {
    dst[dst_off] = src[src_off];
    return;
  }
  const int last = rank - 1;
  const int64_t inner = shape[last], sl = ss[last], dl = ds[last];
  const int64_t outer = total / inner;
  const int64_t grain = std::max<int64_t>(1, 32768 / inner);
  parallel_range(outer, grain, [&](int64_t lo, int64_t hi) {
    // Multi-index of outer position `lo` over dims [0, last), then an odometer.
    std::vector<int64_t> idx(static_cast<size_t>(rank), 0);
    int64_t si = src_off, di = dst_off, rem = lo;
    for (int d = last - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      si += idx[d] * ss[d];
      di += idx[d] * ds[d];
    }
    for (int64_t o = lo; o < hi; o++) {
      if (sl == 1 && dl == 1) std::memcpy(dst + di, src + si, sizeof(float) * static_cast<size_t>(inner));
      else for (int64_t j = 0; j < inner; j++) dst[di + j * dl] = src[si + j * sl];
      for (int d = last - 1; d >= 0; d--) {
        idx[d]++;
        si += ss[d];
        di += ds[d];
        if (idx[d] < shape[d]) break;
        si -= static_cast<int64_t>(ss[d]) * shape[d];
        di -= static_cast<int64_t>(ds[d]) * shape[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace fqt
