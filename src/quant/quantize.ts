/**
 * The quantizer interface. Each kind (spec.ts) has one Quantizer in the typed table of quantizers/index.ts;
 * code that uses recipes goes through this interface and never branches on the format.
 */
import type { BhqTransform } from './transforms.js';
import type { Draw, Grouping, Planes, QTensor, QuantParams } from './qtensor.js';
import type { OperandRole, QuantKind, SpecOf } from './spec.js';

export interface QuantContext {
  /** Rows owned by one sample in the layer-layout matrix (H·W for conv, 1 for linear). */
  rowsPerSample: number;
  /** Random numbers for stochastic rounding (null for deterministic specs). */
  draw: Draw | null;
}

/** A quantized operand: codes in layer layout, plus an optional row transform (BHQ) to undo afterwards. */
export interface QuantizedOperand {
  q: QTensor;
  /**
   * When set, the operand is T⁻¹·x̂ where T mixes samples (blocks of rowsPerSample rows). It commutes with a
   * GEMM whose rows are these rows, so it is applied to that GEMM's output (METHODS §1.5).
   */
  transform: BhqTransform | null;
}

export interface Quantizer<K extends QuantKind> {
  readonly kind: K;
  /** Validate the kind-specific fields (defaults filled in); `path` names the key in error messages. */
  parse(raw: Record<string, unknown>, path: string, role: OperandRole): SpecOf<K>;
  /** Short label, e.g. 'a8/tensor/rn', 'bhq4/sr'. */
  label(spec: SpecOf<K>): string;
  /** Compact code for derived recipe labels, e.g. 'a4S', 'bhq4'. */
  code(spec: SpecOf<K>): string;
  /** Bits of the integer codes the quantizer produces (≤ 8 ⇒ an int8 GEMM can consume them). */
  codeBits(spec: SpecOf<K>): number;
  stochastic(spec: SpecOf<K>): boolean;
  /** Scale groups on a [rows, cols] layer-layout operand (decides the GEMM path). */
  grouping(spec: SpecOf<K>, rows: number, cols: number, rowsPerSample: number): Grouping;
  /** True when the quantizer mixes rows (its inverse must be applied after the GEMM or in fp32). */
  mixesRows(spec: SpecOf<K>): boolean;
  quantize(spec: SpecOf<K>, x: Float32Array, rows: number, cols: number, ctx: QuantContext): QuantizedOperand;
  /**
   * The same operand from the matrix handed over as NCHW planes (qtensor.ts Planes: a conv layer's dY), bit for bit,
   * without a transposed copy. Absent = the caller transposes and calls quantize.
   */
  quantizePlanes?(spec: SpecOf<K>, x: Planes, ctx: QuantContext): QuantizedOperand;
  /**
   * Role in the bit GEMMs (METHODS §3.6): 'sign' = ±1 values (gemmB1, the binary side of gemmBitplane);
   * 'unsigned' = unsigned affine codes with one (offset, scale, zero point) per group (the bit-plane side).
   * Absent = no bit GEMM.
   */
  bitRole?(spec: SpecOf<K>): 'sign' | 'unsigned' | null;
  /**
   * Backward mask of the forward quantizer's STE on x (1 where the gradient passes), e.g. the clipped STE
   * 1{|x| < 1} of sign (METHODS §0.4). Absent or null = plain STE.
   */
  steMask?(spec: SpecOf<K>, x: Float32Array): Float32Array | null;
  /**
   * True when a zero input does not quantize to zero (sign(0) = +1): conv zero padding must then be handled
   * explicitly (a correction term in the GEMM, METHODS §3.2).
   */
  zeroNotExact?(spec: SpecOf<K>): boolean;
  /**
   * Quantize a layer input (NCHW planes; a linear layer's [n, c] is [n, c, 1]) as a whole tensor, before any im2col,
   * for the conv-level fused passes (quant/gemm/fused.ts: they keep these codes and pad with exact zeros): codes in
   * the rows layout [n·hw, c] (NHWC, the order the fused kernels read), one scale group per tensor or per sample. Null
   * when the spec cannot: stochastic rounding (an im2col'd window would repeat one draw), or scale groups other
   * than the tensor or the sample. Absent = the layer quantizes its im2col rows (the rows path).
   */
  quantizeConvInput?(spec: SpecOf<K>, x: Planes): QTensor | null;
  /** Per-output-channel learnable scale on the layer output (sign 'channel' on the weight slot). */
  outputScale?(spec: SpecOf<K>): boolean;
  /**
   * The bound c of a clipped STE (the gradient passes where |x| < c), or null for the plain STE; steMask is its
   * fp32 mask, the fused binary conv packs it as bits (quant/gemm/bconv.ts). Absent = plain STE.
   */
  steClip?(spec: SpecOf<K>): number | null;
  /**
   * The per-group parameters (no codes) from the groups' ranges of the operand, for kernels that quantize while
   * they consume it (the fused binary conv, quant/gemm/bconv.ts); codes from them equal quantize()'s bit for bit.
   * Null (depending on the spec only) or absent: quantize() needs the data itself.
   */
  groupParams?(spec: SpecOf<K>, mins: Float32Array, maxs: Float32Array, grouping: Grouping, draw: Draw | null): QuantParams | null;
}
