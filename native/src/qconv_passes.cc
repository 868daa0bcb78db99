// Forward and grad-input passes of the fused integer convolutions (see qconv.h): implicit convolutions of a
// broadcast operand laid out NHWC on a padded grid with the weights as the vector operand. A task is one sample; each
// row of outputs is one conv_run (micro-kernel tiles finished in place by the vectorised epilogue). The arithmetic is
// that of src/backend/ref/qconv.ts; every output belongs to one task, so results do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "qconv_util.h"
#include "thread_pool.h"

namespace fqt {
using namespace qconv;

namespace {

// For every output position of a plane: Σ over the reduced channels of its valid taps of (b' − zb') per lane
// (ub[lane][pos], and position-major ubt[pos][lane] over `padded` lanes for the whole-tile epilogue) and the number
// of valid terms (kv[pos]). valid(pos, tap); term(lane, tap) = Σ (b' − zb').
template <class Valid, class Term>
void position_sums(int64_t positions, int64_t taps, int64_t lanes, int64_t padded, int64_t per_tap, Valid valid, Term term,
                   std::vector<double>* ub, std::vector<double>* ubt, std::vector<double>* kv) {
  // Per tap, lane-contiguous; an output with every tap valid (the interior) takes the sum over all taps. The
  // values are exact integers in doubles, so the order of the additions does not matter.
  std::vector<double> tt(static_cast<size_t>(taps * lanes)), full(static_cast<size_t>(lanes), 0.0);
  for (int64_t l = 0; l < lanes; l++)
    for (int64_t t = 0; t < taps; t++) {
      tt[static_cast<size_t>(t * lanes + l)] = term(l, t);
      full[static_cast<size_t>(l)] += tt[static_cast<size_t>(t * lanes + l)];
    }
  ubt->assign(static_cast<size_t>(padded * positions), 0.0);
  kv->assign(static_cast<size_t>(positions), 0.0);
  for (int64_t p = 0; p < positions; p++) {
    double* __restrict u = ubt->data() + p * padded;
    int64_t nvalid = 0;
    for (int64_t t = 0; t < taps; t++) nvalid += valid(p, t) ? 1 : 0;
    (*kv)[static_cast<size_t>(p)] = static_cast<double>(nvalid * per_tap);
    if (nvalid == taps) {
      std::copy(full.begin(), full.end(), u);
      continue;
    }
    for (int64_t t = 0; t < taps; t++) {
      if (!valid(p, t)) continue;
      const double* __restrict tv = tt.data() + t * lanes;
      for (int64_t l = 0; l < lanes; l++) u[l] += tv[l];
    }
  }
  ub->resize(static_cast<size_t>(lanes * positions));
  for (int64_t l = 0; l < lanes; l++)
    for (int64_t p = 0; p < positions; p++) (*ub)[static_cast<size_t>(l * positions + p)] = (*ubt)[static_cast<size_t>(p * padded + l)];
}

// One pass's per-lane B data: groups per lane, and which fix-ups the plane epilogue needs.
struct LaneB {
  std::vector<double> ob, sb, zb;
  bool anyOb = false;
};

// sA[oy·ow + ox] = Σ over the taps of the window sums cs of padded pixel (oy·stride, ox·stride) + tap_pix[t].
void window_sums(const int32_t* cs, int64_t wp, int64_t oh, int64_t ow, int64_t stride, const int64_t* tap_pix, int64_t ntaps, double* sA) {
  const int64_t st = stride;
  for (int64_t oy = 0; oy < oh; oy++) {
    double* __restrict sr = sA + oy * ow;
    const int32_t* crow = cs + oy * st * wp;
    std::fill(sr, sr + ow, 0.0);
    for (int64_t k = 0; k < ntaps; k++) {
      const int32_t* __restrict ct = crow + tap_pix[k];
      if (st == 1)
        for (int64_t ox = 0; ox < ow; ox++) sr[ox] += ct[ox];
      else
        for (int64_t ox = 0; ox < ow; ox++) sr[ox] += ct[ox * st];
    }
  }
}

// Per-lane epilogue constants of one task and lane block (TileEpi points into these).
struct LaneConsts {
  std::vector<double> alpha, beta, c, zb, ob, sb;
  void resize(int64_t width) {
    for (auto* v : {&alpha, &beta, &c, &zb, &ob, &sb}) v->assign(static_cast<size_t>(width), 0.0);
  }
};

// TileEpi of lanes [l0, l0 + width) for A's group (oa, sa, za') and per-lane B groups in bl, with c_j from sb_all[j]
// (Σ b' over the run's K terms) and kall = K.
TileEpi tile_epi(LaneConsts& lc, const LaneB& bl, int64_t l0, int64_t width, int64_t lanes, double oa, double sa, double za,
                 const double* sb_all, double kall, const std::vector<double>& ub, int64_t ub_stride, const std::vector<double>& ubt,
                 int64_t ubt_stride, const std::vector<double>& kv, bool anyEmpty) {
  lc.resize(width);
  for (int64_t j = 0; j < lanes; j++) {
    const size_t l = static_cast<size_t>(l0 + j), i = static_cast<size_t>(j);
    lc.alpha[i] = sa * bl.sb[l];
    lc.beta[i] = oa * bl.sb[l];
    lc.c[i] = -za * sb_all[j] + kall * za * bl.zb[l];
    lc.zb[i] = bl.zb[l], lc.ob[i] = bl.ob[l], lc.sb[i] = bl.sb[l];
  }
  const bool generic = bl.anyOb || anyEmpty;
  return {width, lanes, lc.alpha.data(), lc.zb.data(), lc.c.data(), oa != 0 ? lc.beta.data() : nullptr,
          oa != 0 || generic ? ub.data() + l0 * ub_stride : nullptr, ub_stride, generic, lc.ob.data(), lc.sb.data(), kv.data(), oa, sa,
          kall * za, ubt.data() + l0, ubt_stride};
}

}  // namespace

void qconv_forward(const ConvGeom& g, const Operand& x, const Operand& w, float* y) {
  const Kernels& tk = tier_kernels();
  const int L = tk.lanes;
  const int64_t T = g.kh * g.kw, K = g.c * T, P = g.oh * g.ow;
  if (g.n * g.oc * P == 0) return;
  if (g.c == 0) {  // empty sums
    std::fill(y, y + g.n * g.oc * P, 0.0f);
    return;
  }
  const int64_t c4 = round_up(g.c, 4), hp = g.h + 2 * g.pad, wp = g.w + 2 * g.pad;
  const auto xp = packed_buffer<int8_t>(g.n * hp * wp * c4);
  const auto cs = packed_buffer<int32_t>(g.n * hp * wp);
  pack_nhwc(x, shift_a(x), g.n, g.h, g.w, g.c, c4, hp, wp, g.pad, g.pad, xp.get(), cs.get());
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
  std::vector<double> ub, ubt, kv, sbAll(static_cast<size_t>(g.oc), 0.0);
  position_sums(P, T, g.oc, lb.padded, g.c, [&](int64_t p, int64_t t) {
    const int64_t iy = (p / g.ow) * g.stride - g.pad + t / g.kw, ix = (p % g.ow) * g.stride - g.pad + t % g.kw;
    return iy >= 0 && iy < g.h && ix >= 0 && ix < g.w;
  }, [&](int64_t o, int64_t t) {
    int64_t v = 0;  // Σ (b' − zb') as exact integers
    for (int64_t ci = 0; ci < g.c; ci++) v += wcode(o, t, ci);
    return static_cast<double>(v) - static_cast<double>(g.c) * bl.zb[static_cast<size_t>(o)];
  }, &ub, &ubt, &kv);
  for (int64_t o = 0; o < g.oc; o++) {  // an integer accumulator: no store per term (sbAll may alias the codes)
    int64_t sum = 0;
    for (int64_t k = 0; k < K; k++) sum += code(w, o * K + k) + sb;
    sbAll[static_cast<size_t>(o)] = static_cast<double>(sum);
  }
  std::vector<int64_t> tap_a(static_cast<size_t>(T)), tap_pix(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; t++) {
    tap_pix[static_cast<size_t>(t)] = (t / g.kw) * wp + t % g.kw;
    tap_a[static_cast<size_t>(t)] = tap_pix[static_cast<size_t>(t)] * c4;
  }
  std::vector<std::vector<const uint8_t*>> tap_b(lb.nv.size());
  for (size_t b = 0; b < lb.nv.size(); b++)
    for (int64_t t = 0; t < T; t++) tap_b[b].push_back(panels.data() + block_off[b] + t * (c4 / 4) * lb.nv[b] * L * 4);
  const bool anyEmpty = std::find(kv.begin(), kv.end(), 0.0) != kv.end();
  // Output p = (oy, ox) reads its window from padded pixel (oy·stride, ox·stride): tiles run across rows.
  std::vector<int64_t> off(static_cast<size_t>(P));
  for (int64_t p = 0; p < P; p++) off[static_cast<size_t>(p)] = ((p / g.ow) * g.stride * wp + (p % g.ow) * g.stride) * c4;

  parallel_for(g.n, [&](int64_t s, int) {
    const size_t xg = static_cast<size_t>(x.groups == 1 ? 0 : s);
    const double oa = gx.offset[xg], sa = gx.scale[xg], za = gx.zero[xg];
    const int32_t* csn = cs.get() + s * hp * wp;
    int32_t* buf = scratch<int32_t>(1, 4 * kMaxMr * kMaxNv * L);
    double* sA = scratch<double>(2, P);
    // SA per output: the channel sums of its window (all taps; absent ones hold the zero point).
    window_sums(csn, wp, g.oh, g.ow, g.stride, tap_pix.data(), T, sA);
    thread_local std::vector<LaneConsts> lc;
    lc.resize(lb.nv.size());
    std::vector<TileEpi> epi;
    for (size_t b = 0; b < lb.nv.size(); b++)
      epi.push_back(tile_epi(lc[b], bl, lb.l0[b], lb.nv[b] * L, std::min<int64_t>(lb.nv[b] * L, g.oc - lb.l0[b]), oa, sa, za,
                             sbAll.data() + lb.l0[b], static_cast<double>(K), ub, P, ubt, lb.padded, kv, anyEmpty));
    const int8_t* xs = xp.get() + s * hp * wp * c4;
    for (size_t b = 0; b < lb.nv.size(); b++)
      conv_run(tk, lb.nv[b], {xs, off.data(), tap_a.data(), tap_b[b].data(), static_cast<int>(T), c4 / 4, g.ow, g.stride * c4}, P, 0, 1, sA, epi[b],
               y + (s * g.oc + lb.l0[b]) * P, P, buf);
  });
}

void qconv_grad_input(const ConvGeom& g, const Operand& dy, const Operand& w, const BhqGroups& bhq, float* dx) {
  const Kernels& tk = tier_kernels();
  const int L = tk.lanes;
  const int64_t T = g.kh * g.kw, K = g.c * T, st = g.stride, HW = g.h * g.w;
  if (g.n * g.c * HW == 0) return;
  if (g.oc == 0) {  // empty sums
    std::fill(dx, dx + g.n * g.c * HW, 0.0f);
    return;
  }
  const auto floor_div = [&](int64_t v) { return (v - (((v % st) + st) % st)) / st; };
  // dY on a padded grid covering every floor((i + pad − k)/stride), in range or not.
  const int64_t oy0 = std::min<int64_t>(0, floor_div(g.pad - (g.kh - 1))), ox0 = std::min<int64_t>(0, floor_div(g.pad - (g.kw - 1)));
  const int64_t oyHi = std::max<int64_t>(g.oh - 1, floor_div(g.h - 1 + g.pad)), oxHi = std::max<int64_t>(g.ow - 1, floor_div(g.w - 1 + g.pad));
  const int64_t ohp = oyHi - oy0 + 1, owp = oxHi - ox0 + 1, oc4 = round_up(g.oc, 4);
  const auto dp = packed_buffer<int8_t>(g.n * ohp * owp * oc4);
  const auto cs = packed_buffer<int32_t>(g.n * ohp * owp);
  pack_nhwc(dy, shift_a(dy), g.n, g.oh, g.ow, g.oc, oc4, ohp, owp, -oy0, -ox0, dp.get(), cs.get());
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
  std::vector<double> ub, ubt, kv;
  position_sums(HW, T, g.c, lb.padded, g.oc, [&](int64_t p, int64_t t) { return valid_tap(p / g.w, t / g.kw, g.oh) && valid_tap(p % g.w, t % g.kw, g.ow); },
                [&](int64_t ci, int64_t t) {
                  int64_t v = 0;  // Σ (b' − zb') as exact integers
                  for (int64_t o = 0; o < g.oc; o++) v += wcode(o, t, ci);
                  return static_cast<double>(v) - static_cast<double>(g.oc) * gw.zero[0];
                }, &ub, &ubt, &kv);
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
      for (int64_t ci = 0; ci < g.c; ci++) {
        int64_t sum = 0;
        for (const int64_t t : ph.taps)
          for (int64_t o = 0; o < g.oc; o++) sum += wcode(o, t, ci);
        ph.sb[static_cast<size_t>(ci)] = static_cast<double>(sum);
      }
    }
  // Per phase: does some input pixel of it have no valid tap (its gradient is an exact 0 from the scalar epilogue)?
  std::vector<char> phaseEmpty(phases.size(), 0);
  for (int64_t p = 0; p < HW; p++)
    if (kv[static_cast<size_t>(p)] == 0) phaseEmpty[static_cast<size_t>((((p / g.w) + g.pad) % st) * st + ((p % g.w) + g.pad) % st)] = 1;
  // A run of a phase steps one dY pixel per output; with stride 1 one run covers the whole plane (tiles across rows).
  std::vector<int64_t> step(static_cast<size_t>(std::max<int64_t>(g.w, HW)));
  for (size_t i = 0; i < step.size(); i++) step[i] = static_cast<int64_t>(i) * oc4;
  std::vector<int64_t> planeOff;
  if (st == 1) {
    planeOff.resize(static_cast<size_t>(HW));
    for (int64_t p = 0; p < HW; p++) planeOff[static_cast<size_t>(p)] = ((p / g.w) * owp + p % g.w) * oc4;
  }

