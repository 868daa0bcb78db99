// Forward and grad-input passes of the fused integer convolutions (see qconv.h): both are implicit convolutions of
// a broadcast operand laid out NHWC on a padded grid with the weights as the vector operand, run row by row with
// conv_walk and finished by epilogue_lanes (float64, the order of src/backend/ref/qconv.ts). Every output belongs
// to one task, so results do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "qconv_util.h"
#include "thread_pool.h"

namespace fqt {
using namespace qconv;

namespace {

// Per class (row class × column class) and lane: Σ (b' − zb') over the class's valid taps, and the term count.
struct ClassSums {
  int64_t ncx = 0;
  std::vector<double> ub;  // [class][padded lanes]
  std::vector<double> kv;  // [class]
};

// term(lane, tap) = Σ (b' − zb') over the reduced channels of that tap; `per_tap` terms per valid tap.
template <class Term>
ClassSums class_sums(const AxisClasses& ry, const AxisClasses& rx, int64_t kw, int64_t taps, int64_t lanes, int64_t padded,
                     int64_t per_tap, Term term) {
  ClassSums cs;
  cs.ncx = static_cast<int64_t>(rx.masks.size());
  const int64_t ncls = static_cast<int64_t>(ry.masks.size()) * cs.ncx;
  cs.ub.assign(static_cast<size_t>(ncls * padded), 0.0);
  cs.kv.assign(static_cast<size_t>(ncls), 0.0);
  for (int64_t cl = 0; cl < ncls; cl++) {
    const uint64_t my = ry.masks[static_cast<size_t>(cl / cs.ncx)], mx = rx.masks[static_cast<size_t>(cl % cs.ncx)];
    for (int64_t t = 0; t < taps; t++) {
      if (!((my >> (t / kw)) & 1) || !((mx >> (t % kw)) & 1)) continue;
      cs.kv[static_cast<size_t>(cl)] += static_cast<double>(per_tap);
      for (int64_t l = 0; l < lanes; l++) cs.ub[static_cast<size_t>(cl * padded + l)] += term(l, t);
    }
  }
  return cs;
}

// The EpiLanes of lanes [l0, l0 + width) for A's group (oa, sa, za') and B's groups per lane (bgroup(lane, &ob, &sb,
// &zb')). sb_all[j]: Σ b' over all K terms of lane l0 + j; kall: K (all terms, absent taps included).
template <class BGroup>
EpiLanes epi_lanes(int64_t width, int64_t l0, int64_t lanes, double oa, double sa, double za, const double* sb_all, double kall,
                   const ClassSums& cls, int64_t padded, BGroup bgroup) {
  const int64_t ncls = static_cast<int64_t>(cls.kv.size());
  EpiLanes e;
  e.width = width;
  e.alpha.assign(static_cast<size_t>(width), 0.0);
  e.zb.assign(static_cast<size_t>(width), 0.0);
  e.c.assign(static_cast<size_t>(width), 0.0);
  e.obnz.assign(static_cast<size_t>(width), 0);
  std::vector<double> gamma(static_cast<size_t>(width), 0.0), obs(static_cast<size_t>(width), 0.0), sbs(static_cast<size_t>(width), 0.0);
  bool anyOb = false;
  for (int64_t j = 0; j < width && l0 + j < lanes; j++) {
    double ob, sb, zb;
    bgroup(l0 + j, &ob, &sb, &zb);
    const size_t i = static_cast<size_t>(j);
    e.alpha[i] = sa * sb;
    e.zb[i] = zb;
    e.c[i] = -za * sb_all[j] + kall * za * zb;
    gamma[i] = ob * sa;
    e.obnz[i] = ob != 0;
    obs[i] = ob;
    sbs[i] = sb;
    anyOb = anyOb || ob != 0;
  }
  e.kv = cls.kv.data();
  e.kza = kall * za;
  if (oa != 0) {
    e.kappa.assign(static_cast<size_t>(ncls * width), 0.0);
    for (int64_t c = 0; c < ncls; c++)
      for (int64_t j = 0; j < width && l0 + j < lanes; j++)
        e.kappa[static_cast<size_t>(c * width + j)] = oa * sbs[static_cast<size_t>(j)] * cls.ub[static_cast<size_t>(c * padded + l0 + j)];
  }
  if (anyOb) {
    e.gamma = gamma;
    if (oa != 0) {
      e.delta.assign(static_cast<size_t>(ncls * width), 0.0);
      for (int64_t c = 0; c < ncls; c++)
        for (int64_t j = 0; j < width && l0 + j < lanes; j++)
          e.delta[static_cast<size_t>(c * width + j)] = cls.kv[static_cast<size_t>(c)] * oa * obs[static_cast<size_t>(j)];
    }
  }
  return e;
}

// Runs of equal class along a row of outputs whose classes are row_class·ncx + cols.id[first + i·step].
std::vector<ClassRun> class_runs(const AxisClasses& cols, int64_t first, int64_t step, int64_t count, int64_t row_class, int64_t ncx) {
  std::vector<ClassRun> runs;
  for (int64_t i = 0; i < count; i++) {
    const int64_t cl = row_class * ncx + cols.id[static_cast<size_t>(first + i * step)];
    if (runs.empty() || runs.back().cls != cl) runs.push_back({i, i + 1, cl});
    else runs.back().end = i + 1;
  }
  return runs;
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
  const auto wgroup = [&](int64_t o, double* ob, double* s, double* z) {
    const size_t i = static_cast<size_t>(w.groups == 1 ? 0 : o);
    *ob = gw.offset[i], *s = gw.scale[i], *z = gw.zero[i];
  };
  const LaneBlocks lb = lane_blocks(g.oc, L);
  std::vector<int64_t> block_off;
  const std::vector<uint8_t> panels = pack_panels(lb, L, T, g.c, g.oc, [&](int64_t o, int64_t t, int64_t ci) {
    return static_cast<uint8_t>(wcode(o, t, ci));
  }, &block_off);
  const AxisClasses ry = forward_classes(g.oh, g.kh, g.stride, g.pad, g.h), rx = forward_classes(g.ow, g.kw, g.stride, g.pad, g.w);
  const ClassSums cls = class_sums(ry, rx, g.kw, T, g.oc, lb.padded, g.c, [&](int64_t o, int64_t t) {
    double ob, s, z;
    wgroup(o, &ob, &s, &z);
    double v = 0;
    for (int64_t ci = 0; ci < g.c; ci++) v += wcode(o, t, ci) - z;
    return v;
  });
  std::vector<double> sbAll(static_cast<size_t>(lb.padded), 0.0);
  for (int64_t o = 0; o < g.oc; o++)
    for (int64_t t = 0; t < T; t++)
      for (int64_t ci = 0; ci < g.c; ci++) sbAll[static_cast<size_t>(o)] += wcode(o, t, ci);
  std::vector<int64_t> tap_a(static_cast<size_t>(T)), tap_pix(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; t++) {
    tap_pix[static_cast<size_t>(t)] = (t / g.kw) * wp + t % g.kw;
    tap_a[static_cast<size_t>(t)] = tap_pix[static_cast<size_t>(t)] * c4;
  }
  std::vector<std::vector<const uint8_t*>> tap_b(lb.nv.size());
  for (size_t b = 0; b < lb.nv.size(); b++)
    for (int64_t t = 0; t < T; t++) tap_b[b].push_back(panels.data() + block_off[b] + t * (c4 / 4) * lb.nv[b] * L * 4);
  // Epilogue constants per (X group, lane block), and the class runs of each output-row class.
  const size_t nb = lb.nv.size();
  std::vector<EpiLanes> epi;
  for (int64_t xg = 0; xg < x.groups; xg++)
    for (size_t b = 0; b < nb; b++)
      epi.push_back(epi_lanes(lb.nv[b] * L, lb.l0[b], g.oc, gx.offset[static_cast<size_t>(xg)], gx.scale[static_cast<size_t>(xg)],
                              gx.zero[static_cast<size_t>(xg)], sbAll.data() + lb.l0[b], static_cast<double>(K), cls, lb.padded, wgroup));
  std::vector<std::vector<ClassRun>> runs;
  for (size_t ryc = 0; ryc < ry.masks.size(); ryc++) runs.push_back(class_runs(rx, 0, 1, g.ow, static_cast<int64_t>(ryc), cls.ncx));

  parallel_for(g.n * g.oh, [&](int64_t task, int) {
    const int64_t s = task / g.oh, oy = task % g.oh;
    const size_t xg = static_cast<size_t>(x.groups == 1 ? 0 : s);
    const int8_t* arow = xp.data() + (s * hp + oy * g.stride) * wp * c4;
    const int32_t* csn = cs.data() + s * hp * wp;
    double* r = scratch<double>(0, g.ow * kMaxNv * L);
    int32_t* buf = scratch<int32_t>(1, 2 * kMaxMr * kMaxNv * L);
    double* sumA = scratch<double>(2, g.ow);
    const int32_t* crow = csn + oy * g.stride * wp;
    for (int64_t ox = 0; ox < g.ow; ox++) {
      int64_t a = 0;
      for (int64_t t = 0; t < T; t++) a += crow[tap_pix[static_cast<size_t>(t)] + ox * g.stride];
      sumA[ox] = static_cast<double>(a);
    }
    for (size_t b = 0; b < nb; b++) {
      const int64_t lanes = std::min<int64_t>(lb.nv[b] * L, g.oc - lb.l0[b]);
      conv_walk(tk, lb.nv[b], {arow, g.stride * c4, tap_a.data(), tap_b[b].data(), static_cast<int>(T), c4 / 4}, g.ow, r, buf);
      epilogue_lanes(tk, epi[xg * nb + b], r, g.ow, sumA, runs[static_cast<size_t>(ry.id[static_cast<size_t>(oy)])], lanes,
                     y + ((s * g.oc + lb.l0[b]) * g.oh + oy) * g.ow, P, 1);
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
  const auto wgroup = [&](int64_t, double* ob, double* s, double* z) { *ob = gw.offset[0], *s = gw.scale[0], *z = gw.zero[0]; };
  const LaneBlocks lb = lane_blocks(g.c, L);
  std::vector<int64_t> block_off;
  const std::vector<uint8_t> panels = pack_panels(lb, L, T, g.oc, g.c, [&](int64_t ci, int64_t t, int64_t o) {
    return static_cast<uint8_t>(wcode(o, t, ci));
  }, &block_off);
  const AxisClasses ry = input_classes(g.h, g.kh, st, g.pad, g.oh), rx = input_classes(g.w, g.kw, st, g.pad, g.ow);
  const ClassSums cls = class_sums(ry, rx, g.kw, T, g.c, lb.padded, g.oc, [&](int64_t ci, int64_t t) {
    double v = 0;
    for (int64_t o = 0; o < g.oc; o++) v += wcode(o, t, ci) - gw.zero[0];
    return v;
  });
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
  // Epilogue constants per (dY group, phase, lane block); class runs per (row class, x-phase).
  const size_t nb = lb.nv.size(), np = phases.size();
  std::vector<EpiLanes> epi;
  for (int64_t dgi = 0; dgi < dy.groups; dgi++)
    for (const Phase& ph : phases)
      for (size_t b = 0; b < nb; b++)
        epi.push_back(epi_lanes(lb.nv[b] * L, lb.l0[b], g.c, gd.offset[static_cast<size_t>(dgi)], gd.scale[static_cast<size_t>(dgi)],
                                gd.zero[static_cast<size_t>(dgi)], ph.sb.data() + lb.l0[b],
                                static_cast<double>(g.oc * static_cast<int64_t>(ph.taps.size())), cls, lb.padded, wgroup));
  std::vector<std::vector<ClassRun>> runs;
  for (size_t ryc = 0; ryc < ry.masks.size(); ryc++)
    for (int64_t rxp = 0; rxp < st; rxp++)
      runs.push_back(class_runs(rx, rxp, st, rxp < g.w ? (g.w - rxp + st - 1) / st : 0, static_cast<int64_t>(ryc), cls.ncx));

  parallel_for(g.n * g.h, [&](int64_t task, int) {
    const int64_t s = task / g.h, iy = task % g.h;
    const size_t dgi = static_cast<size_t>(dy.groups == 1 ? 0 : s);
    const int8_t* dpn = dp.data() + s * ohp * owp * oc4;
    const int32_t* csn = cs.data() + s * ohp * owp;
    const int64_t runMax = (g.w + st - 1) / st;
    double* r = scratch<double>(0, runMax * kMaxNv * L);
    int32_t* buf = scratch<int32_t>(1, 2 * kMaxMr * kMaxNv * L);
    double* sumA = scratch<double>(2, runMax);
    int64_t* tap_a = scratch<int64_t>(3, 2 * T);
    int64_t* tap_p = tap_a + T;
    std::vector<const uint8_t*> tb(static_cast<size_t>(T));
    for (int64_t rxp = 0; rxp < std::min<int64_t>(st, g.w); rxp++) {  // first input column of one x-phase
      const size_t phi = static_cast<size_t>(((iy + g.pad) % st) * st + (rxp + g.pad) % st);
      const Phase& ph = phases[phi];
      const int64_t count = (g.w - rxp + st - 1) / st, ntaps = static_cast<int64_t>(ph.taps.size());
      // The dY pixel each tap reads for the run's first input pixel; the run then steps one dY pixel at a time.
      for (int64_t k = 0; k < ntaps; k++) {
        const int64_t t = ph.taps[static_cast<size_t>(k)];
        tap_p[k] = (floor_div(iy + g.pad - t / g.kw) - oy0) * owp + (floor_div(rxp + g.pad - t % g.kw) - ox0);
        tap_a[k] = tap_p[k] * oc4;
      }
      for (int64_t j = 0; j < count; j++) {
        int64_t a = 0;
        for (int64_t k = 0; k < ntaps; k++) a += csn[tap_p[k] + j];
        sumA[j] = static_cast<double>(a);
      }
      const std::vector<ClassRun>& rr = runs[static_cast<size_t>(ry.id[static_cast<size_t>(iy)] * st + rxp)];
      for (size_t b = 0; b < nb; b++) {
        const int64_t width = lb.nv[b] * L, lanes = std::min<int64_t>(width, g.c - lb.l0[b]);
        for (int64_t k = 0; k < ntaps; k++) tb[static_cast<size_t>(k)] = panels.data() + block_off[b] + ph.taps[static_cast<size_t>(k)] * (oc4 / 4) * width * 4;
        conv_walk(tk, lb.nv[b], {dpn, oc4, tap_a, tb.data(), static_cast<int>(ntaps), oc4 / 4}, count, r, buf);
        epilogue_lanes(tk, epi[(dgi * np + phi) * nb + b], r, count, sumA, rr, lanes, dx + ((s * g.c + lb.l0[b]) * g.h + iy) * g.w + rxp, HW, st);
      }
    }
  });
}

}  // namespace fqt
