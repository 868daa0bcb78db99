/**
 * Random operands for the fused integer conv kernels (backend/qconv-kernels.ts): codes of every kind (unsigned,
 * signed, 4- and 8-bit ranges), affine groups of every granularity the kernels take, offsets zero and non-zero,
 * and awkward geometries (stride 2, padding 0–2, 1×1, rectangular, channel counts that are not multiples of 4,
 * batch 1 and 0). Shared by the reference-vs-float64 test and the native conformance suite.
 */
import { Rng } from '../../src/tensor/random.js';

export type Geo = [n: number, c: number, h: number, w: number, oc: number, kh: number, kw: number, stride: number, pad: number];

export const QCONV_GEOS: Geo[] = [
  [2, 3, 6, 5, 5, 3, 3, 1, 1],
  [3, 4, 7, 7, 4, 3, 3, 2, 1],
  [1, 5, 5, 6, 3, 1, 1, 1, 0],
  [2, 6, 8, 8, 7, 1, 1, 2, 0],
  [2, 2, 5, 5, 3, 3, 3, 1, 0],
  [1, 3, 4, 4, 2, 3, 3, 1, 2],
  [4, 16, 9, 9, 17, 3, 3, 1, 1],
  [5, 1, 1, 1, 6, 1, 1, 1, 0],
  [0, 3, 5, 5, 4, 3, 3, 1, 1],
];

export interface CodeOperand {
  codes: Uint8Array | Int8Array;
  offset: Float32Array;
  scale: Float32Array;
  zero: Int32Array;
}

export type CodeKind = 'u8' | 'u4' | 's8' | 's4';

/** `groups` affine groups over `count` codes of the given kind; `withOffset`: asymmetric groups (offset ≠ 0). */
export function codeOperand(r: Rng, count: number, groups: number, kind: CodeKind, withOffset: boolean): CodeOperand {
  const u = new Float32Array(count + 3 * groups);
  r.fillUniform(u);
  const hi = kind === 'u8' ? 255 : kind === 'u4' ? 15 : kind === 's8' ? 127 : 7;
  const lo = kind === 'u8' || kind === 'u4' ? 0 : -hi - (kind === 's8' ? 1 : 0);
  const codes = kind[0] === 'u' ? new Uint8Array(count) : new Int8Array(count);
  for (let i = 0; i < count; i++) codes[i] = i % 23 === 0 ? hi : i % 29 === 0 ? lo : lo + Math.floor(u[i] * (hi - lo + 1));
  const offset = new Float32Array(groups), scale = new Float32Array(groups), zero = new Int32Array(groups);
  for (let g = 0; g < groups; g++) {
    scale[g] = Math.fround(0.001 + u[count + g] * 0.05);
    zero[g] = kind[0] === 's' ? 0 : Math.floor(u[count + groups + g] * (hi + 1));
    offset[g] = withOffset ? Math.fround((u[count + 2 * groups + g] - 0.6) * 2) : 0;
  }
  return { codes, offset, scale, zero };
}

export function outSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

export function geoArray([n, c, h, w, oc, kh, kw, stride, pad]: Geo): Int32Array {
  return Int32Array.of(n, c, h, w, oc, kh, kw, stride, pad, outSize(h, kh, stride, pad), outSize(w, kw, stride, pad));
}

export const KINDS: CodeKind[] = ['u8', 's8', 'u4', 's4'];
