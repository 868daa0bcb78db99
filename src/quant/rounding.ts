/**
 * ROUNDING AND QUANTIZATION ARITHMETIC — the single specification that every backend implements literally
 * (DESIGN.md "Rounding formulas live in one comment block"). f32(·) = round to nearest float32; all float
 * operations not wrapped in f32 are exact. No fused multiply-add (compile native code with
 * -ffp-contract=off). u = uniform(seed, stream, i) ∈ [0, 1) is the counter RNG of tensor/random.ts with
 * i = r·cols + c the row-major element index of the quantized matrix.
 *
 * 1. Affine quantization (kernel quantizeAffine), per element of group g:
 *        t = f32(f32(x − offset[g]) · inv[g])
 *        s = t + zp[g]                                   (zp an integer; exact in float64)
 *        nearest:     q = roundHalfEven(s)               (ties to the even code, PyTorch's round_)
 *        stochastic:  q = floor(s + u)                   (exact in float64; E[q] = s, Var = f(1−f), f = s − ⌊s⌋)
 *        code = clamp(q, qmin, qmax)                     (clamping after the noise keeps SR unbiased, METHODS §0.2)
 *    Dequantization (kernel dequantizeAffine):  x̂ = f32(offset[g] + f32((code − zp[g]) · scale[g])).
 *    With zp integer and offset 0, x = 0 gives s = zp exactly, so zeros survive SR exactly (zero-aligned).
 *
 * 2. Parameters per group (kernel affineParams, quant/params.ts; computed in float64 from the group's float32
 *    min m and max M, then rounded: ↓ = largest float32 ≤ v, ↑ = smallest float32 ≥ v, inv = f32(1/scale)),
 *    B = 2^b − 1 (METHODS §0.3, ε = 1e-8):
 *    asymmetric:   lo = m − ε, hi = M + ε; offset = ↓lo; scale = ↑((hi − offset)/B); zp = 0; codes [0, B]
 *    zeroAligned:  m ≥ 0:            offset = 0, zp = 0, scale = ↑((M + ε)/B)          (the z == 0 guard)
 *                  else lo = min(m − ε, 0), hi = max(M + ε, 0), z = floor(−lo·B/(hi − lo)):
 *                  z ≥ 1:            scale = ↑(−lo/z), zp = z, offset = 0     (StatQuant; hi' = lo − B·lo/z ≥ hi)
 *                  z = 0, B ≥ 2:     zp = 1, scale = ↑max(−lo, hi/(B − 1))   (negative part under one bin)
 *                  z = 0, B = 1:     falls back to asymmetric (a 2-level grid cannot hold 0, lo and hi)
 *                  codes [0, B]
 *    symmetric:    a = max(−m, M) + ε, Q = 2^(b−1) − 1 (b ≥ 2); scale = ↑(a/Q); offset = 0; zp = 0;
 *                  codes [−Q, Q] (signed)
 *    Every grid covers [m, M], so no value is clipped and SR stays unbiased (up to float32 rounding of t).
 *    Non-finite inputs propagate NaN.
 *
 * 3. Block Householder transform (kernel blockHouseholder, METHODS §1.5). For a group of G rows gathered
 *    through `order` (leader first), with a = f32(1/√G), wl = f32(a − 1), c = f32(1/f32(1 − a)) (each
 *    computed in float64 then rounded once), for every column independently:
 *        forward:  y_j = f32(s_j · x_j)            inverse:  y_j = x_j
 *        dot = f32(wl · y_0);  dot = f32(dot + f32(a · y_j)) for j = 1 … G−1 in order;  k = f32(dot · c)
 *        r_0 = f32(y_0 − f32(wl · k));  r_j = f32(y_j − f32(a · k))
 *        forward:  out_j = r_j                     inverse:  out_j = f32(r_j / s_j)
 *    G = 1 is the identity reflection (out = f32(s·x) or f32(x/s)).
 *    This is y ← y − 2u(uᵀy) with u = (𝟙/√G − e_1)/‖𝟙/√G − e_1‖, i.e. H_G = I − wwᵀ/(1 − a), w = (a−1, a, …, a).
 *
 * 4. LUQ (METHODS §2.2–2.3; quantizers/sawb.ts, quantizers/luq.ts; kernels momentSums, quantizeLuq).
 *    SAWB forward, per tensor, statistics in float64 (kernel momentSums, sums blocked as its contract says):
 *    clip = c1·√(Σx²/n) − c2·Σ|x|/n
 *    (clip ≤ 0 → max|x|, all-zero tensor → Δ = 1); Δ = ↑(2·clip/(Qp − Qn)), inv = f32(1/Δ); then §1 with
 *    offset 0, zp 0, nearest, codes [Qn, Qp] (clamp after rounding = rounding after clamp: Qn, Qp integers).
 *    LUQ gradient, per tensor: m = max|g| (kernel quantRange), α = f32(m·2^−kmax) (exact: a power-of-two
 *    scaling), per element with u = uniform(seed, stream, i):
 *        g = 0 or NaN → code 0;  r = f32(|g| / α);  k = clamp(⌊log2 r⌋, 0, kmax) (exponent bits of r)
 *        code = sign(g) · min(2^k · floor(r/2^k + u), 2^kmax)            (r/2^k + u exact in float64)
 *    r < 1 is the stochastic underflow (code 1 with probability r, else 0); r ≥ 1 rounds between 2^k and
 *    2^(k+1) with P(up) = r/2^k − 1 (linear-space probability); E[code] = r. The max element has r = 2^kmax
 *    exactly and is reproduced exactly. Dequantization is §1 with offset 0, zp 0, scale α.
 *    LUQ paperCompat (the released code, METHODS §2.3, §11.2; TypeScript only, quantizers/luq.ts): m = max(g)
 *    (SIGNED; max|g| when max(g) ≤ 0, where the code gives NaN), kmax = 2^e − 1, α = f32(m·2^−kmax), the same
 *    per-element rule with k = max(⌊log2 r⌋, 0) and NO cap at the top (negatives beyond m keep their own power
 *    of two), stored as the log code c = sign(g)·(k' + 1) for ±α·2^k' (|c| ≤ 127). Not a 4-bit format.
 *
 * 5. Random Hadamard transform (kernel hadamardTransform, METHODS §5.1, §5.3–5.4; quant/hadamard.ts). Per row, the
 *    first ⌊cols/b⌋·b columns form blocks of b (a power of two); c = f32(1/√b); s_j = ±1 the signs of the draw.
 *        forward:  y_j = x_j·s_j (exact), butterflies on each block, out_j = f32(y_j·c)
 *        inverse:  y_j = x_j, butterflies on each block, out_j = f32(f32(y_j·c)·s_j)
 *        butterflies: for h = 1, 2, …, b/2; for i = 0, 2h, 4h, … < b; for j = i … i+h−1:
 *                     (u, v) = (y_j, y_{j+h});  y_j = f32(u + v);  y_{j+h} = f32(u − v)
 *        tail columns (cols mod b of them): out_j = x_j·s_j in both directions (an identity block).
 *    In exact arithmetic the forward map is x ↦ x·D·H/√b (H symmetric, H·H = b·I), an orthogonal map, so applying it
 *    to both operands of a GEMM along K leaves the product unchanged: (XDH/√b)(WDH/√b)ᵀ = XWᵀ.
 *
 * 6. Minifloat grids (kernel quantizeMinifloat, METHODS §5.3–5.4; quantizers/minifloat.ts). Mantissa bits M,
 *    smallest exponent emin, largest value MAX:  E2M1 M = 1, emin = 0, MAX = 6 (magnitudes 0 .5 1 1.5 2 3 4 6);
 *    E4M3 (OCP E4M3FN) M = 3, emin = −6, MAX = 448 (subnormals k·2^−9). Per element with g = group(r, c):
 *        t = f32(x·inv[g]);  a = |t|;  a = 0 or t not finite → 0 (a NaN group keeps its NaN in the scale, issue 18);
 *        else e = max(⌊log2 a⌋, emin) (exact), ulp = 2^(e − M),
 *        s = a/ulp (exact);  nearest: m = roundHalfEven(s);  stochastic: m = floor(s + u) (a float64 sum), u = uniform(seed, stream, i)
 *        q = min(m·ulp, MAX)  (saturating: values beyond MAX become MAX, never infinite);  value = sign(t)·q (no −0)
 *    E2M1 code = 2·value (an int8 in −12..12, so a GEMM on codes is an integer GEMM, scale/2 per group);
 *    E4M3 code = the E4M3 byte (sign·128 + exponent field·8 + mantissa field; exponent field ⌊log2 q⌋ + 7 for
 *    q ≥ 2^−6, else 0 with mantissa q·2^9). Stochastic rounding is unbiased wherever a ≤ MAX, which the
 *    stochastic scale rules of quantizers/minifloat.ts guarantee (up to the float32 rounding of t).
 */

export { roundDownF32, roundHalfEven, roundUpF32 } from '../backend/ref/quant-math.js';
