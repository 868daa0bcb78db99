/**
 * Float32 kernels. Every array is contiguous row-major; the caller allocates outputs; shapes were
 * validated in ops/ and are not checked again here (DESIGN.md "Backends").
 */

export type UnaryOp =
  | 'neg' | 'exp' | 'log' | 'sqrt' | 'abs' | 'square'
  | 'relu'        // max(x, 0) with relu(NaN) = NaN (PyTorch)
  | 'step'        // 1 where x > 0, else 0 (relu mask)
  | 'scale'       // p0 · x
  | 'addScalar'   // x + p0
  | 'powScalar'   // x ^ p0
  | 'clamp'       // min(max(x, p0), p1)
  | 'insideMask'; // 1 where p0 < x < p1, else 0 (clamp / clipped-STE mask)

export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'max' | 'min' | 'eq'; // max/min: NaN if either is NaN (torch.maximum)

export type ReduceOp = 'sum' | 'max';

export interface FloatKernels {
  /** NT GEMM: C[m,n] = A[m,k] · B[n,k]ᵀ (overwrites C). */
  sgemm(m: number, n: number, k: number, a: Float32Array, b: Float32Array, c: Float32Array): void;

  /**
   * sgemm with either operand stored transposed: A is [m,k] (transA = 0) or [k,m] (transA = 1), B is [n,k]
   * (transB = 0) or [k,n] (transB = 1); C[m,n] = op(A)·op(B)ᵀ. Defined as sgemm on explicitly transposed copies
   * (bit-identical on each backend), but no transposed copy is written: the backward GEMMs of a layer
   * (dX = dY·W, dW = dYᵀ·X) read their operands where they are.
   */
  sgemmT(m: number, n: number, k: number, a: Float32Array, transA: number, b: Float32Array, transB: number, c: Float32Array): void;

  /**
   * Strided copy over an index space `shape`: dst[dstOffset + Σ i_d·dstStrides_d] =
   * src[srcOffset + Σ i_d·srcStrides_d]. Serves permute, slice, pad and concat.
   */
  copyStrided(src: Float32Array, srcOffset: number, srcStrides: Int32Array, shape: Int32Array,
    dst: Float32Array, dstOffset: number, dstStrides: Int32Array): void;

  /** Batched transpose: for each of `batch` matrices, out[b][j][i] = x[b][i][j] with x[b]: [rows, cols]. */
  transpose(batch: number, rows: number, cols: number, x: Float32Array, out: Float32Array): void;

  /** transpose for quantized codes (bytes of an Int8Array or Uint8Array; both arrays of the same kind). */
  transposeCodes(batch: number, rows: number, cols: number, x: Int8Array | Uint8Array, out: Int8Array | Uint8Array): void;

  /**
   * im2col for NCHW input x[n,c,h,w] and a kh×kw window with the given stride and zero padding:
   * out[(n·oh + y)·ow + x, (c·kh + i)·kw + j] (one row per (sample, output pixel)).
   */
  im2col(x: Float32Array, n: number, c: number, h: number, w: number, kh: number, kw: number,
    stride: number, pad: number, oh: number, ow: number, out: Float32Array): void;

  /** Adjoint of im2col: out[n,c,h,w] = Σ of the column entries that read each input element (overwrites out). */
  col2im(cols: Float32Array, n: number, c: number, h: number, w: number, kh: number, kw: number,
    stride: number, pad: number, oh: number, ow: number, out: Float32Array): void;

  /**
   * Fused fp32 convolution (the fp32 layer path): y[n, oc, oh, ow] = conv(x[n, c, h, w], weight[oc, c·kh·kw]) with
   * zero padding; the same value as im2col + sgemm + transpose, computed sample by sample so the column matrix
   * never exists for the whole batch. Float sums in any order (tolerance as sgemm with K = c·kh·kw).
   */
  conv2dForward(x: Float32Array, n: number, c: number, h: number, w: number, weight: Float32Array, oc: number,
    kh: number, kw: number, stride: number, pad: number, oh: number, ow: number, y: Float32Array): void;

  /**
   * Backward of conv2dForward for dy[n, oc, oh, ow]: dx[n, c, h, w] (skipped when dx is empty) and
   * dw[oc, c·kh·kw] = Σ over samples and pixels (skipped when dw is empty). Overwrites both.
   */
  conv2dBackward(x: Float32Array, n: number, c: number, h: number, w: number, weight: Float32Array, oc: number,
    kh: number, kw: number, stride: number, pad: number, oh: number, ow: number, dy: Float32Array,
    dx: Float32Array, dw: Float32Array): void;

  unary(op: UnaryOp, x: Float32Array, out: Float32Array, p0: number, p1: number): void;

  /**
   * ReLU's forward with its backward mask as bits: out[i] = max(x[i], 0), bit i of the mask (bit i & 31 of word i >> 5,
   * the layout of maskBits with one row) = x[i] > 0, except that a NaN input gives out = NaN and bit 1 (PyTorch:
   * relu(NaN) = NaN and relu'(NaN) passes the gradient). The op keeps the 1-bit mask instead of an fp32 tensor (1/32 of
   * its size), so neither its input nor its output stays alive for its sake; its backward is maskBits(1, n, …).
   */
  reluMasked(x: Float32Array, out: Float32Array, mask: Uint32Array): void;

