/**
 * Quantization kernels (rounding, range statistics, packing). Owned by the FQT core (quant/);
 * the rounding formulas are specified once in quant/rounding.ts.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-interface
export interface QuantKernels {}

export type QuantKernelName = keyof QuantKernels;
