import type { BinaryConvKernels } from './bconv-kernels.js';
import type { FloatKernels } from './float-kernels.js';
import type { IntKernels } from './int-kernels.js';
import type { QuantKernels } from './quant-kernels.js';
import type { QconvKernels } from './qconv-kernels.js';
import type { TransformerKernels } from './transformer-kernels.js';
import type { LowpKernels } from './lowp-kernels.js';

export type { BinaryOp, FloatKernels, ReduceOp, UnaryOp } from './float-kernels.js';
export type { IntKernels } from './int-kernels.js';
export type { QuantKernels } from './quant-kernels.js';
export type { QconvKernels } from './qconv-kernels.js';
export type { BinaryConvKernels } from './bconv-kernels.js';
export type { ActivationOp, TransformerKernels } from './transformer-kernels.js';
export type { LowpKernels, MinifloatCode } from './lowp-kernels.js';

export type Kernels = FloatKernels & IntKernels & QuantKernels & QconvKernels & BinaryConvKernels & TransformerKernels & LowpKernels;
export type KernelName = keyof Kernels;

/**
 * A backend: one method per kernel (a missing kernel does not compile), plus what it is.
 * Only typed arrays and integers cross this boundary; outputs are allocated by the caller.
 */
export interface Backend extends Kernels {
  /** 'ref' or 'native' (or 'native+ref' for a native backend that falls back to ref for some kernels). */
  readonly name: string;
  /** Human-readable details: ISA tier, threads, why native is not active ... */
  readonly description: string;
  /** Whether this backend has its own implementation of the kernel (false ⇒ reference fallback). */
  supports(kernel: KernelName): boolean;
}
