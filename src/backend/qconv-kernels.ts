/**
 * Fused integer convolution kernels (issue 13): the three GEMM passes of a quantized conv (or of a linear layer, a
 * 1×1 conv on a 1×1 image) as one kernel each, on integer codes with the im2col panel formed on the fly (implicit
 * GEMM) and the affine dequantization in the epilogue. Owned by quant/gemm/fused.ts.
 *
 * Geometry `geo` = Int32Array [n, c, h, w, oc, kh, kw, stride, pad, oh, ow]; K = c·kh·kw. Zero padding: a padded
 * tap is absent (it contributes exactly 0), as in a float conv of the dequantized operands.
 *
 * Operands are integer codes (Uint8Array: unsigned, Int8Array: signed) with one affine group per scale group:
 * value(q) = offset_g + (q − zero_g)·scale_g (quant/qtensor.ts). Group counts select the granularity:
 *   x  [n, h, w, c] (NHWC)   forward: 1 (tensor) or n (sample); grad-weight: 1
 *   w  [oc, K]               forward: 1 or oc (row); grad-input: 1
 *   dy [n·oh·ow, oc] (rows)  grad-input: 1 or n (sample); grad-weight: 1, oc (column: group o) or oc·oh·ow
 *                            (feature: group p·oc + o for output pixel p, StatQuant's per-column, METHODS §1.3)
 *
 * Epilogue (float64, then one rounding to float32). For a sum over a set of terms t with codes (qa_t, qb_t) of the
 * first operand A (x forward; dy backward) and second operand B (w forward and grad-input; x grad-weight), groups
 * (oa, sa, za) and (ob, sb, zb), the integers U = Σ (qa−za)(qb−zb), Ua = Σ (qa−za), Ub = Σ (qb−zb), Kv = #terms:
 *   epi = (sa·sb)·U;  if oa ≠ 0: epi += (oa·sb)·Ub;  if ob ≠ 0: epi += (ob·sa)·Ua [+ (Kv·oa)·ob if oa ≠ 0]
 * each product evaluated left to right, in float64 (the last term is added to (ob·sa)·Ua before it joins epi, so
 * the kernels compute it once per output pixel) (= Σ_t value(qa_t)·value(qb_t) up to one float64 rounding per term); an empty
 * sum (Kv = 0, e.g. a batch of zero samples) is 0 whatever the groups' parameters.
 *   forward      y[n, o, oy, ox]  = f32(epi over (ci, ky, kx) valid)
 *   grad-input   dx[n, ci, iy, ix] = f32(epi over (o, ky, kx) with oy = (iy + pad − ky)/stride, ox likewise, integral
 *                                    and in range); then, when `order` is not empty, dx ← T⁻¹·dx in place: the
 *                                    blockHouseholder inverse (quant-kernels.ts) of dY's BHQ transform over the n samples
 *   grad-weight  dw[o, (ci·kh + ky)·kw + kx] = f32(epi over (s, oy, ox) with (iy, ix) in range) when dy has one group
 *                per o (tensor or column); per feature group (o, p) instead f32(Σ_p epi_p), one epi per output pixel
 *                p in increasing p (terms: the n samples), summed in float64 in that order.
 * Every output is computed by one thread in this order, so results are bit-identical on every backend, tier and
 * thread count. Outputs are overwritten.
 */
export interface QconvKernels {
  qconvForward(geo: Int32Array, x: Uint8Array | Int8Array, xOffset: Float32Array, xScale: Float32Array, xZero: Int32Array,
    w: Uint8Array | Int8Array, wOffset: Float32Array, wScale: Float32Array, wZero: Int32Array, y: Float32Array): void;

  qconvGradInput(geo: Int32Array, dy: Uint8Array | Int8Array, dyOffset: Float32Array, dyScale: Float32Array, dyZero: Int32Array,
    w: Uint8Array | Int8Array, wOffset: Float32Array, wScale: Float32Array, wZero: Int32Array, dx: Float32Array,
    order: Int32Array, groupSizes: Int32Array, rowScale: Float32Array): void;

  qconvGradWeight(geo: Int32Array, dy: Uint8Array | Int8Array, dyOffset: Float32Array, dyScale: Float32Array, dyZero: Int32Array,
    x: Uint8Array | Int8Array, xOffset: Float32Array, xScale: Float32Array, xZero: Int32Array, dw: Float32Array): void;
}
