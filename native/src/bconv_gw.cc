// Binary conv grad-weight on bit planes (bconv.h): dW[o, t] = Σ over (sample, pixel) of Q(dY)[o]·x±[at tap t], the
// reduction axis R = (sample, output pixel) of a chunk of samples laid out as bit rows:
//   A = the bit planes of the codes of the kept channels (pruned channels are never quantized: their dW rows are 0)
//   B = for every tap (ch, i, j) the sign bits x⁺ read by the tap (0 where it reads padding), tap-major (row
//       (i·kw + j)·C + ch, so a per-(i, j) term is constant over contiguous channels), then one row per (i, j) marking
//       where that tap is in bounds, then one all-ones row.
// gemm_bitplane gives C[o, r] = Σ_R q·(2b⁺ − 1) for each B row r, so with Q = C[o, ones] = Σ q and
// C_valid = C[o, valid(i, j)] = 2·Σ_valid q − Q:  dot = Σ_valid q·x± = C[o, t] + (Q − C_valid)/2, exactly.
// X[t] = Σ_valid x± = 2·popcount(B_t) − popcount(valid) comes from one more GEMM row of ones against B.
// Per-channel groups (blocked = 0) accumulate the integers over the chunks; per-sample groups (blocked = 1, K-blocks
// of P rows) lay R out per sample and fold the per-sample epilogues in sample order.
#include <emmintrin.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "bconv.h"
#include "common.h"
#include "gemm_b1_lanes.h"
#include "thread_pool.h"

