/**
 * A tape small enough to read in one sitting: every differentiable op's output carries a Node
 * {op, inputs, backward}; grad(loss) walks the nodes in reverse topological order.
 */
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape, sameShape } from '../tensor/shape.js';
import { isGradEnabled, noGrad } from './mode.js';
import { backend } from '../backend/index.js';

/** Returns one gradient (or null: no gradient flows) per input, each with that input's shape. */
export type BackwardFn = (g: Tensor) => (Tensor | null)[];

export interface Node {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  readonly backward: BackwardFn;
}

/** Attach a node to `out` when gradients are recorded and some input needs one. Returns `out`. */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: BackwardFn): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs, backward };
  }
  return out;
}

/** Map from leaf tensor (parameter) to its gradient. */
export class GradStore {
  private readonly map: Map<Tensor, Tensor>;

  constructor(map: Map<Tensor, Tensor> = new Map()) {
    this.map = map;
  }

  get(t: Tensor): Tensor | undefined {
    return this.map.get(t);
  }

  has(t: Tensor): boolean {
    return this.map.has(t);
  }

  set(t: Tensor, g: Tensor): void {
    this.map.set(t, g);
  }

  entries(): IterableIterator<[Tensor, Tensor]> {
    return this.map.entries();
  }

  get size(): number {
    return this.map.size;
  }
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS (deep ResNets would overflow a recursive one).
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node ? t.node.inputs : [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next.requiresGrad && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order; // inputs before the tensors that use them
}

/**
 * Reverse-mode gradients of a scalar `loss` (or of Σ seed·output when `seed` is given) with respect to
 * every leaf tensor that requires a gradient.
 */
export function grad(loss: Tensor, seed?: Tensor): GradStore {
  check(loss.requiresGrad, 'grad(): the loss does not depend on any tensor that requires a gradient');
  if (seed === undefined) {
    check(loss.size === 1, () => `grad(): the loss must have one element, got shape ${fmtShape(loss.shape)} (pass a seed gradient)`);
  } else {
    check(sameShape(seed.shape, loss.shape), () => `grad(): seed shape ${fmtShape(seed.shape)} differs from output shape ${fmtShape(loss.shape)}`);
  }
  const order = topoOrder(loss);
  const grads = new Map<Tensor, Tensor>();
  const owned = new Set<Tensor>(); // gradients we allocated, safe to accumulate into in place
  grads.set(loss, seed ?? new Tensor(new Float32Array(loss.size).fill(1), loss.shape));
  const leaves = new GradStore();
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (g === undefined) continue;
      if (!t.node) {
        leaves.set(t, g);
        continue;
      }
      grads.delete(t); // intermediate gradients are freed as soon as they are consumed
      // A backward may pass g itself on to several inputs (add), so g is no longer ours to write into.
      owned.delete(g);
      const inGrads = t.node.backward(g);
      t.node.inputs.forEach((inp, k) => {
        const gi = inGrads[k];
        if (!inp.requiresGrad || gi === null || gi === undefined) return;
        check(sameShape(gi.shape, inp.shape), () => `internal: backward of ${t.node!.op} returned shape ${fmtShape(gi.shape)} for an input of shape ${fmtShape(inp.shape)}`);
        const prev = grads.get(inp);
        if (prev === undefined) {
          grads.set(inp, gi);
        } else if (owned.has(prev)) {
          accumulate(prev, gi);
        } else {
          const sum = new Tensor(new Float32Array(prev.data), prev.shape);
          accumulate(sum, gi);
          grads.set(inp, sum);
          owned.add(sum);
        }
      });
    }
  });
  // Leaf gradients must not share storage with each other or with the caller's seed (add's backward
  // returns its g to both inputs): optimizers and clipping may edit them in place.
  const taken = new Set<ArrayBufferLike>(seed ? [seed.data.buffer] : []);
  for (const [leaf, g] of leaves.entries()) {
    if (taken.has(g.data.buffer)) leaves.set(leaf, new Tensor(new Float32Array(g.data), g.shape));
    else taken.add(g.data.buffer);
  }
  return leaves;
}

function accumulate(into: Tensor, g: Tensor): void {
  const strides = new Int32Array(into.rank);
  let acc = 1;
  for (let d = into.rank - 1; d >= 0; d--) { strides[d] = acc; acc *= into.shape[d]; }
  backend().binary('add', into.data, strides, g.data, strides, Int32Array.from(into.shape), into.data);
}