  const auto sample = [&](int64_t s) {
    const size_t dgi = static_cast<size_t>(dy.groups == 1 ? 0 : s);
    const double oa = gd.offset[dgi], sa = gd.scale[dgi], za = gd.zero[dgi];
    const int8_t* dpn = dp.get() + s * ohp * owp * oc4;
    const int32_t* csn = cs.get() + s * ohp * owp;
    int32_t* buf = scratch<int32_t>(1, 4 * kMaxMr * kMaxNv * L);
    double* sA = scratch<double>(2, HW);
    thread_local std::vector<int64_t> tapBuf;
    thread_local std::vector<const uint8_t*> tbBuf;
    tapBuf.resize(static_cast<size_t>(2 * T));
    tbBuf.resize(static_cast<size_t>(T));
    int64_t* tap_a = tapBuf.data();
    int64_t* tap_p = tapBuf.data() + T;
    const uint8_t** tb = tbBuf.data();
    // Epilogue constants per (phase, lane block): c_j sums over the phase's taps.
    const size_t nb = lb.nv.size();
    thread_local std::vector<LaneConsts> lc;
    lc.resize(phases.size() * nb);
    std::vector<TileEpi> epi;
    for (size_t phi = 0; phi < phases.size(); phi++)
      for (size_t b = 0; b < nb; b++) {
        const int64_t width = lb.nv[b] * L, l0 = lb.l0[b];
        epi.push_back(tile_epi(lc[phi * nb + b], bl, l0, width, std::min<int64_t>(width, g.c - l0), oa, sa, za, phases[phi].sb.data() + l0,
                               static_cast<double>(g.oc * static_cast<int64_t>(phases[phi].taps.size())), ub, HW, ubt, lb.padded, kv,
                               phaseEmpty[phi] != 0));
      }
    if (st == 1) {
      // One phase: the taps read at a fixed offset from each input pixel's dY window origin (iy − oy0 + pad − ky, ...).
      const Phase& ph = phases[0];
      const int64_t ntaps = static_cast<int64_t>(ph.taps.size());
      for (int64_t k = 0; k < ntaps; k++) {
        const int64_t t = ph.taps[static_cast<size_t>(k)];
        tap_p[k] = (g.pad - t / g.kw - oy0) * owp + (g.pad - t % g.kw - ox0);
        tap_a[k] = tap_p[k] * oc4;
      }
      // input pixel (iy, ix) has its window origin at dY pixel iy·owp + ix: the forward's window sums with stride 1
      window_sums(csn, owp, g.h, g.w, 1, tap_p, ntaps, sA);
      for (size_t b = 0; b < nb; b++) {
        const int64_t width = lb.nv[b] * L;
        for (int64_t k = 0; k < ntaps; k++) tb[k] = panels.data() + block_off[b] + ph.taps[static_cast<size_t>(k)] * (oc4 / 4) * width * 4;
        conv_run(tk, lb.nv[b], {dpn, planeOff.data(), tap_a, tb, static_cast<int>(ntaps), oc4 / 4, g.w, oc4}, HW, 0, 1, sA, epi[b],
                 dx + (s * g.c + lb.l0[b]) * HW, HW, buf);
      }
      return;
    }
    for (int64_t iy = 0; iy < g.h; iy++) {
      for (int64_t rxp = 0; rxp < std::min<int64_t>(st, g.w); rxp++) {  // first input column of one x-phase
        const size_t phi = static_cast<size_t>(((iy + g.pad) % st) * st + (rxp + g.pad) % st);
        const Phase& ph = phases[phi];
        const int64_t ntaps = static_cast<int64_t>(ph.taps.size()), count = (g.w - rxp + st - 1) / st;
        if (ntaps == 0) {  // no tap reaches these pixels (e.g. a 1×1 stride-2 conv): every sum is empty, dX = 0
          for (int64_t ci = 0; ci < g.c; ci++) {
            float* o = dx + (s * g.c + ci) * HW + iy * g.w + rxp;
            for (int64_t j = 0; j < count; j++) o[j * st] = 0.0f;
          }
          continue;
        }
        // The dY pixel each tap reads for the run's first input pixel; the run then steps one dY pixel at a time.
        for (int64_t k = 0; k < ntaps; k++) {
          const int64_t t = ph.taps[static_cast<size_t>(k)];
          tap_p[k] = (floor_div(iy + g.pad - t / g.kw) - oy0) * owp + (floor_div(rxp + g.pad - t % g.kw) - ox0);
          tap_a[k] = tap_p[k] * oc4;
        }
        std::fill(sA, sA + count, 0.0);
        for (int64_t k = 0; k < ntaps; k++) {
          const int32_t* __restrict ct = csn + tap_p[k];
          double* __restrict sr = sA;
          for (int64_t j = 0; j < count; j++) sr[j] += ct[j];
        }
        for (size_t b = 0; b < nb; b++) {
          const int64_t width = lb.nv[b] * L, l0 = lb.l0[b];
          for (int64_t k = 0; k < ntaps; k++) tb[k] = panels.data() + block_off[b] + ph.taps[static_cast<size_t>(k)] * (oc4 / 4) * width * 4;
          conv_run(tk, lb.nv[b], {dpn, step.data(), tap_a, tb, static_cast<int>(ntaps), oc4 / 4, count, oc4}, count, iy * g.w + rxp, st, sA, epi[phi * nb + b],
                   dx + (s * g.c + l0) * HW, HW, buf);
        }
      }
    }
  };
  if (bhq.ngroups == 0) return parallel_for(g.n, [&](int64_t s, int) { sample(s); });
  // BHQ (METHODS §1.5): T mixes whole samples, so T⁻¹ of one group needs only its samples' dX, just written and in cache.
  const std::vector<int64_t> start = bhq_group_starts(bhq.group_sizes, bhq.ngroups);
  parallel_for(bhq.ngroups, [&](int64_t gi, int) {
    for (int64_t j = start[gi]; j < start[gi + 1]; j++) sample(bhq.order[j]);
    bhq_inverse_group(dx, g.c * HW, bhq.order, start[gi], start[gi + 1] - start[gi], bhq.row_scale);
  });
}

}  // namespace fqt
