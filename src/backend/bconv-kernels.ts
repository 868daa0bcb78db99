/**
 * Fused binary convolution kernels of 1-bit FQT (METHODS §3.2–§3.7; quant/gemm/bconv.ts): the layer keeps X and W
 * as packed sign bits (plus X's clipped-STE mask as bits) and every GEMM of the layer runs on them, as an implicit
 * GEMM over the conv geometry (no fp32 im2col rows, no batch-sized column matrix).
 *
 * Geometry `g` = Int32Array [n, c, h, w, oc, kh, kw, stride, pad, oh, ow] (NCHW input, zero padding). A linear
 * layer is the 1×1 geometry (h = w = kh = kw = oh = ow = 1, stride 1, pad 0).
 * Packed bits use packSigns' layout (IntKernels): X as rows = n, k = c·h·w (bit (c·h + y)·w + x of sample n's row);
 * W as rows = oc, k = c·kh·kw. Sign bit 1 ⇔ +1 (x ≥ 0: sign(0) = +1, NaN → −1). Padding taps contribute 0.
 *
 * Gradient codes (grad-input and grad-weight kernels). dY[n, oc, oh, ow] is multiplied by the output scale first
 * when `scale` is non-empty (v = f32(dy·scale[oc]), the gradient of Z where Y = scale·Z) and quantized exactly as
 * quantizeAffine does on dY's GEMM rows [n·P + p, oc] (P = oh·ow): with r = n·P + p,
 *   group(r, oc) = (floor(r / rowDiv) mod rowMod)·ceil(oc_total / colDiv) + floor(oc / colDiv)
 *   code = quantizeAffine arithmetic of v with offset / inv / zeroPoint of that group, qmin 0, qmax 2^bits − 1,
 *          stochastic rounding index r·oc_total + oc (the same codes the rows path gets, bit for bit).
 * `q` = Int32Array [rowDiv, rowMod, colDiv, bits, stochastic, seed, stream, blocked]; the dequantized value is
 * lo + Δ·code with lo = f32(offset − f32(zeroPoint·qscale)), Δ = qscale. A group with offset = qscale = 0 is pruned
 * (AGP): its gradient rows are skipped and contribute exactly 0.
 */
export interface BinaryConvKernels {
  /**
   * Sign bits and clipped-STE mask bits of x[rows, k] in packSigns' layout: signs as packSigns; mask bit = 1 ⇔
   * −clip < x < clip (METHODS §0.4: clip = 1; NaN → 0). Overwrites both [rows·ceil(k/32)], and nan[0]: 1 when some x
   * is NaN (which no sign bit can hold: the layer's output is then NaN, as torch.sign(NaN) makes it), else 0.
   */
  packSignsClip(rows: number, k: number, x: Float32Array, clip: number, signs: Uint32Array, mask: Uint32Array, nan: Int32Array): void;

  /** ±1 values of packed signs: out[r·k + c] = bit ? 1 : −1 (bin-qat's fp32 backward operands). */
  unpackSigns(rows: number, k: number, signs: Uint32Array, out: Float32Array): void;

  /** out[r·k + c] = mask bit ? g[r·k + c] : 0 (the clipped STE on a gradient; 0 even for NaN g). */
  maskBits(rows: number, k: number, g: Float32Array, mask: Uint32Array, out: Float32Array): void;

  /**
   * Binary conv forward, NCHW output: z[n, o, y, x] = Σ over in-bounds taps of x±·w± (exact integer), and
   * y = f32(scale[o]·z) (y = z when scale is empty). Overwrites y[n·oc·oh·ow].
   */
  binaryConvForward(g: Int32Array, xSigns: Uint32Array, wSigns: Uint32Array, scale: Float32Array, y: Float32Array): void;

  /**
   * Gradient of the output scale: da[o] = f32(Σ_n s_n) over samples in order, with s_n = (l0 + l1) + (l2 + l3) where
   * l_j = Σ over pixels p ≡ j (mod 4), in order, of dy[n, o, p]·z[n, o, p] (z as in binaryConvForward, recomputed from
   * the bits), all in float64 (four lanes: one vector chain per channel). Overwrites da[oc]. When
   * mins / maxs are not empty it also writes sampleChannelRange of dy into them (dy is read once for both).
   */
  binaryConvScaleGrad(g: Int32Array, xSigns: Uint32Array, wSigns: Uint32Array, dy: Float32Array, da: Float32Array,
    mins: Float32Array, maxs: Float32Array): void;

  /**
   * Per (sample, channel) minimum and maximum of x[n, c, hw]: mins / maxs[s·c + ch], as quantRange (NaN sticks; empty
   * ranges give +∞ / −∞). (The range of f32(x·a) for a scale a > 0 is [f32(a·min), f32(a·max)]: rounding is monotone.)
   */
  sampleChannelRange(n: number, c: number, hw: number, x: Float32Array, mins: Float32Array, maxs: Float32Array): void;

  /**
   * Grad-input of a binary conv on bit planes of the dY codes (see the file comment; the grouping must give one
   * group per sample: group(r, oc) independent of oc): for sample n with lo_n, Δ_n,
   *   dot = Σ over (o, tap) reading x[n, ch, y, x] of code[n, o, pixel]·w±[o, ch, tap]   (exact integer)
   *   V   = Σ over the same (o, tap) of w±
   *   dx  = mask bit ? f32(f32(Δ_n·dot) + f32(lo_n·V)) : 0        (xMask empty: no mask)
   * and dx = 0 for every element of a pruned sample. Overwrites dx[n·c·h·w].
   */
  binaryConvGradInput(g: Int32Array, dy: Float32Array, scale: Float32Array, q: Int32Array, offset: Float32Array,
    qscale: Float32Array, inv: Float32Array, zeroPoint: Int32Array, wSigns: Uint32Array, xMask: Uint32Array,
    dx: Float32Array): void;

  /**
   * Grad-weight of a binary conv on bit planes of the dY codes: with dot_n[o, t] = Σ over pixels p of sample n
   * where tap t = (ch, i, j) is in bounds of code[n, o, p]·x±[n, ch, at t] and X_n[t] = Σ of x± over the same
   * pixels (exact integers),
   *   blocked = 0 (the group is one per channel o, or per tensor):  dw[o, t] = f32(f32(Δ_o·Σ_n dot_n) + f32(lo_o·Σ_n X_n))
   *   blocked = 1 (per-sample groups, K-blocks of P rows):  dw[o, t] = Σ_n f32(f32(Δ_g·dot_n) + f32(lo_g·X_n)) with
   *             g = group(n·P, o), summed in float32 in sample order starting from +0, pruned groups skipped.
   * dw = 0 for the rows of pruned channels (blocked = 0). Overwrites dw[oc·c·kh·kw].
   */
  binaryConvGradWeight(g: Int32Array, dy: Float32Array, scale: Float32Array, q: Int32Array, offset: Float32Array,
    qscale: Float32Array, inv: Float32Array, zeroPoint: Int32Array, xSigns: Uint32Array, dw: Float32Array): void;
}