namespace fqt {
namespace {

// Channels per task of the per-sample fold: their tap-major accumulators (4·K floats) stay in cache over the samples.
constexpr int64_t kGwChannelGrain = 4;

// Inserts the low `nbits` (≤ 64) of v at bit `pos` of a row of 32-bit words (the bits there are zero).
inline void or_bits(uint32_t* row, int64_t pos, uint64_t v, int64_t nbits) {
  if (nbits <= 0) return;
  v &= low_mask(nbits);
  const int64_t w = pos >> 5, sh = pos & 31;
  row[w] |= static_cast<uint32_t>(v << sh);
  if (sh + nbits > 32) row[w + 1] |= static_cast<uint32_t>((v << sh) >> 32);
  if (sh + nbits > 64) row[w + 2] |= static_cast<uint32_t>(v >> (64 - sh));
}

// Where the bits of a chunk go: dense (sample t at bit t·P of long rows) or blocked (sample t owns a block of
// `rows` rows, starting at bit 0). A row (a "segment": the whole row when dense, one sample's when blocked) is a whole
// number of 64-bit words; the padding bits are zero in every row, so gemm_bitplane may run over k = seg_bits.
struct RLayout {
  bool blocked;
  int64_t S, P, nrows, row_words;
  RLayout(bool b, int64_t s, int64_t p, int64_t nr)
      : blocked(b), S(s), P(p), nrows(nr), row_words(2 * (((b ? p : s * p) + 63) / 64)) {}
  int64_t words() const { return blocked ? S * nrows * row_words : nrows * row_words; }
  int64_t at(int64_t r, int64_t t) const { return blocked ? (t * nrows + r) * row_words : r * row_words; }
  uint32_t* row(uint32_t* base, int64_t r, int64_t t) const { return base + at(r, t); }
  const uint32_t* row(const uint32_t* base, int64_t r, int64_t t) const { return base + at(r, t); }
  int64_t start(int64_t t) const { return blocked ? 0 : t * P; }
  int64_t segments() const { return blocked ? S : 1; }
  int64_t seg_bits() const { return row_words * 32; }
};

// 64 bits of a row of n 64-bit words starting at bit pos (any sign), zero outside the row.
inline uint64_t extract64(const uint64_t* src, int64_t n, int64_t pos) {
  const int64_t q = pos >= 0 ? pos / 64 : -((-pos + 63) / 64);
  const int r = static_cast<int>(pos - 64 * q);
  const uint64_t lo = q >= 0 && q < n ? src[q] : 0, hi = q + 1 >= 0 && q + 1 < n ? src[q + 1] : 0;
  return r == 0 ? lo : (lo >> r) | (hi << (64 - r));
}

// Plane bits of the codes of one (sample, channel) plane: code p's bit b at bit start + p of plane b's row. `codes`
// has zeros up to a multiple of 64 past P; 16 codes give a plane's 16 bits at once (byte shift + movemask).
void put_code_planes(const uint8_t* codes, int64_t P, int bits, const RLayout& A, uint32_t* base, int64_t kc, int64_t kept,
                     int64_t t) {
  for (int64_t p0 = 0; p0 < P; p0 += 64) {
    __m128i v[4];
    for (int q = 0; q < 4; q++) v[q] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(codes + p0 + 16 * q));
    for (int b = 0; b < bits; b++) {
      const __m128i sh = _mm_cvtsi32_si128(7 - b);
      uint64_t word = 0;
      for (int q = 0; q < 4; q++)
        word |= static_cast<uint64_t>(static_cast<uint16_t>(_mm_movemask_epi8(_mm_sll_epi16(v[q], sh)))) << (16 * q);
      or_bits(A.row(base, b * kept + kc, t), A.start(t) + p0, word, std::min<int64_t>(64, P - p0));
    }
  }
}

// Set bits of a row of 32-bit words (portable SWAR count: the file is built for the baseline ISA).
inline int32_t popcount_row(const uint32_t* row, int64_t words) {
  int64_t n = 0;
  for (int64_t w = 0; w < words; w++) {
    uint32_t x = row[w];
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    n += (((x + (x >> 4)) & 0x0f0f0f0fu) * 0x01010101u) >> 24;
  }
  return static_cast<int32_t>(n);
}

// B's row of tap (ch, i, j) (tap-major, see the file comment).
inline int64_t tap_row(const BGeom& g, int64_t ch, int64_t i, int64_t j) { return (i * g.kw + j) * g.c + ch; }

inline int64_t floor_div(int64_t a, int64_t s) { return (a >= 0 ? a : a - (s - 1)) / s; }

inline void or_ones(uint32_t* row, int64_t pos, int64_t len) {
  for (int64_t k = 0; k < len; k += 64) or_bits(row, pos + k, ~0ull, std::min<int64_t>(64, len - k));
}

// Output pixels ox whose tap column j reads x = ox·s − pad + j inside [0, w): [lo, hi).
inline void tap_columns(const BGeom& g, int64_t j, int64_t* lo, int64_t* hi) {
  *lo = std::max<int64_t>(0, (g.pad - j + g.stride - 1) / g.stride);
  *hi = std::min<int64_t>(g.ow, (g.w - 1 + g.pad - j) / g.stride + 1);
}

// B's tap rows of channel ch for sample s (chunk slot t): bit oy·ow + ox of the sample's run is x⁺ at the tap.
void put_tap_rows(const BGeom& g, const uint32_t* x_signs, int64_t s, int64_t t, int64_t ch, const RLayout& B, uint32_t* base) {
  const uint32_t* xs = x_signs + s * words32(g.chw());
  for (int64_t i = 0; i < g.kh; i++)
    for (int64_t j = 0; j < g.kw; j++) {
      uint32_t* row = B.row(base, tap_row(g, ch, i, j), t);
      int64_t lo, hi;
      tap_columns(g, j, &lo, &hi);
      for (int64_t oy = 0; oy < g.oh; oy++) {
        const int64_t y = oy * g.stride - g.pad + i;
        if (y < 0 || y >= g.h || hi <= lo) continue;
        const int64_t dst = B.start(t) + oy * g.ow, src = (ch * g.h + y) * g.w - g.pad + j;
        if (g.stride == 1) {
          for (int64_t o0 = lo; o0 < hi; o0 += 32) {
            const int64_t len = std::min<int64_t>(32, hi - o0);
            or_bits(row, dst + o0, bit_field(xs, src + o0, len), len);
          }
        } else {
          for (int64_t ox = lo; ox < hi; ox++) or_bits(row, dst + ox, static_cast<uint64_t>(bit_at(xs, src + ox * g.stride)), 1);
        }
      }
    }
}

// B's validity row of tap (i, j) (row K + i·kw + j) for the chunk's active samples: bit start(t) + oy·ow + ox is set
// where the tap reads inside the input.
void put_valid_row(const BGeom& g, int64_t i, int64_t j, const std::vector<uint8_t>& active, const RLayout& B, uint32_t* base) {
  int64_t lo, hi;
  tap_columns(g, j, &lo, &hi);
  for (int64_t t = 0; t < B.S; t++) {
    if (!active[t]) continue;
    uint32_t* row = B.row(base, g.K() + i * g.kw + j, t);
    for (int64_t oy = 0; oy < g.oh; oy++) {
      const int64_t y = oy * g.stride - g.pad + i;
      if (y >= 0 && y < g.h && hi > lo) or_ones(row, B.start(t) + oy * g.ow + lo, hi - lo);
    }
  }
}

// Convs with s·oh ≥ h and s·ow ≥ w (stride 1 with the input's size, the usual stride-2 downsampling): tap (i, j)
// reads input (s·(oy + di) + pi, s·(ox + dj) + pj) with i − pad = s·di + pi, 0 ≤ pi < s, so its row is phase plane
// (ch, pi, pj) of the input — X's bits at (s·a + pi, s·b + pj) laid out like the output — in R coordinates shifted by
// d = di·ow + dj and masked by the tap's validity row: the bits the shift brings in from a neighbouring row or
// sample are exactly where the tap reads outside the input (s·oh ≥ h makes an out-of-grid phase row out of bounds).
bool shifts_apply(const BGeom& g) { return g.stride * g.oh >= g.h && g.stride * g.ow >= g.w; }

// Every other bit of x (bits 0, 2, 4, …) packed into the low 32 bits.
inline uint64_t even_bits(uint64_t x) {
  x &= 0x5555555555555555ull;
  x = (x | (x >> 1)) & 0x3333333333333333ull;
  x = (x | (x >> 2)) & 0x0f0f0f0f0f0f0f0full;
  x = (x | (x >> 4)) & 0x00ff00ff00ff00ffull;
  x = (x | (x >> 8)) & 0x0000ffff0000ffffull;
  return (x | (x >> 16)) & 0x00000000ffffffffull;
}

// Bits [pos, pos + len) of a row of 32-bit words, len ≤ 64.
inline uint64_t bit_field64(const uint32_t* row, int64_t pos, int64_t len) {
  if (len <= 32) return bit_field(row, pos, len);
  return bit_field(row, pos, 32) | (bit_field(row, pos + 32, len - 32) << 32);
}

// Channel ch's phase planes in R coordinates: row (ch·s + pi)·s + pj of X (a layout like B's), bit start(t) + a·ow + b
// = x⁺[ch, s·a + pi, s·b + pj] (0 outside the input).
void put_phase_rows(const BGeom& g, const uint32_t* x_signs, int64_t s0, const std::vector<uint8_t>& active, int64_t ch,
                    const RLayout& X, uint32_t* base) {
  const int64_t s = g.stride;
  for (int64_t t = 0; t < X.S; t++) {
    if (!active[t]) continue;
    const uint32_t* xs = x_signs + (s0 + t) * words32(g.chw());
    for (int64_t pi = 0; pi < s; pi++)
      for (int64_t pj = 0; pj < s; pj++) {
        uint32_t* row = X.row(base, (ch * s + pi) * s + pj, t);
        const int64_t nb = std::min(g.ow, (g.w - pj + s - 1) / s);  // columns b with s·b + pj < w
        for (int64_t a = 0; a < g.oh && s * a + pi < g.h; a++) {
          const int64_t src = (ch * g.h + s * a + pi) * g.w + pj, dst = X.start(t) + a * g.ow;
          for (int64_t b0 = 0; b0 < nb; b0 += 32) {
            const int64_t len = std::min<int64_t>(32, nb - b0);
            uint64_t v = 0;
            if (s == 1) v = bit_field(xs, src + b0, len);
            else if (s == 2) v = even_bits(bit_field64(xs, src + 2 * b0, std::min<int64_t>(64, 2 * len - 1)));
            else
              for (int64_t b = 0; b < len; b++) v |= static_cast<uint64_t>(bit_at(xs, src + s * (b0 + b))) << b;
            or_bits(row, dst + b0, v, len);
          }
        }
      }
  }
}

void shift_tap_rows(const BGeom& g, int64_t ch, const RLayout& X, uint32_t* xbase, const RLayout& B, uint32_t* bbase) {
  const int64_t n64 = B.row_words / 2, s = g.stride;
  for (int64_t i = 0; i < g.kh; i++)
    for (int64_t j = 0; j < g.kw; j++) {
      const int64_t di = floor_div(i - g.pad, s), dj = floor_div(j - g.pad, s);
      const int64_t pi = i - g.pad - s * di, pj = j - g.pad - s * dj, d = di * g.ow + dj;
      for (int64_t t = 0; t < B.segments(); t++) {
        const auto* src = reinterpret_cast<const uint64_t*>(X.row(xbase, (ch * s + pi) * s + pj, t));
        const auto* valid = reinterpret_cast<const uint64_t*>(B.row(bbase, g.K() + i * g.kw + j, t));
        auto* dst = reinterpret_cast<uint64_t*>(B.row(bbase, tap_row(g, ch, i, j), t));
        for (int64_t k = 0; k < n64; k++) dst[k] = extract64(src, n64, 64 * k + d) & valid[k];
      }
    }
}

// acc[ch] += f32(f32(Δ·(c[ch] + h)) + f32(lo·x[ch])) over a tap's channels, in float32: exact when |dot| and |X| stay
// below 2^24 (float32 of the integers is exact, a float32 product is the rounded exact product); a vectorizable loop.
void fold_tap_base(float* __restrict acc, const int32_t* __restrict c, int32_t h, const float* __restrict x, int64_t n, float delta,
                   float lo) {
  for (int64_t k = 0; k < n; k++) acc[k] += delta * static_cast<float>(c[k] + h) + lo * x[k];
}
#if FQT_X86
// The same element-wise float32 operations 8 lanes at a time (no FMA: -ffp-contract=off), so the same results.
__attribute__((target("avx2"))) void fold_tap_avx2(float* __restrict acc, const int32_t* __restrict c, int32_t h,
                                                   const float* __restrict x, int64_t n, float delta, float lo) {
  for (int64_t k = 0; k < n; k++) acc[k] += delta * static_cast<float>(c[k] + h) + lo * x[k];
}
#endif
inline void fold_tap(float* acc, const int32_t* c, int32_t h, const float* x, int64_t n, float delta, float lo) {
#if FQT_X86
  if (active_tier() >= Tier::Avx2) return fold_tap_avx2(acc, c, h, x, n, delta, lo);
#endif
  fold_tap_base(acc, c, h, x, n, delta, lo);
}

// One chunk of samples [s0, s0 + ns) as the bit rows of the GEMM: A = the code planes of the kept channels, B = the
// tap, validity and ones rows (file comment); active[t]: sample s0 + t has an unpruned group.
struct GwChunk {
  const BGeom& g;
  const DyQuant& q;
  const std::vector<int64_t>& kept;
  int64_t s0, ns, P, KC, NB;
  RLayout A, B;
  std::vector<uint32_t> abuf, bbuf;
  std::vector<uint8_t> active;

