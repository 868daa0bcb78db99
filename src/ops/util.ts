/** Small helpers shared by the ops (allocation, contiguous strides, reducing a gradient to a broadcast input). */
import { backend } from '../backend/index.js';
import { Tensor } from '../tensor/tensor.js';
import { type Shape, sameShape, shapeSize, stridesOf } from '../tensor/shape.js';

export function empty(shape: Shape): Tensor {
  return new Tensor(new Float32Array(shapeSize(shape)), shape);
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
