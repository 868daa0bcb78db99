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

/** Uninitialised storage of `bytes` (null: allocate a zeroed array instead), for the helpers below. */
function unsafeBytes(bytes: number): { buffer: ArrayBuffer; byteOffset: number } | null {
  return allocUnsafeSlow === undefined || bytes < 16384 ? null : allocUnsafeSlow(bytes);
}

/** `uninit`'s storage as a bare Float32Array of n elements (same rule: only for outputs a kernel writes in full). */
export function uninitF32(n: number): Float32Array {
  const b = unsafeBytes(n * 4);
  return b ? new Float32Array(b.buffer, b.byteOffset, n) : new Float32Array(n);
}

/** n 1-byte integer codes, not zero-filled (same rule as `uninit`): Int8Array when signed, else Uint8Array. */
export function uninitCodes(n: number, signed: boolean): Int8Array | Uint8Array {
  const b = unsafeBytes(n);
  if (signed) return b ? new Int8Array(b.buffer, b.byteOffset, n) : new Int8Array(n);
  return b ? new Uint8Array(b.buffer, b.byteOffset, n) : new Uint8Array(n);
}

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
