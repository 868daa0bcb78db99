/** Small helpers shared by the ops (allocation, contiguous strides, reducing a gradient to a broadcast input). */
import { backend } from '../backend/index.js';
import { Tensor } from '../tensor/tensor.js';
import { type Shape, sameShape, shapeSize, stridesOf } from '../tensor/shape.js';

export function empty(shape: Shape): Tensor {
  return new Tensor(new Float32Array(shapeSize(shape)), shape);
}

type UnsafeAlloc = (bytes: number) => { buffer: ArrayBuffer; byteOffset: number };
const allocUnsafeSlow: UnsafeAlloc | undefined =
  (globalThis as { Buffer?: { allocUnsafeSlow?: UnsafeAlloc } }).Buffer?.allocUnsafeSlow;

/**
 * Like `empty` but NOT zero-filled (Node: `Buffer.allocUnsafeSlow`, one ArrayBuffer of exactly the size; elsewhere,
 * and below 16 KiB, a zeroed array). ONLY for a kernel output that the next backend call overwrites entirely on
 * every backend (the conformance tests pre-fill outputs with NaN to check this): calloc's zero fill of the
 * multi-MiB activations and gradients cost ~90 ms of a ~0.9 s ResNet-20 training step.
 */
export function uninit(shape: Shape): Tensor {
  return new Tensor(uninitF32(shapeSize(shape)), shape);
}

/** A bare array of n elements, not zero-filled (the same rule as `uninit`: only for outputs a kernel writes in full). */
function uninitArray<T>(n: number, bytesPer: number, make: (b: ArrayBuffer, offset: number, n: number) => T, zeroed: (n: number) => T): T {
  if (allocUnsafeSlow === undefined || n * bytesPer < 16384) return zeroed(n);
  const b = allocUnsafeSlow(n * bytesPer);
  return make(b.buffer, b.byteOffset, n);
}
export const uninitF32 = (n: number): Float32Array => uninitArray(n, 4, (b, o, k) => new Float32Array(b, o, k), (k) => new Float32Array(k));
/** n 1-byte integer codes (Int8Array when signed, else Uint8Array), not zero-filled. */
export const uninitCodes = (n: number, signed: boolean): Int8Array | Uint8Array => signed
  ? uninitArray(n, 1, (b, o, k) => new Int8Array(b, o, k), (k) => new Int8Array(k))
  : uninitArray(n, 1, (b, o, k) => new Uint8Array(b, o, k), (k) => new Uint8Array(k));

export function contiguousStrides(shape: Shape): Int32Array {
  return Int32Array.from(stridesOf(shape));
}

/** Sum a gradient of the broadcast shape back down to `shape` (the adjoint of broadcasting). */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  let cur = g;
  // Reduce the leading extra axes, then every axis where the target has size 1.
  for (let d = 0; d < g.rank; d++) {
    const target = d < lead ? 1 : shape[d - lead];
    if (target === 1 && cur.shape[d] !== 1) cur = reduceAxisKeep(cur, d);
  }
  return new Tensor(cur.data, shape);
}

/** Sum over one axis keeping it as size 1 (no autograd; used inside backward rules). */
export function reduceAxisKeep(x: Tensor, axis: number, op: 'sum' | 'max' = 'sum'): Tensor {
  const outer = shapeSize(x.shape.slice(0, axis));
  const len = x.shape[axis];
  const inner = shapeSize(x.shape.slice(axis + 1));
  const outShape = x.shape.map((d, i) => (i === axis ? 1 : d));
  const out = empty(outShape);
  backend().reduce(op, x.data, outer, len, inner, out.data);
  return out;
}
