/** Reference low-precision kernels (backend/lowp-kernels.ts), written literally from quant/rounding.ts §5 and §6. */
import type { MinifloatCode } from '../lowp-kernels.js';
import { streamKey, uniformAt } from '../../tensor/random.js';
import { roundHalfEven } from './quant-math.js';

const fr = Math.fround;

export function hadamardTransform(x: Float32Array, rows: number, cols: number, block: number, signs: Float32Array,
  inverse: number, out: Float32Array): void {
  if ((block & (block - 1)) !== 0) throw new Error(`hadamardTransform: block ${block} is not a power of two`);
  const c = fr(1 / Math.sqrt(block));
  const full = Math.floor(cols / block) * block;
  const y = new Float32Array(block);
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    for (let j0 = 0; j0 < full; j0 += block) {
      for (let j = 0; j < block; j++) y[j] = inverse ? x[o + j0 + j] : x[o + j0 + j] * signs[j0 + j];
      for (let h = 1; h < block; h *= 2) {
        for (let i = 0; i < block; i += 2 * h) {
          for (let j = i; j < i + h; j++) {
            const u = y[j], v = y[j + h];
            y[j] = u + v; // y is a Float32Array: every store rounds to float32
            y[j + h] = u - v;
          }
        }
      }
      for (let j = 0; j < block; j++) out[o + j0 + j] = inverse ? fr(y[j] * c) * signs[j0 + j] : y[j] * c;
    }
    for (let j = full; j < cols; j++) out[o + j] = x[o + j] * signs[j];
  }
}

/** [mantissa bits M, smallest exponent emin, largest value MAX] of a minifloat grid (quant/rounding.ts §6). */
export const MINIFLOAT_GRIDS: Record<MinifloatCode, readonly [number, number, number]> = { 0: [1, 0, 6], 1: [3, -6, 448] };

/** ⌊log2 a⌋ of a finite a > 0, exactly. */
const f64 = new Float64Array(1), u32 = new Uint32Array(f64.buffer);

export function floorLog2(a: number): number {
  f64[0] = a;
  const biased = (u32[1] >>> 20) & 0x7ff; // the float64 exponent field (little-endian high word)
  if (biased !== 0) return biased - 1023;
  let e = Math.floor(Math.log2(a)); // float64 subnormals (never float32 data)
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return e;
}

/** |t| rounded onto the grid (u: the uniform of stochastic rounding, or null for nearest); quant/rounding.ts §6. */
export function roundMinifloat(a: number, format: MinifloatCode, u: number | null): number {
  if (a === 0 || !Number.isFinite(a)) return 0;
  const [M, emin, MAX] = MINIFLOAT_GRIDS[format];
  if (a >= MAX) return MAX;
  const ulp = 2 ** (Math.max(floorLog2(a), emin) - M);
  const s = a / ulp;
  return Math.min((u === null ? roundHalfEven(s) : Math.floor(s + u)) * ulp, MAX);
}

/** The E4M3 byte of a value on the E4M3 grid. */
export function e4m3Byte(v: number): number {
  const sign = v < 0 ? 128 : 0, q = Math.abs(v);
  if (q === 0) return 0;
  if (q < 2 ** -6) return sign | (q * 512);
  const e = floorLog2(q);
  return sign | ((e + 7) << 3) | ((q / 2 ** e - 1) * 8);
}

/** The value of an E4M3 byte (0x7F / 0xFF, NaN in E4M3FN, never produced by quantizeMinifloat). */
export function e4m3Value(byte: number): number {
  const sign = byte & 128 ? -1 : 1, e = (byte >> 3) & 15, m = byte & 7;
  if (e === 15 && m === 7) return NaN;
  return sign * (e === 0 ? m * 2 ** -9 : (1 + m / 8) * 2 ** (e - 7));
}

export function quantizeMinifloat(x: Float32Array, rows: number, cols: number, rowDiv: number, rowMod: number, colDiv: number,
  inv: Float32Array, format: MinifloatCode, stochastic: number, seed: number, stream: number, codes: Int8Array | Uint8Array): void {
  const colGroups = Math.ceil(cols / colDiv);
  const key = streamKey(seed, stream);
  for (let r = 0; r < rows; r++) {
    const rg = (Math.floor(r / rowDiv) % rowMod) * colGroups;
    for (let c = 0; c < cols; c++) {
      const i = r * cols + c;
      const t = fr(x[i] * inv[rg + Math.floor(c / colDiv)]);
      const q = roundMinifloat(Math.abs(t), format, stochastic ? uniformAt(key, i) : null);
      const v = t < 0 && q !== 0 ? -q : q;
      codes[i] = format === 0 ? 2 * v : e4m3Byte(v);
    }
  }
}
