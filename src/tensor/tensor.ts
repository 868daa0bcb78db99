import { check } from './errors.js';
import { assertValidShape, fmtShape, type Shape, shapeSize } from './shape.js';

// The autograd tape's types live beside Tensor, which links to its Node (one module, no import loop);
// autograd/graph.ts records and walks the tape.

/** Returns one gradient (or null: no gradient flows) per input, each with that input's shape. */
export type BackwardFn = (g: Tensor) => (Tensor | null)[];

/**
 * Where an input's gradient goes: the Node that produced it (an intermediate), the tensor itself (a leaf that
 * requires a gradient: a parameter or an input), or null (no gradient flows to it).
 */
export type GradTarget = Node | Tensor | null;

/**
 * The tape keeps what routes gradients, never an intermediate input's values: an intermediate tensor stays in
 * memory only while something else references it (for example a backward closure that needs it). So an op
 * whose backward needs only a compressed copy of an input (qgemm keeps int8 codes) lets the fp32 values go.
 */
export interface Node {
  readonly op: string;
  readonly inputs: readonly GradTarget[];
  /** Shapes of the inputs (checked against the gradients the backward returns). */
  readonly shapes: readonly Shape[];
  readonly backward: BackwardFn;
}

/**
 * A float32 tensor: a shape and a contiguous row-major Float32Array, owned by JS and freed by the GC
 * (DESIGN.md "Rules that hold everywhere"). `node` links it into the autograd tape when it was produced
 * by a differentiable op from inputs that require gradients.
 */
export class Tensor {
  readonly shape: Shape;
  data: Float32Array;
  requiresGrad: boolean;
  node: Node | null = null;
  /** Optional name (parameters get their state-dict name), used in error messages. */
  name: string | undefined;

  constructor(data: Float32Array, shape: Shape, requiresGrad = false) {
    // Kernels read `data` as raw float32 memory (native code trusts its length): nothing else may get in.
    check(data instanceof Float32Array, () => `tensor data must be a Float32Array, got ${describeValue(data)} (use tensor(values, shape) to convert)`);
    check(Array.isArray(shape), () => `tensor shape must be an array of non-negative integers, got ${describeValue(shape)}`);
    assertValidShape(shape);
    check(data.length === shapeSize(shape), () => `tensor data has ${data.length} elements but shape ${fmtShape(shape)} needs ${shapeSize(shape)}`);
    this.shape = Object.freeze([...shape]);
    this.data = data;
    this.requiresGrad = requiresGrad;
  }

  get size(): number { return this.data.length; }

  get rank(): number { return this.shape.length; }

  toString(): string { return `Tensor${fmtShape(this.shape)}${this.name ? ` '${this.name}'` : ''}`; }

  /** The single value of a one-element tensor. */
  item(): number {
    check(this.data.length === 1, () => `item() needs a one-element tensor, got shape ${fmtShape(this.shape)}`);
    return this.data[0];
  }

  toArray(): number[] { return Array.from(this.data); }
}

/** 'Float64Array', 'a plain array', 'null', 'string' ... for error messages about a value of the wrong type. */
function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'a plain array';
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : typeof v;
}

export function tensor(values: ArrayLike<number>, shape?: Shape): Tensor {
  const data = Float32Array.from(values);
  return new Tensor(data, shape ?? [data.length]);
}

export function zeros(shape: Shape): Tensor {
  assertValidShape(shape);
  return new Tensor(new Float32Array(shapeSize(shape)), shape);
}

export function full(shape: Shape, value: number): Tensor {
  assertValidShape(shape);
  return new Tensor(new Float32Array(shapeSize(shape)).fill(value), shape);
}

export function scalar(value: number): Tensor {
  return new Tensor(Float32Array.of(value), []);
}

/** A trainable leaf tensor. */
export function parameter(data: Float32Array, shape: Shape, name?: string): Tensor {
  const t = new Tensor(data, shape, true);
  t.name = name;
  return t;
}
