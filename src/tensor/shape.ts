import { check, FqtError } from './errors.js';

export type Shape = readonly number[];

export function shapeSize(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function assertValidShape(shape: Shape, what = 'shape'): void {
  for (const d of shape) {
    check(Number.isInteger(d) && d >= 0, () => `${what} ${fmtShape(shape)} has an invalid dimension ${d}`);
  }
}

/** Row-major contiguous strides. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** NumPy broadcasting of two shapes; names the op and both shapes on failure. */
export function broadcastShapes(a: Shape, b: Shape, op: string): number[] {
  const n = Math.max(a.length, b.length);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const da = a[a.length - n + i] ?? 1;
    const db = b[b.length - n + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new FqtError(`${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides of `shape` seen inside the broadcast `outShape` (0 along broadcast axes). */
export function broadcastStrides(shape: Shape, outShape: Shape): Int32Array {
  const own = stridesOf(shape);
  const out = new Int32Array(outShape.length);
  const off = outShape.length - shape.length;
  for (let i = 0; i < shape.length; i++) out[off + i] = shape[i] === 1 ? 0 : own[i];
  return out;
}

/** Normalise a possibly negative axis; names the op on failure. */
export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  check(Number.isInteger(a) && a >= 0 && a < rank, () => `${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  return a;
}
