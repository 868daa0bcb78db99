/**
 * A tape small enough to read in one sitting: every differentiable op's output carries a Node
 * {op, inputs (gradient targets), shapes, backward}; grad(loss) walks the nodes in reverse topological order.
 */
import { Tensor, type BackwardFn, type GradTarget, type Node } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape, sameShape } from '../tensor/shape.js';
import { isGradEnabled, noGrad } from './mode.js';
import { backend } from '../backend/index.js';

function targetOf(t: Tensor): GradTarget {
  return !t.requiresGrad ? null : t.node ?? t;
}

/** Attach a node to `out` when gradients are recorded and some input needs one. Returns `out`. */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: BackwardFn): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op, inputs: inputs.map(targetOf), shapes: inputs.map((t) => t.shape), backward };
  }
  return out;
}

/** Map from leaf tensor (parameter) to its gradient. */
export class GradStore {
  private readonly map: Map<Tensor, Tensor>;

  constructor(map: Map<Tensor, Tensor> = new Map()) {
    this.map = map;
  }

  get(t: Tensor): Tensor | undefined { return this.map.get(t); }

  has(t: Tensor): boolean { return this.map.has(t); }

  set(t: Tensor, g: Tensor): void {
    this.map.set(t, g);
  }

  entries(): IterableIterator<[Tensor, Tensor]> { return this.map.entries(); }

  get size(): number { return this.map.size; }
}

/** Nodes reachable from `root`, every node after the nodes that consume its output. */
function topoOrder(root: Node): Node[] {
  const order: Node[] = [];
  const seen = new Set<Node>([root]);
  // Iterative DFS (deep ResNets would overflow a recursive one).
  const stack: [Node, number][] = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [node, i] = top;
    if (i < node.inputs.length) {
      top[1]++;
      const next = node.inputs[i];
      if (next !== null && !(next instanceof Tensor) && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(node);
      stack.pop();
    }
  }
  return order; // producers before the nodes that use their outputs
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
  const seedGrad = seed ?? new Tensor(new Float32Array(loss.size).fill(1), loss.shape);
  const leaves = new GradStore();
  if (loss.node === null) {
    leaves.set(loss, seed ? new Tensor(new Float32Array(seed.data), seed.shape) : seedGrad);
    return leaves;
  }
  const order = topoOrder(loss.node);
  const grads = new Map<Node | Tensor, Tensor>();
  const owned = new Set<Tensor>(); // gradients we allocated, safe to accumulate into in place
  grads.set(loss.node, seedGrad);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i];
      const g = grads.get(node);
      if (g === undefined) continue;
      grads.delete(node); // intermediate gradients are freed as soon as they are consumed
      // A backward may pass g itself on to several inputs (add), so g is no longer ours to write into.
      owned.delete(g);
      const inGrads = node.backward(g);
      node.inputs.forEach((target, k) => {
        const gi = inGrads[k];
        if (target === null || gi === null || gi === undefined) return;
        check(sameShape(gi.shape, node.shapes[k]), () => `internal: backward of ${node.op} returned shape ${fmtShape(gi.shape)} for an input of shape ${fmtShape(node.shapes[k])}`);
        const prev = grads.get(target);
        if (prev === undefined) {
          grads.set(target, gi);
        } else if (owned.has(prev)) {
          accumulate(prev, gi);
        } else {
          const sum = new Tensor(new Float32Array(prev.data.length), prev.shape);
          accumulate(sum, gi, prev); // prev + gi in one pass, not a copy of prev and then an add
          grads.set(target, sum);
          owned.add(sum);
        }
      });
    }
  });
  // What is left are the leaves' gradients. They must not share storage with each other or with the caller's
  // seed (add's backward returns its g to both inputs): optimizers and clipping may edit them in place.
  const taken = new Set<ArrayBufferLike>(seed ? [seed.data.buffer] : []);
  for (const [target, g] of grads) {
    if (!(target instanceof Tensor)) continue;
    if (taken.has(g.data.buffer)) leaves.set(target, new Tensor(new Float32Array(g.data), g.shape));
    else {
      taken.add(g.data.buffer);
      leaves.set(target, g);
    }
  }
  return leaves;
}

/** into = from + g (from: into itself unless given). */
function accumulate(into: Tensor, g: Tensor, from = into): void {
  const strides = new Int32Array(into.rank);
  let acc = 1;
  for (let d = into.rank - 1; d >= 0; d--) { strides[d] = acc; acc *= into.shape[d]; }
  backend().binary('add', from.data, strides, g.data, strides, Int32Array.from(into.shape), into.data);
}
