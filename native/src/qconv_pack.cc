// Operand packing of the fused integer convolutions (see qconv.h): codes into the layouts the micro-kernels read,
// shifted into the signed (A) or unsigned (B) byte domain, with the sums the exact epilogue needs. Parallel over
// samples or pixels; every byte is written, so the buffers need no clearing.
#include <algorithm>
#include <cstring>

#include "qconv.h"
#include "thread_pool.h"

namespace fqt {
namespace qconv {

namespace {
int64_t group_of(const Operand& o, int64_t sample) { return o.groups == 1 ? 0 : sample; }
}  // namespace

void pack_input_nhwc(const Operand& x, const ConvGeom& g, int64_t c4, int8_t* xp, int32_t* cs) {
  const int64_t hp = g.h + 2 * g.pad, wp = g.w + 2 * g.pad, hw = g.h * g.w, sa = shift_a(x);
  parallel_for(g.n, [&](int64_t s, int) {
    const int32_t za = x.zero[group_of(x, s)] + static_cast<int32_t>(sa);
    int8_t* out = xp + s * hp * wp * c4;
    int32_t* sums = cs + s * hp * wp;
    // Border and channel padding first, then the interior pixels channel by channel.
    for (int64_t py = 0; py < hp; py++) {
      for (int64_t px = 0; px < wp; px++) {
        int8_t* pix = out + (py * wp + px) * c4;
        const bool inside = py >= g.pad && py < g.pad + g.h && px >= g.pad && px < g.pad + g.w;
        std::memset(pix, inside ? 0 : za, static_cast<size_t>(g.c));
        std::memset(pix + g.c, 0, static_cast<size_t>(c4 - g.c));
        sums[py * wp + px] = inside ? 0 : za * static_cast<int32_t>(g.c);
      }
    }
    for (int64_t ci = 0; ci < g.c; ci++) {
      const int64_t plane = (s * g.c + ci) * hw;
      for (int64_t iy = 0; iy < g.h; iy++) {
        const int64_t row = (iy + g.pad) * wp + g.pad;
        for (int64_t ix = 0; ix < g.w; ix++) {
          const int32_t v = code(x, plane + iy * g.w + ix) + static_cast<int32_t>(sa);
          out[(row + ix) * c4 + ci] = static_cast<int8_t>(v);
          sums[row + ix] += v;
        }
      }
    }
  });
}

void pack_grad_nhwc(const Operand& dy, const ConvGeom& g, int64_t oc4, int64_t ohp, int64_t owp, int64_t oy0, int64_t ox0,
                    int8_t* dp, int32_t* cs) {
  const int64_t P = g.oh * g.ow, sa = shift_a(dy);
  parallel_for(g.n, [&](int64_t s, int) {
    const int32_t za = dy.zero[group_of(dy, s)] + static_cast<int32_t>(sa);
    int8_t* out = dp + s * ohp * owp * oc4;
    int32_t* sums = cs + s * ohp * owp;
    for (int64_t py = 0; py < ohp; py++) {
      for (int64_t px = 0; px < owp; px++) {
        const int64_t oy = py - oy0, ox = px - ox0;
        int8_t* pix = out + (py * owp + px) * oc4;
        std::memset(pix + g.oc, 0, static_cast<size_t>(oc4 - g.oc));
        if (oy < 0 || oy >= g.oh || ox < 0 || ox >= g.ow) {
          std::memset(pix, za, static_cast<size_t>(g.oc));
          sums[py * owp + px] = za * static_cast<int32_t>(g.oc);
          continue;
        }
        const int64_t row = (s * P + oy * g.ow + ox) * g.oc;
        int32_t sum = 0;
        for (int64_t o = 0; o < g.oc; o++) {
          const int32_t v = code(dy, row + o) + static_cast<int32_t>(sa);
          pix[o] = static_cast<int8_t>(v);
          sum += v;
        }
        sums[py * owp + px] = sum;
      }
    }
  });
}

void pack_grad_by_channel(const Operand& dy, const ConvGeom& g, int64_t n4, int8_t* dg, int32_t* sa) {
  const int64_t P = g.oh * g.ow, shift = shift_a(dy);
  // Parallel over blocks of pixels: each task writes dg[o][p][·] and sa[o][p] for its pixels only.
  parallel_range(P, 16, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      for (int64_t o = 0; o < g.oc; o++) {
        int8_t* out = dg + (o * P + p) * n4;
        std::memset(out + g.n, 0, static_cast<size_t>(n4 - g.n));
        sa[o * P + p] = 0;
      }
      for (int64_t s = 0; s < g.n; s++) {
        const int64_t row = (s * P + p) * g.oc;
        for (int64_t o = 0; o < g.oc; o++) {
          const int32_t v = code(dy, row + o) + static_cast<int32_t>(shift);
          dg[(o * P + p) * n4 + s] = static_cast<int8_t>(v);
          sa[o * P + p] += v;
        }
      }
    }
  });
}

void pack_input_by_pixel(const Operand& x, const ConvGeom& g, int64_t n4, int64_t cl, uint8_t* xg, int32_t* sb) {
  const int64_t hw = g.h * g.w, nq = n4 / 4, shift = shift_b(x);
  parallel_range(hw, 16, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; p++) {
      uint8_t* out = xg + p * nq * cl * 4;
      std::memset(out, 0, static_cast<size_t>(nq * cl * 4));
      int32_t* sums = sb + p * cl;
      std::fill(sums, sums + cl, 0);
      for (int64_t ci = 0; ci < g.c; ci++) {
        int32_t sum = 0;
        for (int64_t s = 0; s < g.n; s++) {
          const int32_t v = code(x, (s * g.c + ci) * hw + p) + static_cast<int32_t>(shift);
          out[((s / 4) * cl + ci) * 4 + (s & 3)] = static_cast<uint8_t>(v);
          sum += v;
        }
        sums[ci] = sum;
      }
    }
  });
}

}  // namespace qconv
}  // namespace fqt
