// Transformer and low-precision-format kernels (src/backend/transformer-kernels.ts, lowp-kernels.ts) and their
// N-API registration (transformer_binding.cc).
#pragma once
#include <cstdint>

namespace fqt {

void layernorm_forward(const float* x, int64_t rows, int64_t cols, const float* gamma, const float* beta, double eps,
                       bool rms, float* out, float* mean, float* rstd);
void layernorm_backward(const float* x, const float* dy, int64_t rows, int64_t cols, const float* gamma,
                        const float* mean, const float* rstd, bool rms, float* dx, float* dgamma, float* dbeta);
void softmax_forward(const float* x, int64_t rows, int64_t cols, bool causal, float* out);
void softmax_backward(const float* y, const float* dy, int64_t rows, int64_t cols, float* dx);
// op: 0 = gelu (tanh), 1 = silu
void activation_forward(int op, const float* x, float* out, int64_t len);
void activation_backward(int op, const float* x, const float* dy, float* dx, int64_t len);
void embedding_forward(const int32_t* ids, int64_t n, const float* table, int64_t dim, float* out);
void embedding_backward(const int32_t* ids, int64_t n, const float* dy, int64_t dim, float* dtable, int64_t table_len);
void sgemm_batched(int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, bool ta, const float* b, bool tb,
                   float* c);

void hadamard_transform(const float* x, int64_t rows, int64_t cols, int64_t block, const float* signs, bool inverse,
                        float* out);
// format: 0 = E2M1 (codes int8 2·value), 1 = E4M3 (codes the E4M3 byte)
void quantize_minifloat(const float* x, int64_t rows, int64_t cols, int64_t row_div, int64_t row_mod, int64_t col_div,
                        const float* inv, int format, bool stochastic, uint32_t seed, uint32_t stream, uint8_t* codes);

}  // namespace fqt
