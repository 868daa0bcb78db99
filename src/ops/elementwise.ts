/** Elementwise ops with NumPy broadcasting; each backward sits next to its forward. */
import { backend } from '../backend/index.js';
import type { UnaryOp } from '../backend/backend.js';
import { binary as binaryRaw } from './binary-raw.js';
import { record } from '../autograd/graph.js';
import { Tensor, scalar } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { sumToShape, uninit } from './util.js';

type Operand = Tensor | number;
const asTensor = (x: Operand): Tensor => (typeof x === 'number' ? scalar(x) : x);

function unaryRaw(op: UnaryOp, x: Tensor, p0 = 0, p1 = 0): Tensor {
  const out = uninit(x.shape); // unary writes every element
  backend().unary(op, x.data, out.data, p0, p1);
  return out;
}

// Backward closures capture shapes, or the operand values they read, never a whole input tensor they do not
// read: a closure keeps whatever it captures alive until the backward pass (the tape itself keeps no values).
export function add(a: Operand, b: Operand): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const sa = ta.shape, sb = tb.shape;
  return record(binaryRaw('add', ta, tb, 'add'), 'add', [ta, tb], (g) => [sumToShape(g, sa), sumToShape(g, sb)]);
}

export function sub(a: Operand, b: Operand): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const sa = ta.shape, sb = tb.shape;
  return record(binaryRaw('sub', ta, tb, 'sub'), 'sub', [ta, tb], (g) => [sumToShape(g, sa), sumToShape(neg(g), sb)]);
}

export function mul(a: Operand, b: Operand): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const sa = ta.shape, sb = tb.shape;
  const bForA = ta.requiresGrad ? tb : null, aForB = tb.requiresGrad ? ta : null;
  return record(binaryRaw('mul', ta, tb, 'mul'), 'mul', [ta, tb], (g) => [
    bForA ? sumToShape(binaryRaw('mul', g, bForA, 'mul'), sa) : null,
    aForB ? sumToShape(binaryRaw('mul', g, aForB, 'mul'), sb) : null,
  ]);
}

export function div(a: Operand, b: Operand): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const out = binaryRaw('div', ta, tb, 'div');
  return record(out, 'div', [ta, tb], (g) => [
    ta.requiresGrad ? sumToShape(binaryRaw('div', g, tb, 'div'), ta.shape) : null,
    // d(a/b)/db = −(a/b)/b
    tb.requiresGrad ? sumToShape(neg(binaryRaw('div', binaryRaw('mul', g, out, 'div'), tb, 'div')), tb.shape) : null,
  ]);
}

export function maximum(a: Operand, b: Operand): Tensor {
  const ta = asTensor(a), tb = asTensor(b);
  const out = binaryRaw('max', ta, tb, 'maximum');
  // Ties send the gradient to `a` (as a mask a ≥ b).
  return record(out, 'maximum', [ta, tb], (g) => {
    const takeA = binaryRaw('eq', out, ta, 'maximum');
    const ga = binaryRaw('mul', g, takeA, 'maximum');
    return [sumToShape(ga, ta.shape), sumToShape(binaryRaw('sub', g, ga, 'maximum'), tb.shape)];
  });
}

/** An elementwise op whose backward needs at most its input x. */
function unaryOp(op: UnaryOp, x: Tensor, back: (g: Tensor) => Tensor, p0 = 0, p1 = 0): Tensor {
  const out = unaryRaw(op, x, p0, p1);
  return record(out, op, [x], (g) => [back(g)]);
}

/** An elementwise op whose backward reads its output (the closure keeps it alive; the other ops' closures do not). */
function unaryOpOfOutput(op: UnaryOp, x: Tensor, back: (g: Tensor, out: Tensor) => Tensor): Tensor {
  const out = unaryRaw(op, x, 0, 0);
  return record(out, op, [x], (g) => [back(g, out)]);
}

export const neg = (x: Tensor): Tensor => unaryOp('neg', x, (g) => neg(g));
export const exp = (x: Tensor): Tensor => unaryOpOfOutput('exp', x, (g, out) => binaryRaw('mul', g, out, 'exp'));
export const log = (x: Tensor): Tensor => unaryOp('log', x, (g) => binaryRaw('div', g, x, 'log'));
export const sqrt = (x: Tensor): Tensor => unaryOpOfOutput('sqrt', x, (g, out) => binaryRaw('div', unaryRaw('scale', g, 0.5), out, 'sqrt'));
export const square = (x: Tensor): Tensor => unaryOp('square', x, (g) => binaryRaw('mul', g, unaryRaw('scale', x, 2), 'square'));
export const abs = (x: Tensor): Tensor =>
  unaryOp('abs', x, (g) => binaryRaw('mul', g, binaryRaw('sub', unaryRaw('step', x), unaryRaw('step', unaryRaw('neg', x)), 'abs'), 'abs'));

/**
 * max(x, 0). The backward keeps a 1-bit mask (x > 0), not x or the output: an fp32 activation stays alive only
 * while the next op needs it (the fused fp32 conv keeps it, a quantized conv keeps its int8 codes instead).
 */
export function relu(x: Tensor): Tensor {
  const out = uninit(x.shape), mask = new Uint32Array((x.size + 31) >>> 5); // 1 bit per element; both written in full
  backend().reluMasked(x.data, out.data, mask);
  const shape = x.shape;
  return record(out, 'relu', [x], (g) => {
    const dx = uninit(shape);
    backend().maskBits(1, g.size, g.data, mask, dx.data);
    return [dx];
  });
}
export const scale = (x: Tensor, s: number): Tensor => unaryOp('scale', x, (g) => unaryRaw('scale', g, s), s);
export const addScalar = (x: Tensor, s: number): Tensor => unaryOp('addScalar', x, (g) => g, s);

export function powScalar(x: Tensor, p: number): Tensor {
  return unaryOp('powScalar', x, (g) => binaryRaw('mul', g, unaryRaw('scale', unaryRaw('powScalar', x, p - 1), p), 'pow'), p);
}

/** clamp(x, lo, hi); the gradient passes where lo < x < hi. */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  check(!(lo > hi), () => `clamp: lower bound ${lo} exceeds upper bound ${hi}`);
  return unaryOp('clamp', x, (g) => binaryRaw('mul', g, unaryRaw('insideMask', x, lo, hi), 'clamp'), lo, hi);
}

/**
 * PReLU: y = x where x > 0, else a·x; `a` has one value, or one per channel (axis 1 of x). One fused kernel each way
 * (backend preluForward / preluBackward); the backward keeps only x.
 */
export function prelu(x: Tensor, a: Tensor): Tensor {
  check(a.rank === 1 && (a.size === 1 || (x.rank >= 2 && a.size === x.shape[1])),
    () => `prelu: slope must have 1 or ${x.shape[1] ?? '?'} (channel) values, got shape [${a.shape.join(', ')}]`);
  const [n, c] = a.size === 1 ? [1, 1] : [x.shape[0], x.shape[1]];
  const hw = n * c === 0 ? 0 : x.size / (n * c);
  const out = uninit(x.shape); // both kernels write every element
  backend().preluForward(x.data, n, c, hw, a.data, out.data);
  return record(out, 'prelu', [x, a], (g) => {
    const dx = uninit(x.shape), da = new Float32Array(a.size);
    backend().preluBackward(g.data, x.data, n, c, hw, a.data, dx.data, da);
    return [dx, a.requiresGrad ? new Tensor(da, a.shape) : null];
  });
}
