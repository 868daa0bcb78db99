// Elementwise and reduction kernels. JavaScript evaluates in float64 and rounds once when storing
// into a Float32Array; these loops do the same (float ops only where that is provably identical:
// +, −, ×, ÷ and sqrt of two floats rounded to float equal the float64-then-round result), so
// everything except exp/log/pow (libm vs V8, ≤ 1 ulp apart before rounding) is bit-identical to ref.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "common.h"
#include "thread_pool.h"

namespace fqt {

namespace {

constexpr int64_t kGrain = 1 << 15;
const char* const kUnary[] = {"neg", "exp", "log", "sqrt", "abs", "square", "relu", "step",
                              "scale", "addScalar", "powScalar", "clamp", "insideMask"};
const char* const kBinary[] = {"add", "sub", "mul", "div", "max", "min", "eq"};

int find(const char* const* names, int count, const char* name) {
  for (int i = 0; i < count; i++)
    if (std::strcmp(names[i], name) == 0) return i;
  return -1;
}

// JavaScript's Math.max / Math.min: NaN if either is NaN, +0 > −0.
double js_max(double a, double b) {
  if (a != a || b != b) return std::numeric_limits<double>::quiet_NaN();
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}
double js_min(double a, double b) {
  if (a != a || b != b) return std::numeric_limits<double>::quiet_NaN();
  if (a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}
// Math.pow differs from C pow where the base is ±1 and the exponent is NaN or ±Infinity.
double js_pow(double x, double y) {
  if (y != y) return std::numeric_limits<double>::quiet_NaN();
  if (std::fabs(x) == 1.0 && std::isinf(y)) return std::numeric_limits<double>::quiet_NaN();
  return std::pow(x, y);
}

template <class F>
void map(const float* x, float* out, int64_t len, F f) {
  // Pointers copied into __restrict locals: through the [&] captures the compiler must assume the
  // stores alias them, reloads them every element and does not vectorize.
  parallel_range(len, kGrain, [x, out, f](int64_t lo, int64_t hi) {
    const float* __restrict xs = x;
    float* __restrict o = out;
    for (int64_t i = lo; i < hi; i++) o[i] = f(xs[i]);
  });
}

struct Add { float operator()(float a, float b) const { return a + b; } };
struct Sub { float operator()(float a, float b) const { return a - b; } };
struct Mul { float operator()(float a, float b) const { return a * b; } };
struct Div { float operator()(float a, float b) const { return a / b; } };
// NaN in either operand gives NaN (torch.maximum / torch.minimum, and ref); ties keep a.
struct Max { float operator()(float a, float b) const { return a >= b || a != a ? a : b; } };
struct Min { float operator()(float a, float b) const { return a <= b || a != a ? a : b; } };
struct Eq { float operator()(float a, float b) const { return a == b ? 1.0f : 0.0f; } };

// out[o·inner + j] = f(a[ia + j·sa], b[ib + j·sb]); the common stride pairs get their own loop so
// the compiler vectorizes them (contiguous, and broadcast of one operand along the inner axis).
template <class F>
inline void inner_loop(F f, const float* __restrict a, int64_t sa, const float* __restrict b, int64_t sb,
                       float* __restrict out, int64_t n) {
  if (sa == 1 && sb == 1) for (int64_t j = 0; j < n; j++) out[j] = f(a[j], b[j]);
  else if (sa == 1 && sb == 0) { const float bv = *b; for (int64_t j = 0; j < n; j++) out[j] = f(a[j], bv); }
  else if (sa == 0 && sb == 1) { const float av = *a; for (int64_t j = 0; j < n; j++) out[j] = f(av, b[j]); }
  else for (int64_t j = 0; j < n; j++) out[j] = f(a[j * sa], b[j * sb]);
}

template <class F>
void broadcast(F f, const float* a, const std::vector<int64_t>& as, const float* b, const std::vector<int64_t>& bs,
               const std::vector<int64_t>& shape, float* out) {
  const int rank = static_cast<int>(shape.size()), last = rank - 1;
  const int64_t inner = shape[last];
  if (rank == 1) {
    // One merged axis (same-shape operands, or a scalar broadcast): chunks of it, not one task.
    parallel_range(inner, kGrain, [&](int64_t lo, int64_t hi) {
      inner_loop(f, a + lo * as[0], as[0], b + lo * bs[0], bs[0], out + lo, hi - lo);
    });
    return;
  }
  int64_t outer = 1;
  for (int d = 0; d < last; d++) outer *= shape[d];
  parallel_range(outer, std::max<int64_t>(1, kGrain / inner), [&](int64_t lo, int64_t hi) {
    std::vector<int64_t> idx(rank, 0);
    int64_t ia = 0, ib = 0, rem = lo;
    for (int d = last - 1; d >= 0; d--) {
      idx[d] = rem % shape[d];
      rem /= shape[d];
      ia += idx[d] * as[d];
      ib += idx[d] * bs[d];
    }
    for (int64_t o = lo; o < hi; o++) {
      inner_loop(f, a + ia, as[last], b + ib, bs[last], out + o * inner, inner);
      for (int d = last - 1; d >= 0; d--) {
        idx[d]++;
        ia += as[d];
        ib += bs[d];
        if (idx[d] < shape[d]) break;
        ia -= as[d] * shape[d];
        ib -= bs[d] * shape[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace

int unary_op_code(const char* name) { return find(kUnary, 13, name); }
int binary_op_code(const char* name) { return find(kBinary, 7, name); }

void unary(int op, const float* x, float* out, int64_t len, double p0, double p1) {
  switch (op) {
    case 0: return map(x, out, len, [](float v) { return -v; });
    case 1: return map(x, out, len, [](float v) { return static_cast<float>(std::exp(static_cast<double>(v))); });
    case 2: return map(x, out, len, [](float v) { return static_cast<float>(std::log(static_cast<double>(v))); });
    case 3: return map(x, out, len, [](float v) { return std::sqrt(v); });
    case 4: return map(x, out, len, [](float v) { return std::fabs(v); });
    case 5: return map(x, out, len, [](float v) { return v * v; });
    case 6: return map(x, out, len, [](float v) { return v > 0.0f || v != v ? v : 0.0f; });  // relu(NaN) = NaN
    case 7: return map(x, out, len, [](float v) { return v > 0.0f ? 1.0f : 0.0f; });
    case 8: return map(x, out, len, [p0](float v) { return static_cast<float>(p0 * static_cast<double>(v)); });
    case 9: return map(x, out, len, [p0](float v) { return static_cast<float>(static_cast<double>(v) + p0); });
    case 10: return map(x, out, len, [p0](float v) { return static_cast<float>(js_pow(v, p0)); });
    case 11: return map(x, out, len, [p0, p1](float v) { return static_cast<float>(js_min(js_max(v, p0), p1)); });
    case 12: return map(x, out, len, [p0, p1](float v) {
      const double d = v;
      return d > p0 && d < p1 ? 1.0f : 0.0f;
    });
    default: return;
  }
}

// ReLU with its 1-bit mask (bit i & 31 of word i >> 5, the layout of mask_bits with one row): SSE2 (every x86-64)
// selects 4 lanes at a time and movemask gathers their bits, 32 elements per mask word. Task bounds are multiples of
// kGrain, so every word belongs to one task. The scalar tail works on the float bits, so results are identical (x ≤ 0
// and −0 give +0 and bit 0; NaN stays NaN with bit 1: PyTorch's relu backward passes the gradient at a NaN input, see
// ref/elementwise.ts).
static_assert(kGrain % 32 == 0, "relu_masked: a mask word must not straddle two tasks");
void relu_masked(const float* x, float* out, uint32_t* mask, int64_t len) {
  parallel_range(len, kGrain, [x, out, mask](int64_t lo, int64_t hi) {
    int64_t i = lo;
#if FQT_X86
    const __m128 zero = _mm_setzero_ps();
    for (; i + 32 <= hi; i += 32) {
      uint32_t bits = 0;
      for (int q = 0; q < 8; q++) {
        const __m128 v = _mm_loadu_ps(x + i + 4 * q);
        const __m128 c = _mm_or_ps(_mm_cmpgt_ps(v, zero), _mm_cmpunord_ps(v, v));
        _mm_storeu_ps(out + i + 4 * q, _mm_and_ps(v, c));
        bits |= static_cast<uint32_t>(_mm_movemask_ps(c)) << (4 * q);
      }
      mask[i >> 5] = bits;
    }
#endif
    if (i < hi) mask[i >> 5] = 0;  // the last, partial word
    for (; i < hi; i++) {
      const float v = x[i];
      uint32_t bits;
      std::memcpy(&bits, &v, sizeof bits);
      const uint32_t pos = v > 0.0f || v != v ? 1u : 0u;
      bits &= 0u - pos;
      std::memcpy(out + i, &bits, sizeof bits);
      mask[i >> 5] |= pos << (i & 31);
    }
  });
}

// PReLU on [n, c, hw] planes (src/backend/float-kernels.ts): y = x > 0 ? x : a·x, one slope per channel.
void prelu_forward(const float* x, int64_t n, int64_t c, int64_t hw, const float* a, float* y) {
  const int64_t planes = n * c;
  if (planes == 0 || hw == 0) return;
  parallel_range(planes, std::max<int64_t>(1, kGrain / hw), [=](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; p++) {
      const float slope = a[p % c];
      const float* xp = x + p * hw;
      float* yp = y + p * hw;
      int64_t i = 0;
#if FQT_X86
      const __m128 zero = _mm_setzero_ps(), vs = _mm_set1_ps(slope);
      for (; i + 4 <= hw; i += 4) {
        const __m128 v = _mm_loadu_ps(xp + i), pos = _mm_cmpgt_ps(v, zero);
        _mm_storeu_ps(yp + i, _mm_or_ps(_mm_and_ps(pos, v), _mm_andnot_ps(pos, _mm_mul_ps(vs, v))));
      }
#endif
      for (; i < hw; i++) yp[i] = xp[i] > 0 ? xp[i] : slope * xp[i];
    }
  });
}

// dx = x > 0 ? g : a·g; da[ch] = Σ g·x over !(x > 0) in float64: four running sums per plane (positions mod 4, two
// SSE2 double pairs), joined (p0 + p1) + (p2 + p3), planes in sample order; one task per channel, so the order is the
// reference's whatever the thread count.
void prelu_backward(const float* g, const float* x, int64_t n, int64_t c, int64_t hw, const float* a, float* dx, float* da) {
  parallel_for(c, [=](int64_t ch, int) {
    const float slope = a[ch];
    double sum = 0;
    for (int64_t s = 0; s < n; s++) {
      const int64_t at = (s * c + ch) * hw;
      const float *gp = g + at, *xp = x + at;
      float* dp = dx + at;
      double p[4] = {0, 0, 0, 0};
      int64_t i = 0;
#if FQT_X86
      const __m128 zero = _mm_setzero_ps(), vs = _mm_set1_ps(slope);
      __m128d p01 = _mm_setzero_pd(), p23 = _mm_setzero_pd();
      for (; i + 4 <= hw; i += 4) {
        const __m128 gv = _mm_loadu_ps(gp + i), xv = _mm_loadu_ps(xp + i), pos = _mm_cmpgt_ps(xv, zero);
        _mm_storeu_ps(dp + i, _mm_or_ps(_mm_and_ps(pos, gv), _mm_andnot_ps(pos, _mm_mul_ps(vs, gv))));
        // g·x in float64 (exact), +0 where x > 0: the 32-bit mask widened to 64-bit lanes clears those products.
        const __m128d lo = _mm_mul_pd(_mm_cvtps_pd(gv), _mm_cvtps_pd(xv));
        const __m128d hi = _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(gv, gv)), _mm_cvtps_pd(_mm_movehl_ps(xv, xv)));
        p01 = _mm_add_pd(p01, _mm_andnot_pd(_mm_castps_pd(_mm_unpacklo_ps(pos, pos)), lo));
        p23 = _mm_add_pd(p23, _mm_andnot_pd(_mm_castps_pd(_mm_unpackhi_ps(pos, pos)), hi));
      }
      _mm_storeu_pd(p, p01);
      _mm_storeu_pd(p + 2, p23);
#endif
      for (; i < hw; i++) {
        dp[i] = xp[i] > 0 ? gp[i] : slope * gp[i];
        p[i & 3] += xp[i] > 0 ? 0.0 : static_cast<double>(gp[i]) * static_cast<double>(xp[i]);
      }
      sum += (p[0] + p[1]) + (p[2] + p[3]);
    }
    da[ch] = static_cast<float>(sum);
  });
}

int64_t first_non_finite(const float* x, int64_t len) {
  // A float is non-finite iff its exponent bits are all ones. Blocks are OR-reduced on the bits (an integer
  // reduction, so it vectorizes); only a block that holds one is scanned for the index.
  constexpr int64_t kBlock = 1024;
  for (int64_t b = 0; b < len; b += kBlock) {
    const int64_t e = std::min(len, b + kBlock);
    uint32_t any = 0;
    for (int64_t i = b; i < e; i++) {
      uint32_t bits;
      std::memcpy(&bits, x + i, sizeof bits);
      any |= static_cast<uint32_t>((bits & 0x7f800000u) == 0x7f800000u);
    }
    if (any == 0) continue;
    for (int64_t i = b; i < e; i++)
      if (!std::isfinite(x[i])) return i;
  }
  return -1;
}

void binary(int op, const float* a, const int32_t* as32, const float* b, const int32_t* bs32, const int32_t* shape32,
            int rank, float* out, int64_t total) {
  if (total == 0) return;
  // Drop unit axes and merge axes along which both operands are laid out contiguously with the
  // next one (e.g. [N,C,H,W] ∘ [1,C,1,1] becomes [N, C, H·W] with the inner broadcast stride 0).
  std::vector<int64_t> shape, as, bs;
  for (int d = 0; d < rank; d++) {
    if (shape32[d] == 1) continue;
    const int64_t n = shape32[d], sa = as32[d], sb = bs32[d];
    if (!shape.empty() && as.back() == sa * n && bs.back() == sb * n) {
      shape.back() *= n;
      as.back() = sa;
      bs.back() = sb;
    } else {
      shape.push_back(n);
      as.push_back(sa);
      bs.push_back(sb);
    }
  }
  if (shape.empty()) {
    shape.push_back(1);
    as.push_back(0);
    bs.push_back(0);
  }
  switch (op) {
    case 0: return broadcast(Add{}, a, as, b, bs, shape, out);
    case 1: return broadcast(Sub{}, a, as, b, bs, shape, out);
    case 2: return broadcast(Mul{}, a, as, b, bs, shape, out);
    case 3: return broadcast(Div{}, a, as, b, bs, shape, out);
    case 4: return broadcast(Max{}, a, as, b, bs, shape, out);
    case 5: return broadcast(Min{}, a, as, b, bs, shape, out);
    case 6: return broadcast(Eq{}, a, as, b, bs, shape, out);
    default: return;
  }
}

void reduce(int op_max, const float* x, int64_t outer, int64_t len, int64_t inner, float* out) {
  // Sums accumulate in float64 in the reference's order (r = 0, 1, ...), so they are bit-identical.
  parallel_range(outer * inner, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, len)), [&](int64_t lo, int64_t hi) {
    for (int64_t e = lo; e < hi; e++) {
      const int64_t o = e / inner, i = e % inner;
      const float* base = x + o * len * inner + i;
      if (!op_max) {
        double s = 0;
        for (int64_t r = 0; r < len; r++) s += base[r * inner];
        out[e] = static_cast<float>(s);
      } else {
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t r = 0; r < len; r++) {
          const float v = base[r * inner];
          if (v > m || v != v) m = v;
        }
        out[e] = m;
      }
    }
  });
}

}  // namespace fqt
