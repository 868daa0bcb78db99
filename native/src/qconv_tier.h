// Tier-compiled parts of the fused integer convolutions besides the micro-kernels (see qconv.h, qconv_util.h):
// the micro-kernel walk of a run with its lane-major transpose, the forward / grad-input epilogue, and the
// grad-weight per-pixel epilogue. Included once per tier inside its `#pragma GCC target` region (after the traits
// VI), so the float64 loops vectorise at the tier's width; the arithmetic is the same on every tier.

static void run(const qconv::Kernels& tk, int nv, const qconv::Walk& w, int64_t count, int64_t pos0, int64_t step, const double* sA,
                const qconv::TileEpi& e, float* out, int64_t plane, int32_t* buf) {
  const int64_t width = nv * tk.lanes, lanes = e.lanes;
  const int64_t per_tap = 4 * w.nq, chunk = std::max<int64_t>(1, qconv::kMaxTermsInt32 / std::max<int64_t>(1, per_tap));
  const bool one_chunk = w.ntaps <= chunk;
  int32_t* t32 = buf + qconv::kMaxMr * width;
  double* acc = reinterpret_cast<double*>(buf + 2 * qconv::kMaxMr * qconv::kMaxNv * VI::L);
  // Row micro-kernels when the walk has rows with a stride they are compiled for.
  int rsi = -1;
  if (w.row_len > 0)
    for (int i = 0; i < qconv::kNumRowStrides; i++)
      if (w.row_stride == qconv::kRowStrides[i] && tk.row_mr[nv] > 0) rsi = i;
  // Balanced tiles (28 outputs run as 14 + 14, not 24 + 4), within one row on the row kernels. Tile boundaries do
  // not change any output: each is its own exact integer sum.
  const int64_t mrMax = rsi >= 0 ? tk.row_mr[nv] : tk.conv_mr[nv], seg = rsi >= 0 ? w.row_len : count;
  int64_t segEnd = 0, mrBal = 1;
  for (int64_t r0 = 0, mr = 0; r0 < count; r0 += mr) {
    if (r0 == segEnd) {
      const int64_t len = std::min<int64_t>(seg, count - r0), tiles = (len + mrMax - 1) / mrMax;
      mrBal = (len + tiles - 1) / tiles;
      segEnd = r0 + len;
    }
    mr = std::min<int64_t>(mrBal, segEnd - r0);
    for (int t0 = 0; t0 < std::max(1, w.ntaps); t0 += static_cast<int>(chunk)) {
      const int nt = static_cast<int>(std::min<int64_t>(chunk, w.ntaps - t0));
      if (nt > 0 && rsi >= 0) tk.conv_row[rsi][nv][mr](w.a + w.off[r0], w.tap_a + t0, w.tap_b + t0, nt, w.nq, buf);
      else if (nt > 0) tk.conv[nv][mr](w.a, w.off + r0, w.tap_a + t0, w.tap_b + t0, nt, w.nq, buf);
      else std::fill(buf, buf + mr * width, 0);
      if (!one_chunk) {  // sums past the int32 range: accumulate the chunks in float64 (exact integers)
        for (int64_t x = 0; x < mr * width; x++) acc[x] = (t0 == 0 ? 0.0 : acc[x]) + static_cast<double>(buf[x]);
      }
    }
    if (!one_chunk) {
      for (int64_t x = 0; x < mr * width; x++) buf[x] = 0;  // R is in acc; buf only feeds the transpose below
    }
    const double* __restrict s = sA + r0;
    if (one_chunk && !e.generic &&
        VI::epilogue_tile(buf, static_cast<int>(mr), width, lanes, e.alpha, e.c, e.zb, s, e.beta,
                          e.beta ? e.ubt + (pos0 + r0 * step) * e.ubt_stride : nullptr, e.ubt_stride * step, out + pos0 + r0 * step, plane,
                          step))
      continue;
    VI::transpose(buf, mr, width, t32, mr);
    for (int64_t j = 0; j < lanes; j++) {
      const double a = e.alpha[j], cj = e.c[j], z = e.zb[j];
      const int32_t* __restrict rj = t32 + j * mr;
      float* __restrict oj = out + j * plane + pos0 + r0 * step;
      if (!one_chunk) {
        for (int i = 0; i < mr; i++) oj[i * step] = static_cast<float>(e.beta ? a * (acc[i * width + j] + cj - z * s[i]) + e.beta[j] * e.ub[j * e.ub_stride + pos0 + (r0 + i) * step]
                                                                       : a * (acc[i * width + j] + cj - z * s[i]));
      } else if (step == 1) {
        VI::epilogue_span(rj, s, e.beta ? e.ub + j * e.ub_stride + pos0 + r0 : nullptr, mr, a, cj, z, e.beta ? e.beta[j] : 0.0, oj);
      } else {
        for (int i = 0; i < mr; i++) {
          const double v = a * (static_cast<double>(rj[i]) + cj - z * s[i]);
          oj[i * step] = static_cast<float>(e.beta ? v + e.beta[j] * e.ub[j * e.ub_stride + pos0 + (r0 + i) * step] : v);
        }
      }
      if (!e.generic) continue;
      // The rare terms: W offsets and outputs without valid taps, through the scalar epilogue.
      for (int i = 0; i < mr; i++) {
        const int64_t pos = pos0 + (r0 + i) * step;
        if (e.kv[pos] != 0 && e.ob[j] == 0) continue;
        const double r = one_chunk ? static_cast<double>(rj[i]) : acc[i * width + j];
        const double u = r + cj - z * s[i];
        oj[i * step] = static_cast<float>(qconv::epilogue(u, s[i] - e.kza, e.ub[j * e.ub_stride + pos], e.kv[pos], e.oa, e.sa, e.ob[j], e.sb[j]));
      }
    }
  }
}

// total[r][j] += the f64 epilogue of one per-pixel block (grad-weight, per-feature dY) for rows r (A's groups) and
// lanes j < lanes (B = X per tensor).
static void flush(const int32_t* acc, int64_t width, int64_t rows, const int32_t* sumB, int64_t lanes, const int32_t* sumA, int64_t sa_step,
                  const double* oas, const double* sas, const double* zas, int64_t g_step, double n, double ob, double sb, double zb,
                  double* total) {
  if (n == 0) return;
  const int32_t* __restrict sbv = sumB;
  for (int64_t r = 0; r < rows; r++) {
    const double sA = sumA[r * sa_step], oa = oas[r * g_step], sa = sas[r * g_step], za = zas[r * g_step];
    const double alpha = sa * sb, cst = -zb * sA + n * za * zb, beta = oa * sb;
    const double eps = ob != 0 ? (oa != 0 ? ob * sa * (sA - n * za) + n * oa * ob : ob * sa * (sA - n * za)) : 0.0;
    const int32_t* __restrict a = acc + r * width;
    double* __restrict tot = total + r * width;
    if (oa == 0 && ob == 0) {
      for (int64_t j = 0; j < lanes; j++) tot[j] += alpha * (a[j] - za * sbv[j] + cst);
    } else if (ob == 0) {
      for (int64_t j = 0; j < lanes; j++) tot[j] += alpha * (a[j] - za * sbv[j] + cst) + beta * (sbv[j] - n * zb);
    } else if (oa == 0) {
      for (int64_t j = 0; j < lanes; j++) tot[j] += alpha * (a[j] - za * sbv[j] + cst) + eps;
    } else {
      for (int64_t j = 0; j < lanes; j++) tot[j] += alpha * (a[j] - za * sbv[j] + cst) + beta * (sbv[j] - n * zb) + eps;
    }
  }
}
