/** Reference quantization kernels (filled in by the FQT core; see backend/quant-kernels.ts). */
import type { QuantKernels } from '../quant-kernels.js';

export const refQuantKernels: QuantKernels = {};