  /**
   * PReLU on planes: x is [n, c, hw] and channel ch has the slope a[ch]; y = x > 0 ? x : f32(a·x) (a NaN x gives NaN).
   * One pass instead of the six elementwise ops of its composite form.
   */
  preluForward(x: Float32Array, n: number, c: number, hw: number, a: Float32Array, y: Float32Array): void;

  /**
   * PReLU's backward: dx = x > 0 ? g : f32(a·g); da[ch] = f32(Σ g·x over the elements of channel ch with !(x > 0)).
   * Products and sums in float64, in a fixed order (independent of threads): within a plane (sample, channel) four
   * running sums p_j over the positions i ≡ j (mod 4), joined as (p0 + p1) + (p2 + p3); the planes' sums added in
   * sample order. Elements with x > 0 add +0 to their p_j, even where g is NaN (∂y/∂a = 0 there, as PyTorch).
   */
  preluBackward(g: Float32Array, x: Float32Array, n: number, c: number, hw: number, a: Float32Array, dx: Float32Array,
    da: Float32Array): void;

  /**
   * out = a ∘ b with broadcasting: `outShape` is the result shape, `aStrides`/`bStrides` the operands'
   * strides in it (0 along broadcast axes).
   */
  binary(op: BinaryOp, a: Float32Array, aStrides: Int32Array, b: Float32Array, bStrides: Int32Array,
    outShape: Int32Array, out: Float32Array): void;

  /** Reduce the middle axis of x viewed as [outer, len, inner] into out[outer, inner]. */
  reduce(op: ReduceOp, x: Float32Array, outer: number, len: number, inner: number, out: Float32Array): void;

  /** Per-channel mean and biased variance of x viewed as [n, c, hw]. */
  channelMoments(x: Float32Array, n: number, c: number, hw: number, mean: Float32Array, variance: Float32Array): void;

  /** out[n,c,hw] = (x − mean[c])·invStd[c]·gamma[c] + beta[c]. */
  batchNormForward(x: Float32Array, n: number, c: number, hw: number, mean: Float32Array, invStd: Float32Array,
    gamma: Float32Array, beta: Float32Array, out: Float32Array): void;

  /**
   * Training-mode batch-norm backward (batch statistics). With x̂ = (x − mean)·invStd and m = n·hw:
   * dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·invStd·(dy − dβ/m − x̂·dγ/m).
   */
  batchNormBackward(x: Float32Array, dy: Float32Array, n: number, c: number, hw: number, mean: Float32Array,
    invStd: Float32Array, gamma: Float32Array, dx: Float32Array, dgamma: Float32Array, dbeta: Float32Array): void;

  /** Max pooling over x[n·c, h, w] (n·c planes); writes the flat input index of each max into argmax. A NaN wins its
   *  window (the last NaN in scan order), as in PyTorch. */
  maxPoolForward(x: Float32Array, planes: number, h: number, w: number, k: number, stride: number, pad: number,
    oh: number, ow: number, out: Float32Array, argmax: Int32Array): void;

  /** dx (overwritten) = scatter-add of dy into the argmax positions. */
  maxPoolBackward(dy: Float32Array, argmax: Int32Array, planes: number, h: number, w: number, oh: number, ow: number,
    dx: Float32Array): void;

  /** Average pooling; padding counts as zeros in the divisor (PyTorch's count_include_pad = true). */
  avgPoolForward(x: Float32Array, planes: number, h: number, w: number, k: number, stride: number, pad: number,
    oh: number, ow: number, out: Float32Array): void;

  avgPoolBackward(dy: Float32Array, planes: number, h: number, w: number, k: number, stride: number, pad: number,
    oh: number, ow: number, dx: Float32Array): void;

  /**
   * Softmax cross-entropy with label smoothing ε: target = (1−ε)·onehot + ε/classes.
   * losses[i] = −Σ_c target_c·log softmax(z_i)_c ; dlogits[i] = softmax(z_i) − target (per-sample gradient).
   */
  softmaxCrossEntropy(logits: Float32Array, labels: Int32Array, n: number, classes: number, smoothing: number,
    losses: Float32Array, dlogits: Float32Array): void;

  /**
   * out[0] = the index of the first non-finite element (NaN, ±∞) of x, or −1: the per-step divergence check of
   * every gradient and weight (train/guard.ts), so it must cost far less than a step.
   */
  firstNonFinite(x: Float32Array, out: Float64Array): void;

  /** Dropout scale mask from the counter RNG: out[i] = uniform(seed, stream, i) ≥ p ? 1/(1−p) : 0. */
  dropoutMask(seed: number, stream: number, p: number, out: Float32Array): void;

  /**
   * SGD with momentum (PyTorch semantics): g' = g + wd·w; buf = momentum·buf + g' (buf = g' on the first
   * step, signalled by `first`); step = nesterov ? g' + momentum·buf : buf; w −= lr·step.
   */
  sgdUpdate(w: Float32Array, g: Float32Array, buf: Float32Array, lr: number, momentum: number, weightDecay: number,
    nesterov: number, first: number): void;

  /**
   * Adam / AdamW (PyTorch semantics). decoupled = 0: g' = g + wd·w; decoupled = 1: w −= lr·wd·w first.
   * m = β1·m + (1−β1)·g'; v = β2·v + (1−β2)·g'²; w −= lr·(m/bc1)/(sqrt(v/bc2) + eps) with bc = 1 − β^t.
   */
  adamUpdate(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, lr: number, beta1: number,
    beta2: number, eps: number, weightDecay: number, decoupled: number, step: number): void;
}
