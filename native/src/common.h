// Shared declarations of the fqt native addon: ISA tiers and the flat C++ kernels that binding.cc
// exposes to JavaScript. Every kernel has the semantics of the TypeScript reference backend
// (src/backend/ref/*.ts), which is the specification; see native/README.md for tolerances.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#if defined(__x86_64__) || defined(_M_X64)
#define FQT_X86 1
#else
#define FQT_X86 0
#endif

namespace fqt {

// ISA tiers, ordered: a tier implies the ones below it (amx ⊃ avx512 ⊃ avx2 ⊃ scalar).
enum class Tier : int { Scalar = 0, Avx2 = 1, Avx512 = 2, Amx = 3 };

const char* tier_name(Tier t);
bool tier_from_name(const char* name, Tier* out);

struct CpuFeatures {
  bool avx2 = false, fma = false, popcnt = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512vpopcntdq = false;
  bool amx_tile = false, amx_int8 = false, amx_permitted = false;  // permitted: arch_prctl succeeded
  bool os_ymm = false, os_zmm = false;
};

const CpuFeatures& cpu();          // detected once
bool tier_available(Tier t);       // CPU and OS support the tier
Tier best_tier();
Tier active_tier();                // the tier kernels dispatch on
// Sets the active tier; returns false (and leaves it unchanged) when the machine lacks it.
bool set_active_tier(Tier t);

// ---- kernels (same argument order as the TypeScript Backend interface) ----
void sgemm(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);
void sgemm_t(int64_t m, int64_t n, int64_t k, const float* a, bool trans_a, const float* b, bool trans_b, float* c);
// On the calling thread only (callers that parallelise over an outer loop).
void sgemm_t_serial(int64_t m, int64_t n, int64_t k, const float* a, bool trans_a, const float* b, bool trans_b, float* c);
// One sample of im2col / col2im on the calling thread (col2im_one overwrites out).
void im2col_one(const float* xs, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride, int64_t pad,
                int64_t oh, int64_t ow, float* out);
void col2im_one(const float* cols, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t stride, int64_t pad,
                int64_t oh, int64_t ow, float* out);
struct ConvGeom {
  int64_t n, c, h, w, oc, kh, kw, stride, pad, oh, ow;
};
void conv2d_forward(const ConvGeom& g, const float* x, const float* weight, float* y);
void conv2d_backward(const ConvGeom& g, const float* x, const float* weight, const float* dy, float* dx, float* dw);
// dW = Σ over sample groups of the per-group partials [groups, wsize], added in group order (thread-count
// independent; conv.cc and conv_direct.cc).
void sum_group_partials(const float* partial, int64_t groups, int64_t wsize, float* dw);
void gemm_i8(int64_t m, int64_t n, int64_t k, int64_t kblock, const int8_t* a, const int8_t* b,
             const float* sa, const float* sb, float* c);
void gemm_b1(int64_t m, int64_t n, int64_t k, const uint32_t* a, const uint32_t* b, int32_t* c);
void gemm_bitplane(int64_t m, int64_t n, int64_t k, int64_t bits, const uint32_t* planes, const uint32_t* b,
                   int32_t* c);
void pack_signs(int64_t rows, int64_t k, const float* x, uint32_t* out);
void sign_codes(int64_t n, const float* x, uint8_t* codes, int32_t* nan);
void pack_planes(int64_t rows, int64_t k, int64_t bits, const uint8_t* codes, uint32_t* out);

// quantization kernels (src/backend/quant-kernels.ts); codes are the bytes of an Int8Array or Uint8Array
void affine_params(int64_t format, int64_t bits, const float* mins, const float* maxs, int64_t n, float* offset, float* scale,
                   float* inv, int32_t* zero_point, int32_t* unaligned);
void quant_range(const float* x, int64_t rows, int64_t cols, int64_t row_div, int64_t row_mod, int64_t col_div,
                 float* mins, int64_t mins_len, float* maxs, int64_t maxs_len);
void quantize_affine(const float* x, int64_t rows, int64_t cols, int64_t row_div, int64_t row_mod, int64_t col_div,
                     const float* offset, const float* inv, const int32_t* zero_point, double qmin, double qmax,
                     bool stochastic, uint32_t seed, uint32_t stream, uint8_t* codes);
void dequantize_affine(const uint8_t* codes, bool is_signed, int64_t rows, int64_t cols, int64_t row_div,
                       int64_t row_mod, int64_t col_div, const float* offset, const float* scale,
                       const int32_t* zero_point, float* out);
void codes_to_i8(const uint8_t* codes, int64_t rows, int64_t cols, int64_t row_div, int64_t row_mod, int64_t col_div,
                 const int32_t* shift, bool transpose, int8_t* out);
void code_block_sums(int64_t m, int64_t k, int64_t kblock, const int8_t* a, int32_t* out);
// One run of quantize_affine on the calling thread (the fused binary conv kernels, bconv*.cc): n elements of one
// group, element i with RNG index idx0 + i·idx_step (mod 2^32) of the stream key rng_stream_key(seed, stream).
void quantize_run(const float* x, int64_t n, float offset, float inv, int32_t zero_point, double qmin, double qmax,
                  bool stochastic, uint32_t key, uint32_t idx0, uint32_t idx_step, uint8_t* codes);
// One run of quant_range's update rule on the calling thread: *lo / *hi updated by x[0..n) (NaN sticks).
void range_run(const float* x, int64_t n, float* lo, float* hi);
// The per-element-parameter twins (element i of group i): quantize_run with offset[i], inv[i], zero_point[i]; range_run
// updating lo[i], hi[i] by x[i].
void quantize_cols_run(const float* x, int64_t n, const float* offset, const float* inv, const int32_t* zero_point, double qmin,
                       double qmax, bool stochastic, uint32_t key, uint32_t idx0, uint32_t idx_step, uint8_t* codes);
void range_cols_run(const float* x, int64_t n, float* lo, float* hi);
// quant_range / quantize_affine of the [n·hw, c] layer-layout matrix given as NCHW planes x[n][c][hw] (quant_planes.cc).
void quant_range_planes(const float* x, int64_t n, int64_t c, int64_t hw, int64_t row_div, int64_t row_mod, int64_t col_div,
                        float* mins, int64_t mins_len, float* maxs, int64_t maxs_len);
void quantize_affine_planes(const float* x, int64_t n, int64_t c, int64_t hw, int64_t row_div, int64_t row_mod,
                            int64_t col_div, const float* offset, const float* inv, const int32_t* zero_point, double qmin,
                            double qmax, bool stochastic, uint32_t seed, uint32_t stream, uint8_t* codes);
void pack_nibbles(const uint8_t* codes, int64_t n, uint8_t* out);
void unpack_nibbles(const uint8_t* packed, int64_t n, bool is_signed, uint8_t* out);
// LUQ (src/backend/quant-kernels.ts momentSums / quantizeLuq).
void moment_sums(const float* x, int64_t n, double* out);
void quantize_luq(const float* x, int64_t n, float alpha, int64_t kmax, uint32_t seed, uint32_t stream, int8_t* codes);
void quantize_luq_planes(const float* x, int64_t n, int64_t c, int64_t hw, float alpha, int64_t kmax, uint32_t seed,
                         uint32_t stream, int8_t* codes);
void block_householder(const float* x, int64_t n, int64_t d, const int32_t* order, const int32_t* group_sizes,
                       int64_t ngroups, const float* row_scale, bool inverse, float* out);
// BHQ's T⁻¹ in place on the rows order[s0 … s0 + size) of x[·, d]: one group of block_householder's inverse, bit for bit.
struct BhqGroups {
  const int32_t* order;
  const int32_t* group_sizes;
  int64_t ngroups;
  const float* row_scale;
};
void bhq_inverse_group(float* x, int64_t d, const int32_t* order, int64_t s0, int64_t size, const float* row_scale);
// start[g] = the first position of group g in `order` (start[ngroups] = n).
std::vector<int64_t> bhq_group_starts(const int32_t* group_sizes, int64_t ngroups);
// Per-sample ranges, asymmetric parameters and codes of Z = T·x (T as block_householder's, on the n sample vectors of
// NCHW planes), not storing Z.
void quantize_bhq_planes(const float* x, int64_t n, int64_t c, int64_t hw, const int32_t* order, const int32_t* group_sizes,
                         int64_t ngroups, const float* row_scale, int64_t bits, bool stochastic, uint32_t seed, uint32_t stream,
                         float* offset, float* scale, float* inv, int32_t* zero_point, uint8_t* codes);

void copy_strided(const float* src, int64_t src_off, const int32_t* src_strides, const int32_t* shape,
                  int rank, float* dst, int64_t dst_off, const int32_t* dst_strides);
void transpose(int64_t batch, int64_t rows, int64_t cols, const float* x, float* out);
void transpose_serial(int64_t rows, int64_t cols, const float* x, float* out);  // one matrix, calling thread
void transpose_bytes(int64_t batch, int64_t rows, int64_t cols, const uint8_t* x, uint8_t* out);
void transpose_bytes_serial(int64_t rows, int64_t cols, const uint8_t* x, uint8_t* out);  // one matrix, calling thread
void im2col(const float* x, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
            int64_t stride, int64_t pad, int64_t oh, int64_t ow, float* out);
void col2im(const float* cols, int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw,
            int64_t stride, int64_t pad, int64_t oh, int64_t ow, float* out);

// op codes mirror the string unions of float-kernels.ts; -1 = unknown
int unary_op_code(const char* name);
int binary_op_code(const char* name);
void unary(int op, const float* x, float* out, int64_t len, double p0, double p1);
// ReLU with its backward mask as bytes, and the masked gradient (src/backend/float-kernels.ts).
void relu_masked(const float* x, float* out, uint32_t* mask, int64_t len);
void prelu_forward(const float* x, int64_t n, int64_t c, int64_t hw, const float* a, float* y);
void prelu_backward(const float* g, const float* x, int64_t n, int64_t c, int64_t hw, const float* a, float* dx, float* da);
// Index of the first NaN or ±∞ of x, or −1 (the per-step divergence check, src/train/guard.ts).
int64_t first_non_finite(const float* x, int64_t len);
void binary(int op, const float* a, const int32_t* as, const float* b, const int32_t* bs,
            const int32_t* shape, int rank, float* out, int64_t total);
void reduce(int op_max, const float* x, int64_t outer, int64_t len, int64_t inner, float* out);

void channel_moments(const float* x, int64_t n, int64_t c, int64_t hw, float* mean, float* var);
void batchnorm_forward(const float* x, int64_t n, int64_t c, int64_t hw, const float* mean,
                       const float* inv_std, const float* gamma, const float* beta, float* out);
void batchnorm_backward(const float* x, const float* dy, int64_t n, int64_t c, int64_t hw,
                        const float* mean, const float* inv_std, const float* gamma, float* dx,
                        float* dgamma, float* dbeta);

void maxpool_forward(const float* x, int64_t planes, int64_t h, int64_t w, int64_t k, int64_t stride,
                     int64_t pad, int64_t oh, int64_t ow, float* out, int32_t* argmax);
void maxpool_backward(const float* dy, const int32_t* argmax, int64_t planes, int64_t h, int64_t w,
                      int64_t oh, int64_t ow, float* dx);
void avgpool_forward(const float* x, int64_t planes, int64_t h, int64_t w, int64_t k, int64_t stride,
                     int64_t pad, int64_t oh, int64_t ow, float* out);
void avgpool_backward(const float* dy, int64_t planes, int64_t h, int64_t w, int64_t k, int64_t stride,
                      int64_t pad, int64_t oh, int64_t ow, float* dx);

void sgd_update(float* w, const float* g, float* buf, int64_t len, double lr, double momentum,
                double wd, bool nesterov, bool first);
void adam_update(float* w, const float* g, float* m, float* v, int64_t len, double lr, double beta1,
                 double beta2, double eps, double wd, bool decoupled, double step);
void dropout_mask(uint32_t seed, uint32_t stream, double p, float* out, int64_t len);

// ---- peak loops for benchmarks: each returns operations per second over all threads ----
double peak_fma_flops(Tier t, double seconds);      // 2 flops per fp32 FMA lane
double peak_int8_ops(Tier t, double seconds);       // 2 ops per int8 multiply-add (best instruction of tier)
double peak_int8_exact_ops(Tier t, double seconds); // the exact instruction sequence gemm_i8 uses
double peak_popcount_ops(Tier t, double seconds);   // 2 ops per bit (xor + popcount-add)

}  // namespace fqt
