// Forward and grad-input passes of the fused integer convolutions (see qconv.h): implicit convolutions of a
// broadcast operand laid out NHWC on a padded grid with the weights as the vector operand. A task is one sample:
// its output rows are walked with conv_walk into a lane-major plane of R + c (exact), which plane_epilogue turns into
// float32 outputs in one vectorised pass per lane; the rare terms (W offsets, positions without valid taps) are
// patched with the scalar epilogue. The arithmetic is that of src/backend/ref/qconv.ts; every output belongs to one
// task, so results do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "qconv_util.h"
#include "thread_pool.h"

namespace fqt {
using namespace qconv;

namespace {

// Positions per chunk of a task's plane: the lane-major R buffer stays ≤ 256 KiB per thread.
int64_t chunk_rows(int64_t row_len, int64_t width, int64_t rows) {
  return std::max<int64_t>(1, std::min<int64_t>(rows, (int64_t{1} << 15) / std::max<int64_t>(1, row_len * width)));
}

// For every output position of a plane: Σ over the reduced channels of its valid taps of (b' − zb') per lane
// (ub[lane][pos]) and the number of valid terms (kv[pos]). valid(pos, tap); term(lane, tap) = Σ (b' − zb').
template <class Valid, class Term>
void position_sums(int64_t positions, int64_t taps, int64_t lanes, int64_t per_tap, Valid valid, Term term, std::vector<double>* ub,
                   std::vector<double>* kv) {
  std::vector<double> tt(static_cast<size_t>(lanes * taps));
  for (int64_t l = 0; l < lanes; l++)
    for (int64_t t = 0; t < taps; t++) tt[static_cast<size_t>(l * taps + t)] = term(l, t);
  ub->assign(static_cast<size_t>(lanes * positions), 0.0);
  kv->assign(static_cast<size_t>(positions), 0.0);
  for (int64_t p = 0; p < positions; p++)
    for (int64_t t = 0; t < taps; t++) {
      if (!valid(p, t)) continue;
      (*kv)[static_cast<size_t>(p)] += static_cast<double>(per_tap);
      for (int64_t l = 0; l < lanes; l++) (*ub)[static_cast<size_t>(l * positions + p)] += tt[static_cast<size_t>(l * taps + t)];
    }
}

// One pass's per-lane B data: groups per lane, and which fix-ups the plane epilogue needs.
struct LaneB {
  std::vector<double> ob, sb, zb;
  bool anyOb = false;
};

// Patch the outputs the plane epilogue does not cover: the W-offset terms (ob ≠ 0) and positions without valid
// taps. r = R + c (lane-major, r_stride), ua[p] = SA − K(p)·za', kv[p], ub[lane][positions].
void patch_outputs(const LaneB& lb, int64_t l0, int64_t lanes, double oa, double sa, const double* r, int64_t r_stride, const double* sA,
                   const double* ua, const double* kv, const double* ub, int64_t ub_stride, int64_t p0, int64_t count, float* out,
                   int64_t plane) {
  for (int64_t p = 0; p < count; p++) {
    const double k = kv[p0 + p];
    if (k != 0 && !lb.anyOb) continue;
    for (int64_t j = 0; j < lanes; j++) {
      const size_t l = static_cast<size_t>(l0 + j);
      if (k != 0 && lb.ob[l] == 0) continue;
      const double u = r[j * r_stride + p] - lb.zb[l] * sA[p];
      out[j * plane + p] = static_cast<float>(epilogue(u, ua[p], ub[(l0 + j) * ub_stride + p0 + p], k, oa, sa, lb.ob[l], lb.sb[l]));
    }
  }
}

}  // namespace

void qconv_forward(const ConvGeom& g, const Operand& x, const Operand& w, float* y) {
  const Kernels& tk = tier_kernels();
  const int L = tk.lanes;
  const int64_t T = g.kh * g.kw, K = g.c * T, P = g.oh * g.ow;
  if (g.n * g.oc * P == 0) return;
  const int64_t c4 = round_up(g.c, 4), hp = g.h + 2 * g.pad, wp = g.w + 2 * g.pad;
  std::vector<int8_t> xp(static_cast<size_t>(g.n * hp * wp * c4));
  std::vector<int32_t> cs(static_cast<size_t>(g.n * hp * wp));
  pack_nhwc(x, shift_a(x), g.n, g.h, g.w, g.c, c4, hp, wp, g.pad, g.pad, xp.data(), cs.data());
  const Groups gx = groups_of(x, shift_a(x)), gw = groups_of(w, shift_b(w));
  const int sb = shift_b(w);
  const auto wcode = [&](int64_t o, int64_t t, int64_t ci) { return code(w, o * K + ci * T + t) + sb; };
  LaneB bl;
  for (int64_t o = 0; o < g.oc; o++) {
    const size_t i = static_cast<size_t>(w.groups == 1 ? 0 : o);
    bl.ob.push_back(gw.offset[i]), bl.sb.push_back(gw.scale[i]), bl.zb.push_back(gw.zero[i]);
    bl.anyOb = bl.anyOb || gw.offset[i] != 0;
  }
  const LaneBlocks lb = lane_blocks(g.oc, L);
  std::vector<int64_t> block_off;
  const std::vector<uint8_t> panels = pack_panels(lb, L, T, g.c, g.oc, [&](int64_t o, int64_t t, int64_t ci) {
    return static_cast<uint8_t>(wcode(o, t, ci));
  }, &block_off);
  std::vector<double> ub, kv, sbAll(static_cast<size_t>(g.oc), 0.0);
  position_sums(P, T, g.oc, g.c, [&](int64_t p, int64_t t) {
    const int64_t iy = (p / g.ow) * g.stride - g.pad + t / g.kw, ix = (p % g.ow) * g.stride - g.pad + t % g.kw;
    return iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
  }, [&](int64_t o, int64_t t) {
    double v = 0;
    for (int64_t ci = 0; ci < g.c; ci++) v += wcode(o, t, ci) - bl.zb[static_cast<size_t>(o)];
    return v;
  }, &ub, &kv);
  for (int64_t o = 0; o < g.oc; o++)
    for (int64_t k = 0; k < K; k++) sbAll[static_cast<size_t>(o)] += code(w, o * K + k) + sb;
  std::vector<int64_t> tap_a(static_cast<size_t>(T)), tap_pix(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; t++) {
    tap_pix[static_cast<size_t>(t)] = (t / g.kw) * wp + t % g.kw;
    tap_a[static_cast<size_t>(t)] = tap_pix[static_cast<size_t>(t)] * c4;
  }
  std::vector<std::vector<const uint8_t*>> tap_b(lb.nv.size());
  for (size_t b = 0; b < lb.nv.size(); b++)
    for (int64_t t = 0; t < T; t++) tap_b[b].push_back(panels.data() + block_off[b] + t * (c4 / 4) * lb.nv[b] * L * 4);
  const int64_t rowsPerChunk = chunk_rows(g.ow, kMaxNv * L, g.oh), chunk = rowsPerChunk * g.ow;

  parallel_for(g.n, [&](int64_t s, int) {
    const size_t xg = static_cast<size_t>(x.groups == 1 ? 0 : s);
    const double oa = gx.offset[xg], sa = gx.scale[xg], za = gx.zero[xg];
    const int32_t* csn = cs.data() + s * hp * wp;
    double* r = scratch<double>(0, chunk * kMaxNv * L);
    int32_t* buf = scratch<int32_t>(1, 2 * kMaxMr * kMaxNv * L);
    double* sA = scratch<double>(2, 2 * chunk);
    double* ua = sA + chunk;
    double* lane = scratch<double>(3, 4 * kMaxNv * L);  // c, alpha, beta per lane of a block
    for (int64_t oy0 = 0; oy0 < g.oh; oy0 += rowsPerChunk) {
      const int64_t rows = std::min<int64_t>(rowsPerChunk, g.oh - oy0), p0 = oy0 * g.ow, count = rows * g.ow;
      // SA per output: the channel sums of its window (all taps; absent ones hold the zero point).
      for (int64_t row = 0; row < rows; row++) {
        const int32_t* crow = csn + (oy0 + row) * g.stride * wp;
        double* sr = sA + row * g.ow;
        std::fill(sr, sr + g.ow, 0.0);
        for (int64_t t = 0; t < T; t++) {
          const int32_t* ct = crow + tap_pix[static_cast<size_t>(t)];
          for (int64_t ox = 0; ox < g.ow; ox++) sr[ox] += ct[ox * g.stride];
        }
        for (int64_t ox = 0; ox < g.ow; ox++) ua[row * g.ow + ox] = sr[ox] - static_cast<double>(K) * za;
      }
      for (size_t b = 0; b < lb.nv.size(); b++) {
        const int64_t l0 = lb.l0[b], lanes = std::min<int64_t>(lb.nv[b] * L, g.oc - l0);
        double* c = lane;
        double* alpha = lane + kMaxNv * L;
        double* beta = lane + 2 * kMaxNv * L;
        for (int64_t j = 0; j < lb.nv[b] * L; j++) {
          const size_t l = static_cast<size_t>(std::min<int64_t>(l0 + j, g.oc - 1));
          c[j] = -za * sbAll[l] + static_cast<double>(K) * za * bl.zb[l];
          alpha[j] = sa * bl.sb[l];
          beta[j] = oa * bl.sb[l];
        }
        for (int64_t row = 0; row < rows; row++) {
          const int8_t* arow = xp.data() + (s * hp + (oy0 + row) * g.stride) * wp * c4;
          conv_walk(tk, lb.nv[b], {arow, g.stride * c4, tap_a.data(), tap_b[b].data(), static_cast<int>(T), c4 / 4}, g.ow, c, r + row * g.ow,
                    count, 1, buf);
        }
        float* out = y + (s * g.oc + l0) * P + p0;
        const PlaneEpi e{lanes, count, alpha, bl.zb.data() + l0, oa != 0 ? beta : nullptr, oa != 0 ? ub.data() + l0 * P + p0 : nullptr, P};
        plane_epilogue(tk, e, r, count, sA, out, P);
        patch_outputs(bl, l0, lanes, oa, sa, r, count, sA, ua, kv.data(), ub.data(), P, p0, count, out, P);
      }
    }
  });
}

void qconv_grad_input(const ConvGeom& g, const Operand& dy, const Operand& w, float* dx) {
  const Kernels& tk = tier_kernels();
  const int L = tk.lanes;
  const int64_t T = g.kh * g.kw, K = g.c * T, st = g.stride, HW = g.h * g.w;
  if (g.n * g.c * HW == 0) return;
  const auto floor_div = [&](int64_t v) { return (v - (((v % st) + st) % st)) / st; };
  // dY on a padded grid covering every floor((i + pad − k)/stride), in range or not.
  const int64_t oy0 = std::min<int64_t>(0, floor_div(g.pad - (g.kh - 1))), ox0 = std::min<int64_t>(0, floor_div(g.pad - (g.kw - 1)));
  const int64_t oyHi = std::max<int64_t>(g.oh - 1, floor_div(g.h - 1 + g.pad)), oxHi = std::max<int64_t>(g.ow - 1, floor_div(g.w - 1 + g.pad));
  const int64_t ohp = oyHi - oy0 + 1, owp = oxHi - ox0 + 1, oc4 = round_up(g.oc, 4);
  std::vector<int8_t> dp(static_cast<size_t>(g.n * ohp * owp * oc4));
  std::vector<int32_t> cs(static_cast<size_t>(g.n * ohp * owp));
  pack_nhwc(dy, shift_a(dy), g.n, g.oh, g.ow, g.oc, oc4, ohp, owp, -oy0, -ox0, dp.data(), cs.data());
  const Groups gd = groups_of(dy, shift_a(dy)), gw = groups_of(w, shift_b(w));
  const int sb = shift_b(w);
  const auto wcode = [&](int64_t o, int64_t t, int64_t ci) { return code(w, o * K + ci * T + t) + sb; };
  LaneB bl;
  bl.ob.assign(static_cast<size_t>(g.c), gw.offset[0]), bl.sb.assign(static_cast<size_t>(g.c), gw.scale[0]);
  bl.zb.assign(static_cast<size_t>(g.c), gw.zero[0]), bl.anyOb = gw.offset[0] != 0;
  const LaneBlocks lb = lane_blocks(g.c, L);
  std::vector<int64_t> block_off;
  const std::vector<uint8_t> panels = pack_panels(lb, L, T, g.oc, g.c, [&](int64_t ci, int64_t t, int64_t o) {
    return static_cast<uint8_t>(wcode(o, t, ci));
  }, &block_off);
  const auto valid_tap = [&](int64_t i, int64_t k, int64_t out) {
    const int64_t t = i + g.pad - k;
    return t >= 0 && t % st == 0 && t / st < out;
  };
  std::vector<double> ub, kv;
  position_sums(HW, T, g.c, g.oc, [&](int64_t p, int64_t t) { return valid_tap(p / g.w, t / g.kw, g.oh) && valid_tap(p % g.w, t % g.kw, g.ow); },
                [&](int64_t ci, int64_t t) {
                  double v = 0;
                  for (int64_t o = 0; o < g.oc; o++) v += wcode(o, t, ci) - gw.zero[0];
                  return v;
                }, &ub, &kv);
  // Per phase ((iy + pad) mod stride, (ix + pad) mod stride): its taps and Σ b' over them per input channel.
  struct Phase {
    std::vector<int64_t> taps;
    std::vector<double> sb;
  };
  std::vector<Phase> phases(static_cast<size_t>(st * st));
  for (int64_t py = 0; py < st; py++)
    for (int64_t px = 0; px < st; px++) {
      Phase& ph = phases[static_cast<size_t>(py * st + px)];
      for (int64_t t = 0; t < T; t++)
        if ((t / g.kw) % st == py && (t % g.kw) % st == px) ph.taps.push_back(t);
      ph.sb.assign(static_cast<size_t>(lb.padded), 0.0);
      for (int64_t ci = 0; ci < g.c; ci++)
        for (const int64_t t : ph.taps)
          for (int64_t o = 0; o < g.oc; o++) ph.sb[static_cast<size_t>(ci)] += wcode(o, t, ci);
    }
  const int64_t rowsPerChunk = chunk_rows(g.w, kMaxNv * L, g.h), chunk = rowsPerChunk * g.w;

  parallel_for(g.n, [&](int64_t s, int) {
    const size_t dgi = static_cast<size_t>(dy.groups == 1 ? 0 : s);
    const double oa = gd.offset[dgi], sa = gd.scale[dgi], za = gd.zero[dgi];
    const int8_t* dpn = dp.data() + s * ohp * owp * oc4;
    const int32_t* csn = cs.data() + s * ohp * owp;
    double* r = scratch<double>(0, chunk * kMaxNv * L);
    int32_t* buf = scratch<int32_t>(1, 2 * kMaxMr * kMaxNv * L);
    double* sA = scratch<double>(2, 2 * chunk);
    double* ua = sA + chunk;
    double* lane = scratch<double>(3, 3 * kMaxNv * L + st * st * kMaxNv * L);
    int64_t tap_a[64], tap_p[64];
    const uint8_t* tb[64];
    const auto run_taps = [&](int64_t iy, int64_t rxp, const Phase& ph) {
      for (size_t k = 0; k < ph.taps.size(); k++) {
        const int64_t t = ph.taps[k];
        tap_p[k] = (floor_div(iy + g.pad - t / g.kw) - oy0) * owp + (floor_div(rxp + g.pad - t % g.kw) - ox0);
        tap_a[k] = tap_p[k] * oc4;
      }
    };
    for (int64_t iy0 = 0; iy0 < g.h; iy0 += rowsPerChunk) {
      const int64_t rows = std::min<int64_t>(rowsPerChunk, g.h - iy0), p0 = iy0 * g.w, count = rows * g.w;
      for (int64_t row = 0; row < rows; row++)
        for (int64_t rxp = 0; rxp < std::min<int64_t>(st, g.w); rxp++) {
          const int64_t iy = iy0 + row;
          const Phase& ph = phases[static_cast<size_t>(((iy + g.pad) % st) * st + (rxp + g.pad) % st)];
          const double kall = static_cast<double>(g.oc) * static_cast<double>(ph.taps.size());
          run_taps(iy, rxp, ph);
          // SA of the run's outputs: tap by tap over the contiguous dY channel sums.
          double* sr = sA + row * g.w + rxp;
          const int64_t n = (g.w - rxp + st - 1) / st;
          for (int64_t j = 0; j < n; j++) sr[j * st] = 0.0;
          for (size_t k = 0; k < ph.taps.size(); k++) {
            const int32_t* ct = csn + tap_p[k];
            for (int64_t j = 0; j < n; j++) sr[j * st] += ct[j];
          }
          for (int64_t j = 0; j < n; j++) ua[row * g.w + rxp + j * st] = sr[j * st] - kall * za;
        }
      for (size_t b = 0; b < lb.nv.size(); b++) {
        const int64_t l0 = lb.l0[b], width = lb.nv[b] * L, lanes = std::min<int64_t>(width, g.c - l0);
        double* alpha = lane;
        double* beta = lane + kMaxNv * L;
        double* cph = lane + 3 * kMaxNv * L;  // c per phase and lane
        for (int64_t j = 0; j < width; j++) {
          const size_t l = static_cast<size_t>(std::min<int64_t>(l0 + j, g.c - 1));
          alpha[j] = sa * bl.sb[l];
          beta[j] = oa * bl.sb[l];
          for (size_t phi = 0; phi < phases.size(); phi++) {
            const double kall = static_cast<double>(g.oc) * static_cast<double>(phases[phi].taps.size());
            cph[static_cast<int64_t>(phi) * width + j] = -za * phases[phi].sb[static_cast<size_t>(l0 + j)] + kall * za * bl.zb[l];
          }
        }
        for (int64_t row = 0; row < rows; row++)
          for (int64_t rxp = 0; rxp < std::min<int64_t>(st, g.w); rxp++) {
            const int64_t iy = iy0 + row;
            const size_t phi = static_cast<size_t>(((iy + g.pad) % st) * st + (rxp + g.pad) % st);
            const Phase& ph = phases[phi];
            run_taps(iy, rxp, ph);
            for (size_t k = 0; k < ph.taps.size(); k++) tb[k] = panels.data() + block_off[b] + ph.taps[k] * (oc4 / 4) * width * 4;
            conv_walk(tk, lb.nv[b], {dpn, oc4, tap_a, tb, static_cast<int>(ph.taps.size()), oc4 / 4}, (g.w - rxp + st - 1) / st,
                      cph + static_cast<int64_t>(phi) * width, r + row * g.w + rxp, count, st, buf);
          }
        float* out = dx + (s * g.c + l0) * HW + p0;
        const PlaneEpi e{lanes, count, alpha, bl.zb.data() + l0, oa != 0 ? beta : nullptr, oa != 0 ? ub.data() + l0 * HW + p0 : nullptr, HW};
        plane_epilogue(tk, e, r, count, sA, out, HW);
        patch_outputs(bl, l0, lanes, oa, sa, r, count, sA, ua, kv.data(), ub.data(), HW, p0, count, out, HW);
      }
    }
  });
}

}  // namespace fqt
