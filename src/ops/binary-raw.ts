/** Non-recording broadcast binary op (for use inside backward rules). */
import { backend } from '../backend/index.js';
import type { BinaryOp } from '../backend/backend.js';
import { Tensor } from '../tensor/tensor.js';
import { broadcastShapes, broadcastStrides } from '../tensor/shape.js';
import { uninit } from './util.js';

export function binary(op: BinaryOp, a: Tensor, b: Tensor, name: string = op): Tensor {
  const shape = broadcastShapes(a.shape, b.shape, name);
  const out = uninit(shape); // binary writes every element
  backend().binary(op, a.data, broadcastStrides(a.shape, shape), b.data, broadcastStrides(b.shape, shape), Int32Array.from(shape), out.data);
  return out;
}