  GwChunk(const BGeom& g_, const DyQuant& q_, const std::vector<int64_t>& kept_, int64_t s0_, int64_t ns_)
      : g(g_), q(q_), kept(kept_), s0(s0_), ns(ns_), P(g_.P()), KC(static_cast<int64_t>(kept_.size())),
        NB(g_.K() + g_.taps() + 1), A(q_.blocked, ns_, P, q_.bits * KC), B(q_.blocked, ns_, P, NB),
        abuf(static_cast<size_t>(A.words()), 0), bbuf(static_cast<size_t>(B.words()), 0), active(static_cast<size_t>(ns_), 0) {
    for (int64_t t = 0; t < ns; t++)
      for (int64_t o = 0; o < g.oc && !active[t]; o++) active[t] = !q.pruned(q.group((s0 + t) * P, o));
  }

  // Tasks: the code planes of each kept channel, each validity row and the ones row, and per input channel its tap
  // rows (general geometry) or its R row (shifts; the tap rows follow once the validity rows exist).
  void fill(const float* dy, const float* scale, const uint32_t* x_signs) {
    const int64_t T = g.taps();
    const bool shifts = shifts_apply(g);
    const RLayout X(q.blocked, ns, P, shifts ? g.c * g.stride * g.stride : 0);
    std::vector<uint32_t> xbuf(static_cast<size_t>(X.words()), 0);
    parallel_for(KC + T + 1 + g.c, [&](int64_t task, int) {
      if (task < KC) {
        const int64_t o = kept[task];
        const auto v = uninit_array<float>(P);
        std::vector<uint8_t> codes(static_cast<size_t>((P + 63) / 64 * 64), 0);
        for (int64_t t = 0; t < ns; t++) {
          if (!active[t]) continue;
          const float* d = dy + ((s0 + t) * g.oc + o) * P;
          if (scale) {
            scale_run(d, P, scale[o], v.get());
            d = v.get();
          }
          q.codes(d, P, s0 + t, o, P, g.oc, codes.data());
          put_code_planes(codes.data(), P, q.bits, A, abuf.data(), task, KC, t);
        }
      } else if (task < KC + T) {
        const int64_t tap = task - KC;
        put_valid_row(g, tap / g.kw, tap % g.kw, active, B, bbuf.data());
      } else if (task == KC + T) {
        for (int64_t t = 0; t < ns; t++)
          if (active[t]) or_ones(B.row(bbuf.data(), NB - 1, t), B.start(t), P);
      } else {
        const int64_t ch = task - KC - T - 1;
        if (shifts) put_phase_rows(g, x_signs, s0, active, ch, X, xbuf.data());
        else
          for (int64_t t = 0; t < ns; t++)
            if (active[t]) put_tap_rows(g, x_signs, s0 + t, t, ch, B, bbuf.data());
      }
    });
    if (shifts) parallel_for(g.c, [&](int64_t ch, int) { shift_tap_rows(g, ch, X, xbuf.data(), B, bbuf.data()); });
  }
};

// Per-channel groups: the chunk's integer sums added to acc (rows [KC][NB], then the ones row's NB results).
void accumulate_chunk(const GwChunk& c, std::vector<int64_t>& acc) {
  const int64_t KC = c.KC, NB = c.NB;
  std::vector<int32_t> out(static_cast<size_t>(KC * NB)), pop(static_cast<size_t>(NB));
  gemm_bitplane(KC, NB, c.B.seg_bits(), c.q.bits, c.abuf.data(), c.bbuf.data(), out.data());
  gemm_bitplane(1, NB, c.B.seg_bits(), 1, c.B.row(c.bbuf.data(), NB - 1, 0), c.bbuf.data(), pop.data());
  for (int64_t i = 0; i < KC * NB; i++) acc[i] += out[i];
  for (int64_t r = 0; r < NB; r++) acc[KC * NB + r] += pop[r];
}

// Per-sample groups: per sample, B in the lane GEMM's layout and X (the ones row's results: popcounts of B's rows,
// counted directly); then per range of channels the samples in order, one lane-GEMM row per (channel, sample) whose
// epilogue is folded at once into the tap-major accumulators accT (dot = C + (Q − C_valid)/2 and X per the file
// comment; with B tap-major the per-tap terms are constants over contiguous channels). No [sample][channel][row]
// buffer.
void fold_chunk(const GwChunk& c, float* accT) {
  const BGeom& g = c.g;
  const DyQuant& q = c.q;
  const int64_t bits = q.bits, P = c.P, KC = c.KC, ns = c.ns, s0 = c.s0;
  const bool exact = ((int64_t{1} << bits) - 1) * P < (int64_t{1} << 24);  // |dot| ≤ (2^bits − 1)·P, |X| ≤ P
  const int64_t Kl = g.K(), Tl = g.taps(), NBl = c.NB, C = g.c;  // locals: -fno-strict-aliasing and the stores below
  std::vector<float> xsum(static_cast<size_t>(ns * Kl));
  std::vector<std::unique_ptr<LaneB>> lanes(static_cast<size_t>(ns));
  parallel_for(ns, [&, Kl, Tl, NBl, C](int64_t t, int) {
    if (!c.active[t]) return;
    const uint32_t* b = c.B.row(c.bbuf.data(), 0, t);
    const int64_t rw = c.B.row_words;
    lanes[t] = std::make_unique<LaneB>(b, NBl, c.B.seg_bits());
    const int32_t R = popcount_row(b + (NBl - 1) * rw, rw);
    std::vector<int32_t> pr(static_cast<size_t>(NBl));
    for (int64_t r = 0; r < NBl; r++) pr[r] = 2 * popcount_row(b + r * rw, rw) - R;
    float* __restrict xf = xsum.data() + t * Kl;
    for (int64_t tap = 0; tap < Tl; tap++) {
      const int32_t h = (pr[NBl - 1] - pr[Kl + tap]) / 2;
      for (int64_t ch = 0; ch < C; ch++) xf[tap * C + ch] = static_cast<float>(pr[tap * C + ch] + h);
    }
  });
  const int64_t arw = c.A.row_words;
  parallel_range(KC, kGwChannelGrain, [&, Kl, Tl, NBl, C](int64_t k0, int64_t k1) {
    for (int64_t t = 0; t < ns; t++) {
      if (!c.active[t]) continue;
      const uint32_t* a = c.A.row(c.abuf.data(), 0, t);
      const float* xf = xsum.data() + t * Kl;
      const auto load = [&](int64_t kc, uint64_t* aw) -> int64_t {
        int64_t bias = 0;
        for (int64_t p = 0; p < bits; p++) {
          const uint32_t* row = a + (p * KC + kc) * arw;
          std::memcpy(aw + p * (arw / 2), row, sizeof(uint32_t) * static_cast<size_t>(arw));
          bias += static_cast<int64_t>(popcount_row(row, arw)) << p;
        }
        return bias;
      };
      const auto store = [&](int64_t kc, const int32_t* cr) {
        const int64_t grp = q.group((s0 + t) * P, c.kept[kc]);
        if (q.pruned(grp)) return;
        float* acc = accT + kc * Kl;
        const float lo = q.lo(grp), delta = q.qscale[grp];
        for (int64_t tap = 0; tap < Tl; tap++) {
          const int32_t h = (cr[NBl - 1] - cr[Kl + tap]) / 2;
          if (exact) {
            fold_tap(acc + tap * C, cr + tap * C, h, xf + tap * C, C, delta, lo);
          } else {
            for (int64_t ch = 0; ch < C; ch++)
              acc[tap * C + ch] += affine_out(delta, cr[tap * C + ch] + h, lo, static_cast<int64_t>(xf[tap * C + ch]));
          }
        }
      };
      lanes_rows(k0, k1, bits, *lanes[t], load, store);
    }
  });
}

}  // namespace

