/** Reductions over a set of axes (sum, mean, max, variance). */
import { record } from '../autograd/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { normAxis, shapeSize } from '../tensor/shape.js';
import { binary } from './binary-raw.js';
import { reduceAxisKeep } from './util.js';
import { mul, scale, sub } from './elementwise.js';

function normAxes(x: Tensor, axes: number | number[] | undefined, op: string): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => normAxis(a, x.rank, op));
  return [...new Set(list)].sort((a, b) => a - b);
}

function keptShape(x: Tensor, axes: number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

function finalShape(x: Tensor, axes: number[], keepDims: boolean): number[] {
  return keepDims ? keptShape(x, axes) : x.shape.filter((_, i) => !axes.includes(i));
}

function reduceRaw(x: Tensor, axes: number[], op: 'sum' | 'max'): Tensor {
  let cur = x;
  for (const a of axes) if (cur.shape[a] !== 1) cur = reduceAxisKeep(cur, a, op);
  return cur;
}

export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(x, axes, 'sum');
  const r = reduceRaw(x, ax, 'sum');
  const out = new Tensor(r === x ? new Float32Array(x.data) : r.data, finalShape(x, ax, keepDims));
  const kept = keptShape(x, ax), xShape = x.shape, xSize = x.size;
  // Backward: broadcast g back over the reduced axes (the closure keeps x's shape, not x).
  return record(out, 'sum', [x], (g) => [binary('add', new Tensor(g.data, kept), new Tensor(new Float32Array(xSize), xShape))]);
}

export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(x, axes, 'mean');
  const count = shapeSize(ax.map((a) => x.shape[a]));
  return scale(sum(x, ax, keepDims), count === 0 ? NaN : 1 / count);
}

/** Max over axes; the gradient goes to the elements equal to the max, shared equally among ties (as PyTorch's amax). */
export function max(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(x, axes, 'max');
  const r = reduceRaw(x, ax, 'max');
  const kept = keptShape(x, ax);
  const out = new Tensor(r === x ? new Float32Array(x.data) : r.data, finalShape(x, ax, keepDims));
  return record(out, 'max', [x], (g) => {
    const mask = binary('eq', x, new Tensor(out.data, kept));
    const ties = reduceRaw(mask, ax, 'sum'); // number of maxima per output, shape `kept`
    return [binary('mul', mask, binary('div', new Tensor(g.data, kept), new Tensor(ties.data, kept)))];
  });
}

/** Biased (population) variance over axes, composed from differentiable ops. */
export function variance(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const ax = normAxes(x, axes, 'variance');
  const mu = mean(x, ax, true);
  const d = sub(x, mu);
  return mean(mul(d, d), ax, keepDims);
}

