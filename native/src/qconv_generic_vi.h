// The plain-loop members of a qconv tier's traits VI (transpose of a micro-kernel tile, forward / grad-input
// epilogue span), included inside the struct of the scalar and AVX2 tiers so each compiles them for its own target
// (the VNNI tier has vector versions). Not a standalone header.
static void transpose(const int32_t* in, int rows, int64_t width, int32_t* out, int64_t out_stride) {
  for (int64_t j = 0; j < width; j++)
    for (int r = 0; r < rows; r++) out[j * out_stride + r] = in[r * width + j];
}
// out[i] = f32(a·((R_i + c) − z·s_i) [+ b·ub_i]) for i < n (the forward / grad-input epilogue, qconv_util.h).
static void epilogue_span(const int32_t* __restrict r, const double* __restrict s, const double* __restrict ub, int n, double a, double c,
                          double z, double b, float* __restrict out) {
  if (ub == nullptr)
    for (int i = 0; i < n; i++) out[i] = static_cast<float>(a * (static_cast<double>(r[i]) + c - z * s[i]));
  else
    for (int i = 0; i < n; i++) out[i] = static_cast<float>(a * (static_cast<double>(r[i]) + c - z * s[i]) + b * ub[i]);
}
// No whole-tile epilogue on the plain-loop tiers: run() takes the transpose + epilogue_span path.
static bool epilogue_tile(const int32_t*, int, int64_t, int64_t, const double*, const double*, const double*, const double*, const double*,
                          const double*, int64_t, float*, int64_t, int64_t) {
  return false;
}
