// Bit GEMMs with the output columns in vector lanes (gemm_b1_lanes.cc): gemm_b1 and gemm_bitplane (gemm_b1.cc) use
// them for short rows (64 < k ≤ 2048 bits); the fused binary conv kernels (bconv_*.cc) use the row-source form to
// run a GEMM whose rows they build on the fly and whose results they consume row by row (implicit GEMM).
#pragma once
#include <cstdint>
#include <vector>

namespace fqt {

// Whether gemm_b1 / gemm_bitplane hand a GEMM of k bits and `bits` planes (0: the XOR GEMM) to gemm_lanes.
bool gemm_lanes_applies(int64_t k, int64_t bits);

// bits = 0: C = k − 2·popcount(A_i ⊕ B_j) (gemm_b1); bits ≥ 1: A = planes [bits, m, words], ones = popcount of every
// plane row, C = Σ_p 2^p·(2·popcount(A_p,i ∧ B_j) − ones[p·m + i]) (gemm_bitplane). Overwrites C[m, n].
void gemm_lanes(int64_t m, int64_t n, int64_t k, int64_t bits, const uint32_t* a, const uint32_t* b, const int32_t* ones,
                int32_t* c);

// B rows [n, ceil(k/32) words] transposed to [ceil(k/64)][np] 64-bit words, np = n rounded up to 8 (zero columns).
struct LaneB {
  int64_t n, k, w64, np;
  std::vector<uint64_t> bt;
  LaneB(const uint32_t* b, int64_t n, int64_t k);
  // B given directly as rows of 64-bit words ([n][w64], bits past k zero).
  LaneB(const uint64_t* rows64, int64_t n, int64_t k);
  // All zero, for the caller to fill bt[w·np + j] (an implicit B built per call, bconv_fwd.cc).
  LaneB(int64_t n, int64_t k);
};

// Where a row-source GEMM gets its rows and puts its results. load fills aw[p·w64 + w] (word w of plane p's row i;
// one plane for XOR) and returns the AND bias Σ_p 2^p·popcount(plane row) (ignored for XOR); store receives row i's
// n results (C as above, int32).
struct LaneRows {
  int64_t (*load)(const void* ctx, int64_t i, uint64_t* aw);
  void (*store)(const void* ctx, int64_t i, const int32_t* c);
  const void* ctx;
};

// Rows [i0, i1) of the GEMM against B, on the calling thread.
void gemm_lanes_rows(int64_t i0, int64_t i1, int64_t bits, const LaneB& b, const LaneRows& rows);

// gemm_lanes_rows with callables: load(i, aw) → bias and store(i, c).
template <class Load, class Store>
void lanes_rows(int64_t i0, int64_t i1, int64_t bits, const LaneB& b, Load&& load, Store&& store) {
  struct Ctx {
    Load& load;
    Store& store;
  };
  const Ctx ctx{load, store};
  const LaneRows rows{[](const void* c, int64_t i, uint64_t* aw) -> int64_t { return static_cast<const Ctx*>(c)->load(i, aw); },
                      [](const void* c, int64_t i, const int32_t* out) { static_cast<const Ctx*>(c)->store(i, out); }, &ctx};
  gemm_lanes_rows(i0, i1, bits, b, rows);
}

}  // namespace fqt