void binary_conv_grad_weight(const BGeom& g, const float* dy, const float* scale, const DyQuant& q, const uint32_t* x_signs,
                             float* dw) {
  const int64_t K = g.K(), T = g.taps(), NB = K + T + 1, P = g.P();
  std::fill(dw, dw + std::max<int64_t>(0, g.oc * K), 0.0f);
  if (g.n <= 0 || K <= 0 || P <= 0 || g.oc <= 0) return;
  std::vector<int64_t> kept;  // blocked: every channel (the groups are per sample)
  for (int64_t o = 0; o < g.oc; o++)
    if (q.blocked || !q.pruned(q.group(0, o))) kept.push_back(o);
  const int64_t KC = static_cast<int64_t>(kept.size()), bits = q.bits;
  if (KC == 0) return;
  // Bytes per sample of a chunk: the bit rows, and when blocked also B in lane layout and X.
  const int64_t rw = 2 * ((P + 63) / 64);
  const int64_t per_sample = q.blocked ? ((bits * KC + NB) * rw + rw * ((NB + 7) / 8 * 8) + K) * 4 : (bits * KC + NB) * P / 8 + 1;
  const int64_t S = std::max<int64_t>(1, std::min<int64_t>(g.n, (8 << 20) / per_sample));
  std::vector<int64_t> acc(static_cast<size_t>((KC + 1) * NB), 0);  // per-channel groups: Σ over chunks; row KC = ones
  std::vector<float> accT(static_cast<size_t>(q.blocked ? KC * K : 0), 0.0f);  // per-sample groups: tap-major dW rows
  for (int64_t s0 = 0; s0 < g.n; s0 += S) {
    GwChunk chunk(g, q, kept, s0, std::min(S, g.n - s0));
    chunk.fill(dy, scale, x_signs);
    if (q.blocked) fold_chunk(chunk, accT.data());
    else accumulate_chunk(chunk, acc);
  }
  if (q.blocked) {
    for (int64_t kc = 0; kc < KC; kc++)
      for (int64_t tap = 0; tap < T; tap++)
        for (int64_t ch = 0; ch < g.c; ch++) dw[kept[kc] * K + ch * T + tap] = accT[kc * K + tap * g.c + ch];
    return;
  }
  parallel_range(KC, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t kc = k0; kc < k1; kc++) {
      const int64_t grp = q.group(0, kept[kc]);
      const float lo = q.lo(grp), delta = q.qscale[grp];
      const int64_t *c = acc.data() + kc * NB, *pop = acc.data() + KC * NB;
      for (int64_t tap = 0; tap < T; tap++)
        for (int64_t ch = 0; ch < g.c; ch++) {
          const int64_t r = tap * g.c + ch;
          const int64_t dot = c[r] + (c[NB - 1] - c[K + tap]) / 2, X = pop[r] + (pop[NB - 1] - pop[K + tap]) / 2;
          dw[kept[kc] * K + ch * T + tap] = affine_out(delta, dot, lo, X);
        }
    }
  });
}

}  // namespace fqt
