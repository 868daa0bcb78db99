// Tier-compiled parts of the fused integer convolutions besides the micro-kernels (see qconv.h, qconv_util.h):
// the micro-kernel walk of a run with its lane-major transpose, the forward / grad-input epilogue, and the
// grad-weight per-pixel epilogue. Included once per tier inside its `#pragma GCC target` region (after the traits
// VI), so the float64 loops vectorise at the tier's width; the arithmetic is the same on every tier.

static void walk(const qconv::Kernels& tk, int nv, const qconv::Walk& w, int64_t count, double* r, int32_t* buf) {
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
        double* __restrict dst = r + j * count + r0;
        const int32_t* __restrict src = t32 + j * mr;
        if (t0 == 0)
          for (int i = 0; i < mr; i++) dst[i] = static_cast<double>(src[i]);
        else
          for (int i = 0; i < mr; i++) dst[i] += static_cast<double>(src[i]);
      }
    }
  }
}

static void epilogue(const qconv::EpiLanes& e, const double* r, int64_t count, const double* sa, const std::vector<qconv::ClassRun>& runs,
                     int64_t lanes, float* out, int64_t plane, int64_t step) {
  const int64_t width = e.width;
  for (int64_t j = 0; j < lanes; j++) {
    const double a = e.alpha[static_cast<size_t>(j)], z = e.zb[static_cast<size_t>(j)], cj = e.c[static_cast<size_t>(j)];
    const double* __restrict rj = r + j * count;
    const double* __restrict s = sa;
    float* __restrict oj = out + j * plane;
    for (const qconv::ClassRun& run : runs) {
      const int64_t b0 = run.begin, b1 = run.end;
      if (e.kv[run.cls] == 0) {
        for (int64_t i = b0; i < b1; i++) oj[i * step] = 0.0f;
        continue;
      }
      const bool ob = !e.gamma.empty() && e.obnz[static_cast<size_t>(j)];
      if (e.kappa.empty() && !ob) {
        if (step == 1)
          for (int64_t i = b0; i < b1; i++) oj[i] = static_cast<float>(a * (rj[i] - z * s[i] + cj));
        else
          for (int64_t i = b0; i < b1; i++) oj[i * step] = static_cast<float>(a * (rj[i] - z * s[i] + cj));
      } else if (!ob) {
        const double k = e.kappa[static_cast<size_t>(run.cls * width + j)];
        if (step == 1)
          for (int64_t i = b0; i < b1; i++) oj[i] = static_cast<float>(a * (rj[i] - z * s[i] + cj) + k);
        else
          for (int64_t i = b0; i < b1; i++) oj[i * step] = static_cast<float>(a * (rj[i] - z * s[i] + cj) + k);
      } else {
        const double g = e.gamma[static_cast<size_t>(j)];
        const bool hasK = !e.kappa.empty(), hasD = !e.delta.empty();
        const double k = hasK ? e.kappa[static_cast<size_t>(run.cls * width + j)] : 0.0;
        const double d = hasD ? e.delta[static_cast<size_t>(run.cls * width + j)] : 0.0;
        for (int64_t i = b0; i < b1; i++) {
          double v = a * (rj[i] - z * s[i] + cj);
          if (hasK) v += k;
          v += hasD ? g * (s[i] - e.kza) + d : g * (s[i] - e.kza);
          oj[i * step] = static_cast<float>(v);
        }
      }
    }
  }
}

// total[j] += f64 epilogue of one per-pixel block for lanes j < lanes (A's group fixed; B = X per tensor).
static void flush(const int32_t* __restrict acc, const int32_t* __restrict sumB, int64_t lanes, double sA, double n, double oa, double sa,
                   double za, double ob, double sb, double zb, double* __restrict total) {
  if (n == 0) return;
  const double alpha = sa * sb, cst = -zb * sA + n * za * zb, beta = oa * sb;
  const double eps = ob != 0 ? (oa != 0 ? ob * sa * (sA - n * za) + n * oa * ob : ob * sa * (sA - n * za)) : 0.0;
  if (oa == 0 && ob == 0) {
    for (int64_t j = 0; j < lanes; j++) total[j] += alpha * (acc[j] - za * sumB[j] + cst);
  } else if (ob == 0) {
    for (int64_t j = 0; j < lanes; j++) total[j] += alpha * (acc[j] - za * sumB[j] + cst) + beta * (sumB[j] - n * zb);
  } else if (oa == 0) {
    for (int64_t j = 0; j < lanes; j++) total[j] += alpha * (acc[j] - za * sumB[j] + cst) + eps;
  } else {
    for (int64_t j = 0; j < lanes; j++) total[j] += alpha * (acc[j] - za * sumB[j] + cst) + beta * (sumB[j] - n * zb) + eps;
  }
}

