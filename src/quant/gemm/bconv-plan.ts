/** The plan of a fused binary layer (bconv.ts) and what its forward keeps for the backward (bconv-backward.ts). */
import type { Tensor } from '../../tensor/tensor.js';
import type { QuantSpec } from '../spec.js';

/** How one backward GEMM runs (file comment); `blocked`: per-sample K-blocks on the grad-weight GEMM. */
export type Pass = { kind: 'fp32' } | { kind: 'dequant'; spec: QuantSpec } | { kind: 'bits'; spec: QuantSpec; blocked: boolean };

export interface Fit { gi: Pass; gw: Pass; fx: QuantSpec; fw: QuantSpec; giWSign: boolean }

/** What the forward kept; nanX / nanW: the operand held a NaN (no sign bit can: what it reaches is NaN). */
export interface Kept {
  xSigns: Uint32Array; xMask: Uint32Array | null; wSigns: Uint32Array; wData: Float32Array; a: Tensor | null; nanX: boolean; nanW: boolean;
}
