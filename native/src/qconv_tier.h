// Tier-compiled parts of the fused integer convolutions besides the micro-kernels (see qconv.h, qconv_util.h):
// the micro-kernel walk of a run with its lane-major transpose, the forward / grad-input epilogue, and the
// grad-weight per-pixel epilogue. Included once per tier inside its `#pragma GCC target` region (after the traits
// VI), so the float64 loops vectorise at the tier's width; the arithmetic is the same on every tier.

static void walk(const qconv::Kernels& tk, int nv, const qconv::Walk& w, int64_t count, const double* add, double* r,
                 int64_t lane_stride, int64_t step, int32_t* buf) {
  const int64_t width = nv * tk.lanes;
  const int64_t per_tap = 4 * w.nq, chunk = std::max<int64_t>(1, qconv::kMaxTermsInt32 / std::max<int64_t>(1, per_tap));
  int32_t* t32 = buf + qconv::kMaxMr * width;
  for (int64_t r0 = 0; r0 < count; r0 += tk.conv_mr[nv]) {
    const int mr = static_cast<int>(std::min<int64_t>(tk.conv_mr[nv], count - r0));
    for (int t0 = 0; t0 < std::max(1, w.ntaps); t0 += static_cast<int>(chunk)) {
      const int nt = static_cast<int>(std::min<int64_t>(chunk, w.ntaps - t0));
      if (nt > 0) tk.conv[nv][mr](w.a + r0 * w.a_step, w.a_step, w.tap_a + t0, w.tap_b + t0, nt, w.nq, buf);
      else std::fill(buf, buf + mr * width, 0);
      VI::transpose(buf, mr, width, t32, mr);
      for (int64_t j = 0; j < width; j++) {
        double* __restrict dst = r + j * lane_stride + r0 * step;
        const int32_t* __restrict src = t32 + j * mr;
        const double a = t0 == 0 ? add[j] : 0.0;
        if (step == 1 && t0 == 0)
          for (int i = 0; i < mr; i++) dst[i] = static_cast<double>(src[i]) + a;
        else if (step == 1)
          for (int i = 0; i < mr; i++) dst[i] += static_cast<double>(src[i]);
        else if (t0 == 0)
          for (int i = 0; i < mr; i++) dst[i * step] = static_cast<double>(src[i]) + a;
        else
          for (int i = 0; i < mr; i++) dst[i * step] += static_cast<double>(src[i]);
      }
    }
  }
}

// (Everything the loops read is copied to locals first: the float stores must not be taken to alias the descriptor.)
static void epilogue(const qconv::PlaneEpi& e, const double* r, int64_t r_stride, const double* sa, float* out, int64_t plane) {
  const double* __restrict s = sa;
  const int64_t lanes = e.lanes, count = e.count, ub_stride = e.ub_stride;
  const double* alpha = e.alpha;
  const double* zb = e.zb;
  const double* beta = e.beta;
  const double* ubase = e.ub;
  for (int64_t j = 0; j < lanes; j++) {
    const double a = alpha[j], z = zb[j];
    const double* __restrict rj = r + j * r_stride;
    float* __restrict oj = out + j * plane;
    if (beta == nullptr) {
      for (int64_t p = 0; p < count; p++) oj[p] = static_cast<float>(a * (rj[p] - z * s[p]));
    } else {
      const double b = beta[j];
      const double* __restrict ub = ubase + j * ub_stride;
      for (int64_t p = 0; p < count; p++) oj[p] = static_cast<float>(a * (rj[p] - z * s[p]) + b * ub[p]);
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
