/** Movement ops: reshape, permute, slice, pad, concat, flatten. All copies go through copyStrided. */
import { backend } from '../backend/index.js';
import { record } from '../autograd/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape, normAxis, type Shape, shapeSize, stridesOf } from '../tensor/shape.js';
import { contiguousStrides, empty, uninit } from './util.js';

export function reshape(x: Tensor, shape: Shape): Tensor {
  const dims = [...shape];
  const free = dims.indexOf(-1);
  if (free >= 0) {
    const known = shapeSize(dims.filter((_, i) => i !== free));
    check(known > 0 && x.size % known === 0, () => `reshape: cannot reshape ${fmtShape(x.shape)} into ${fmtShape(shape)}`);
    dims[free] = x.size / known;
  }
  check(dims.every((d) => Number.isInteger(d) && d >= 0) && shapeSize(dims) === x.size,
    () => `reshape: cannot reshape ${fmtShape(x.shape)} (${x.size} elements) into ${fmtShape(shape)}`);
  // Tensors are contiguous, so a reshape shares the data; the backward reshapes the gradient back.
  return record(new Tensor(x.data, dims), 'reshape', [x], (g) => [new Tensor(g.data, x.shape)]);
}

export function flatten(x: Tensor, startAxis = 1): Tensor {
  const s = normAxis(startAxis, x.rank, 'flatten');
  return reshape(x, [...x.shape.slice(0, s), shapeSize(x.shape.slice(s))]);
}

function permuteRaw(x: Tensor, perm: readonly number[]): Tensor {
  const src = stridesOf(x.shape);
  const shape = perm.map((p) => x.shape[p]);
  const out = uninit(shape); // copyStrided writes every element
  backend().copyStrided(x.data, 0, Int32Array.from(perm.map((p) => src[p])), Int32Array.from(shape), out.data, 0, contiguousStrides(shape));
  return out;
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  check(perm.length === x.rank && [...perm].sort((a, b) => a - b).every((p, i) => p === i),
    () => `permute: [${perm.join(', ')}] is not a permutation of the ${x.rank} axes of ${fmtShape(x.shape)}`);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => { inverse[p] = i; });
  return record(permuteRaw(x, perm), 'permute', [x], (g) => [permuteRaw(g, inverse)]);
}

/** Swap the last two axes. */
export function transpose(x: Tensor): Tensor {
  check(x.rank >= 2, () => `transpose: needs rank ≥ 2, got ${fmtShape(x.shape)}`);
  const perm = x.shape.map((_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return permute(x, perm);
}

/** Copy `src` into the box of `dst` that starts at `starts` (same rank; src fits). */
function placeInto(src: Tensor, dst: Tensor, starts: readonly number[]): void {
  const ds = stridesOf(dst.shape);
  const offset = starts.reduce((acc, s, i) => acc + s * ds[i], 0);
  backend().copyStrided(src.data, 0, contiguousStrides(src.shape), Int32Array.from(src.shape), dst.data, offset, Int32Array.from(ds));
}

/** Read the box of `x` that starts at `starts` with size `sizes`. */
function readBox(x: Tensor, starts: readonly number[], sizes: readonly number[]): Tensor {
  const xs = stridesOf(x.shape);
  const offset = starts.reduce((acc, s, i) => acc + s * xs[i], 0);
  const out = uninit(sizes); // copyStrided writes every element
  backend().copyStrided(x.data, offset, Int32Array.from(xs), Int32Array.from(sizes), out.data, 0, contiguousStrides(sizes));
  return out;
}

/** x[starts[0]:ends[0], ...] (ends exclusive; missing axes are taken whole). */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[]): Tensor {
  const st = x.shape.map((_, i) => starts[i] ?? 0);
  const en = x.shape.map((d, i) => ends[i] ?? d);
  st.forEach((s, i) => check(Number.isInteger(s) && Number.isInteger(en[i]) && s >= 0 && s <= en[i] && en[i] <= x.shape[i],
    () => `slice: range [${s}, ${en[i]}) is invalid for axis ${i} of ${fmtShape(x.shape)}`));
  const sizes = en.map((e, i) => e - st[i]);
  const xShape = x.shape;
  return record(readBox(x, st, sizes), 'slice', [x], (g) => {
    const gx = empty(xShape);
    placeInto(g, gx, st);
    return [gx];
  });
}

/** Zero padding: `pads[i] = [before, after]` for axis i (missing axes unpadded). */
export function pad(x: Tensor, pads: readonly (readonly [number, number])[]): Tensor {
  const p = x.shape.map((_, i) => pads[i] ?? [0, 0]);
  p.forEach(([b, a], i) => check(Number.isInteger(b) && Number.isInteger(a) && b >= 0 && a >= 0,
    () => `pad: padding [${b}, ${a}] for axis ${i} must be non-negative integers`));
  const shape = x.shape.map((d, i) => d + p[i][0] + p[i][1]);
  const out = empty(shape);
  const starts = p.map(([b]) => b);
  placeInto(x, out, starts);
  const xShape = x.shape;
  return record(out, 'pad', [x], (g) => [readBox(g, starts, xShape)]);
}

export function concat(xs: readonly Tensor[], axis = 0): Tensor {
  check(xs.length > 0, 'concat: needs at least one tensor');
  const ax = normAxis(axis, xs[0].rank, 'concat');
  for (const t of xs) {
    check(t.rank === xs[0].rank && t.shape.every((d, i) => i === ax || d === xs[0].shape[i]),
      () => `concat: shapes ${xs.map((u) => fmtShape(u.shape)).join(', ')} differ outside axis ${ax}`);
  }
  const shape = [...xs[0].shape];
  shape[ax] = xs.reduce((acc, t) => acc + t.shape[ax], 0);
  const out = empty(shape);
  const offsets: number[] = [];
  let at = 0;
  for (const t of xs) {
    offsets.push(at);
    placeInto(t, out, shape.map((_, i) => (i === ax ? at : 0)));
    at += t.shape[ax];
  }
  const shapes = xs.map((t) => t.shape);
  return record(out, 'concat', xs, (g) => shapes.map((s, k) => readBox(g, shape.map((_, i) => (i === ax ? offsets[k] : 0)), s)));
}
