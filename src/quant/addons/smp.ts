/**
 * SMP add-on (METHODS §2.4): `addons.smp = {samples: s}` averages s independent draws of every stochastic
 * gradient quantizer. As in hardware, the average is never formed as a value: each backward GEMM runs s times
 * on its low-bit operands (a fresh draw of Q(dY) each time; with backwardDraws 'shared' one draw per sample
 * serves both GEMMs) and the s outputs are averaged (quant/gemm/linear.ts). Unbiased; quantization variance / s;
 * s× the backward GEMM cost.
 */
import { checkKeys, expectInt, expectObject } from '../validate.js';

export interface SmpAddon {
  samples: number;
}

export const MAX_SMP_SAMPLES = 64;

export function parseSmp(raw: unknown, path: string): SmpAddon {
  const o = expectObject(raw, path);
  checkKeys(o, ['samples'], path);
  return { samples: expectInt(o.samples, `${path}.samples`, 1, MAX_SMP_SAMPLES) };
}

/** Draws per backward pass (1 without the add-on). */
export function smpSamples(addons: { smp?: SmpAddon }): number {
  return addons.smp?.samples ?? 1;
}
