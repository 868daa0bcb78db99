/**
 * The typed table of quantizers (DESIGN.md "Quantizers are a typed table"): one entry per QuantKind; the
 * compiler rejects a kind without an entry. Everything else reaches quantizers through the helpers below.
 */
import type { QuantContext, QuantizedOperand, Quantizer } from '../quantize.js';
import { type Draw, type Grouping, isPlanes, type MatrixData, type Planes, type QTensor, type QuantParams, rowsOf } from '../qtensor.js';
import { type OperandRole, QUANT_KINDS, type QuantKind, type QuantSpec } from '../spec.js';
import { expectObject, expectOneOf } from '../validate.js';
import { uniformQuantizer } from './uniform.js';
import { bhqQuantizer } from './householder.js';
import { sawbQuantizer } from './sawb.js';
import { luqQuantizer } from './luq.js';
import { signQuantizer } from './binary.js';
import { agpQuantizer } from './agp.js';
import { mxfp4Quantizer, mxfp8Quantizer, nvfp4Quantizer } from './minifloat.js';
import { int8BlockQuantizer } from './int8-block.js';

export const QUANTIZERS: { readonly [K in QuantKind]: Quantizer<K> } = {
  uniform: uniformQuantizer,
  bhq: bhqQuantizer,
  sawb: sawbQuantizer,
  luq: luqQuantizer,
  sign: signQuantizer,
  agp: agpQuantizer,
  mxfp8: mxfp8Quantizer,
  mxfp4: mxfp4Quantizer,
  nvfp4: nvfp4Quantizer,
  'int8-block': int8BlockQuantizer,
};

/** The table entry of a spec, typed for any spec (the kind tag guarantees the match). */
function of(spec: QuantSpec): Quantizer<QuantKind> {
  return QUANTIZERS[spec.kind] as unknown as Quantizer<QuantKind>;
}

/** Validate a quantizer spec object (kind + its fields); errors name `path`. */
export function parseQuantSpec(raw: unknown, path: string, role: OperandRole): QuantSpec {
  const o = expectObject(raw, path);
  const kind = expectOneOf(o.kind, `${path}.kind`, QUANT_KINDS);
  return (QUANTIZERS[kind] as unknown as Quantizer<QuantKind>).parse(o, path, role);
}

export const specLabel = (s: QuantSpec): string => of(s).label(s);
export const specCode = (s: QuantSpec): string => of(s).code(s);
export const specCodeBits = (s: QuantSpec): number => of(s).codeBits(s);
export const specIsStochastic = (s: QuantSpec): boolean => of(s).stochastic(s);
export const specMixesRows = (s: QuantSpec): boolean => of(s).mixesRows(s);
export const specGrouping = (s: QuantSpec, rows: number, cols: number, rps: number): Grouping => of(s).grouping(s, rows, cols, rps);

/** Role in the bit GEMMs ('sign' ±1 / 'unsigned' codes) or null (quantize.ts). */
export const specBitRole = (s: QuantSpec): 'sign' | 'unsigned' | null => of(s).bitRole?.(s) ?? null;
/** The forward STE mask of x (null = plain STE). */
export const specSteMask = (s: QuantSpec, x: Float32Array): Float32Array | null => of(s).steMask?.(s, x) ?? null;
/** Whether 0 quantizes to something non-zero (conv padding then needs a correction). */
export const specZeroNotExact = (s: QuantSpec): boolean => of(s).zeroNotExact?.(s) ?? false;
/** Whether the layer gets a learnable per-output-channel scale (weight slot). */
export const specOutputScale = (s: QuantSpec): boolean => of(s).outputScale?.(s) ?? false;
/** The clipped STE bound (null: plain STE). */
export const specSteClip = (s: QuantSpec): number | null => of(s).steClip?.(s) ?? null;
/** The per-group parameters from group ranges, or null when the quantizer needs the data (quantize.ts). */
export const specGroupParams = (s: QuantSpec, mins: Float32Array, maxs: Float32Array, grouping: Grouping, draw: Draw | null): QuantParams | null =>
  of(s).groupParams?.(s, mins, maxs, grouping, draw) ?? null;

/**
 * Whether the spec can quantize a layer's input X as a tensor before any im2col (a conv input, conv-level fused
 * passes): a deterministic quantizer with quantizeConvInput. Its groups are then the tensor or the sample.
 */
export const specQuantizesConvInput = (s: QuantSpec): boolean => of(s).quantizeConvInput !== undefined && !of(s).stochastic(s);
/** X's codes for a conv that quantizes its input before im2col, or null when the spec cannot (quantize.ts). */
export const quantizeConvInputWith = (s: QuantSpec, x: Planes): QTensor | null => of(s).quantizeConvInput?.(s, x) ?? null;
/** The operand of x[rows, cols]; given as NCHW planes, x is read as it lies when the quantizer can (else transposed). */
export function quantizeWith(s: QuantSpec, x: MatrixData, rows: number, cols: number, ctx: QuantContext): QuantizedOperand {
  const q = of(s);
  return isPlanes(x) && x.hw > 1 && q.quantizePlanes ? q.quantizePlanes(s, x, ctx) : q.quantize(s, rowsOf(x), rows, cols, ctx);
}
