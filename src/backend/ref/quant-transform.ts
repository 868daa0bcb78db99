/** Reference block Householder transform (BHQ, METHODS §1.5), float32 arithmetic of quant/rounding.ts §3. */
import { householderCoefficients } from './quant-math.js';

const fr = Math.fround;

export function blockHouseholder(x: Float32Array, n: number, d: number, order: Int32Array, groupSizes: Int32Array,
  rowScale: Float32Array, inverse: number, out: Float32Array): void {
  const dot = new Float32Array(d); // float32 storage rounds every accumulation step
  let start = 0;
  for (let gi = 0; gi < groupSizes.length; gi++) {
    const size = groupSizes[gi];
    // Gather (forward: and scale) the group's rows into `out` at their own positions.
    for (let j = 0; j < size; j++) {
      const r = order[start + j] * d;
      if (inverse) out.set(x.subarray(r, r + d), r);
      else {
        const s = rowScale[order[start + j]];
        for (let c = 0; c < d; c++) out[r + c] = s * x[r + c];
      }
    }
    if (size > 1) {
      const { a, wl, c: coef } = householderCoefficients(size);
      const lead = order[start] * d;
      for (let c = 0; c < d; c++) dot[c] = wl * out[lead + c];
      for (let j = 1; j < size; j++) {
        const r = order[start + j] * d;
        for (let c = 0; c < d; c++) dot[c] += fr(a * out[r + c]);
      }
      for (let c = 0; c < d; c++) dot[c] *= coef;
      for (let c = 0; c < d; c++) out[lead + c] -= fr(wl * dot[c]);
      for (let j = 1; j < size; j++) {
        const r = order[start + j] * d;
        for (let c = 0; c < d; c++) out[r + c] -= fr(a * dot[c]);
      }
    }
    if (inverse) {
      for (let j = 0; j < size; j++) {
        const r = order[start + j] * d;
        const s = rowScale[order[start + j]];
        for (let c = 0; c < d; c++) out[r + c] /= s;
      }
    }
    start += size;
  }
  void n;
}
