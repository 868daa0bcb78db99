/**
 * Checks kernel arguments against their signature (backend/signatures.ts) before a kernel runs: argument count,
 * types, integer ranges, buffer lengths against the integer dimensions, and the index constraints. The TypeScript
 * twin of native/src/args.cc (the same grammar, the same messages), used by the reference backend that backend()
 * hands out. One generic function for every kernel: a new kernel needs one signature line, nothing else.
 */
import { FqtError } from '../tensor/errors.js';
import type { Backend, KernelName } from './backend.js';
import { KERNEL_SIGNATURES } from './signatures.js';

type ArrayKind = 'f32' | 'f64' | 'i32' | 'u32' | 'i8' | 'u8' | 'codes';
type Expr = { k: 'num'; v: number } | { k: 'var'; name: string } | { k: 'len'; name: string } | { k: 'elem'; name: string; index: number }
  | { k: 'op'; op: string; a: Expr; b: Expr } | { k: 'fn'; fn: string; args: Expr[] } | { k: 'arr'; fn: 'prod' | 'sum'; name: string };
type Arg = { name: string; text: string } & (
  | { t: 'int'; lo: number; hi: number }
  | { t: 'num'; lo: number; hi: number }
  | { t: 'str'; choices: string[] | null }
  | { t: 'array'; kind: ArrayKind; len: Expr | null; emptyOk: boolean });
type Relation = { op: string; a: Expr; b: Expr };
type Constraint = { t: 'rel'; any: Relation[]; text: string }
  | { t: 'in'; arr: string; lo: Expr; hi: Expr; text: string }
  | { t: 'view'; buf: string; off: Expr; strides: string; shape: string; text: string };
export interface Signature { args: Arg[]; constraints: Constraint[] }

const LIMIT = 2 ** 53;
const INT_MAX = 2 ** 31 - 1;
const ARRAY_TYPES: Record<ArrayKind, string> = {
  f32: 'Float32Array', f64: 'Float64Array', i32: 'Int32Array', u32: 'Uint32Array', i8: 'Int8Array', u8: 'Uint8Array', codes: 'Int8Array or Uint8Array',
};

// ---- parsing (once per kernel) ----

function parseExpr(src: string): Expr {
  let i = 0;
  const peek = (): string => src[i] ?? '';
  const fail = (): never => { throw new Error(`bad signature expression '${src}' at ${i}`); };
  const ident = (): string => {
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (!m) fail();
    i += m![0].length;
    return m![0];
  };
  const expect = (c: string): void => { if (src[i] !== c) fail(); i++; };
  const factor = (): Expr => {
    const c = peek();
    if (c === '(') { i++; const e = sum(); expect(')'); return e; }
    if (c === '#') { i++; return { k: 'len', name: ident() }; }
    if (/[0-9]/.test(c)) { const m = /^[0-9]+/.exec(src.slice(i))!; i += m[0].length; return { k: 'num', v: Number(m[0]) }; }
    const name = ident();
    if (peek() === '[') {
      i++;
      const m = /^[0-9]+/.exec(src.slice(i));
      if (!m) fail();
      i += m![0].length;
      expect(']');
      return { k: 'elem', name, index: Number(m![0]) };
    }
    if (peek() !== '(') return { k: 'var', name };
    i++;
    if (name === 'prod' || name === 'sum') { const arr = ident(); expect(')'); return { k: 'arr', fn: name, name: arr }; }
    const args = [sum()];
    while (peek() === ',') { i++; args.push(sum()); }
    expect(')');
    if ((name !== 'cdiv' && name !== 'min') || args.length !== 2) fail();
    return { k: 'fn', fn: name, args };
  };
  const product = (): Expr => {
    let e = factor();
    while (peek() === '*' || peek() === '/') { const op = src[i++]; e = { k: 'op', op, a: e, b: factor() }; }
    return e;
  };
  const sum = (): Expr => {
    let e = product();
    while (peek() === '+' || peek() === '-') { const op = src[i++]; e = { k: 'op', op, a: e, b: product() }; }
    return e;
  };
  const e = sum();
  if (i !== src.length) fail();
  return e;
}

function parseArg(text: string): Arg {
  const colon = text.indexOf(':');
  const name = text.slice(0, colon), type = text.slice(colon + 1);
  let m: RegExpExecArray | null;
  if (type === 'int') return { name, text, t: 'int', lo: 0, hi: INT_MAX };
  if (type === 'pos') return { name, text, t: 'int', lo: 1, hi: INT_MAX };
  if (type === 'u32') return { name, text, t: 'int', lo: 0, hi: 2 ** 32 - 1 };
  if ((m = /^(-?\d+)\.\.(-?\d+)$/.exec(type))) return { name, text, t: 'int', lo: Number(m[1]), hi: Number(m[2]) };
  if (type === 'num') return { name, text, t: 'num', lo: -Infinity, hi: Infinity };
  if ((m = /^num\((-?[\d.]+)\.\.(-?[\d.]+)\)$/.exec(type))) return { name, text, t: 'num', lo: Number(m[1]), hi: Number(m[2]) };
  if (type === 'str') return { name, text, t: 'str', choices: null };
  if ((m = /^(f32|f64|i32|u32|i8|u8|codes)(\?)?(?:\[(.+)\])?$/.exec(type))) {
    return { name, text, t: 'array', kind: m[1] as ArrayKind, emptyOk: m[2] === '?', len: m[3] ? parseExpr(m[3]) : null };
  }
  if (/^[A-Za-z0-9|]+$/.test(type)) return { name, text, t: 'str', choices: type.split('|') };
  throw new Error(`bad signature argument '${text}'`);
}

function parseConstraint(text: string): Constraint {
  let m: RegExpExecArray | null;
  if (/^\{.+\}$/.test(text)) {
    // {a<=b} or alternatives {a==b||c>=d}
    const any = text.slice(1, -1).split('||').map((r): Relation => {
      const rm = /^(.+?)(==|<=|>=|<|>)(.+)$/.exec(r);
      if (!rm) throw new Error(`bad signature constraint '${text}'`);
      return { op: rm[2], a: parseExpr(rm[1]), b: parseExpr(rm[3]) };
    });
    return { t: 'rel', any, text };
  }
  if ((m = /^@in\((\w+),(.+),(.+)\)$/.exec(text))) return { t: 'in', arr: m[1], lo: parseExpr(m[2]), hi: parseExpr(m[3]), text };
  if ((m = /^@view\((\w+),(.+),(\w+),(\w+)\)$/.exec(text))) return { t: 'view', buf: m[1], off: parseExpr(m[2]), strides: m[3], shape: m[4], text };
  throw new Error(`bad signature constraint '${text}'`);
}

export function parseSignature(sig: string): Signature {
  const out: Signature = { args: [], constraints: [] };
  for (const tok of sig.split(/\s+/).filter((s) => s.length > 0)) {
    if (tok.startsWith('{') || tok.startsWith('@')) out.constraints.push(parseConstraint(tok));
    else out.args.push(parseArg(tok));
  }
  return out;
}

// ---- checking (every call) ----

type Env = { ints: Map<string, number>; arrays: Map<string, ArrayLike<number>> };

function evaluate(e: Expr, env: Env, fail: (msg: string) => never): number {
  const ev = (x: Expr): number => {
    switch (x.k) {
      case 'num': return x.v;
      case 'var': return env.ints.get(x.name)!;
      case 'len': return env.arrays.get(x.name)!.length;
      case 'elem': {
        const a = env.arrays.get(x.name)!;
        return x.index < a.length ? a[x.index] : fail(`${x.name} has no element ${x.index}`);
      }
      case 'arr': {
        const a = env.arrays.get(x.name)!;
        let r = x.fn === 'prod' ? 1 : 0;
        for (let i = 0; i < a.length; i++) {
          r = x.fn === 'prod' ? r * a[i] : r + a[i];
          if (!(Math.abs(r) < LIMIT)) fail(`${x.fn}(${x.name}) is too large`);
        }
        return r;
      }
      case 'fn': {
        const [a, b] = x.args.map(ev);
        if (x.fn === 'min') return Math.min(a, b);
        if (b === 0) fail('division by zero');
        return Math.ceil(a / b);
      }
      case 'op': {
        const a = ev(x.a), b = ev(x.b);
        let r: number;
        if (x.op === '/') {
          if (b === 0) fail('division by zero');
          r = Math.trunc(a / b);
        } else r = x.op === '+' ? a + b : x.op === '-' ? a - b : a * b;
        if (!(Math.abs(r) < LIMIT)) fail(`the sizes overflow (${a} ${x.op} ${b})`);
        return r;
      }
    }
  };
  return ev(e);
}

function typeName(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'a plain array';
  return typeof v === 'object' ? (v.constructor?.name ?? 'object') : `${typeof v} ${JSON.stringify(v)}`;
}

function isArrayOf(v: unknown, kind: ArrayKind): v is ArrayLike<number> {
  switch (kind) {
    case 'f32': return v instanceof Float32Array;
    case 'f64': return v instanceof Float64Array;
    case 'i32': return v instanceof Int32Array;
    case 'u32': return v instanceof Uint32Array;
    case 'i8': return v instanceof Int8Array;
    case 'u8': return v instanceof Uint8Array;
    case 'codes': return v instanceof Int8Array || v instanceof Uint8Array;
  }
}

function checkConstraint(c: Constraint, env: Env, fail: (msg: string) => never): void {
  const ev = (e: Expr): number => evaluate(e, env, fail);
  if (c.t === 'rel') {
    const values = c.any.map((r) => [ev(r.a), ev(r.b)]);
    const holds = (r: Relation, [a, b]: number[]): boolean =>
      (r.op === '==' ? a === b : r.op === '<=' ? a <= b : r.op === '>=' ? a >= b : r.op === '<' ? a < b : a > b);
    if (!c.any.some((r, i) => holds(r, values[i]))) fail(`${c.text.slice(1, -1)} does not hold (${values.map((v) => v.join(' vs ')).join('; ')})`);
  } else if (c.t === 'in') {
    const a = env.arrays.get(c.arr)!, lo = ev(c.lo), hi = ev(c.hi);
    for (let i = 0; i < a.length; i++) {
      if (!(a[i] >= lo && a[i] < hi)) fail(`${c.arr}[${i}] = ${a[i]} is outside [${lo}, ${hi})`);
    }
  } else {
    const shape = env.arrays.get(c.shape)!, strides = env.arrays.get(c.strides)!, buf = env.arrays.get(c.buf)!;
    let lo = ev(c.off), hi = lo, empty = false;
    for (let d = 0; d < shape.length; d++) {
      if (shape[d] < 0) fail(`${c.shape}[${d}] = ${shape[d]} is negative`);
      if (shape[d] === 0) empty = true;
      const span = (shape[d] - 1) * strides[d];
      if (span < 0) lo += span; else hi += span;
    }
    if (!empty && (lo < 0 || hi >= buf.length)) fail(`${c.buf} is read at indices ${lo}..${hi}, outside its ${buf.length} elements`);
  }
}

/** Throws an FqtError naming the kernel, the argument and the rule when `args` do not satisfy `sig`. */
export function checkArgs(kernel: string, sig: Signature, args: ArrayLike<unknown>): void {
  const fail = (msg: string): never => { throw new FqtError(`${kernel}: ${msg}`); };
  if (args.length !== sig.args.length) fail(`expected ${sig.args.length} arguments (${sig.args.map((a) => a.name).join(', ')}), got ${args.length}`);
  const env: Env = { ints: new Map(), arrays: new Map() };
  sig.args.forEach((a, i) => {
    const v = args[i];
    const where = `argument ${i + 1} (${a.name})`;
    if (a.t === 'int' || a.t === 'num') {
      const ok = typeof v === 'number' && (a.t === 'num' || Number.isInteger(v)) && (a.lo === -Infinity || (v >= a.lo && v <= a.hi));
      if (!ok) fail(`${where} must be ${a.t === 'int' ? 'an integer' : 'a number'}${a.lo === -Infinity ? '' : ` in [${a.lo}, ${a.hi}]`}, got ${typeName(v)}`);
      if (a.t === 'int') env.ints.set(a.name, v as number);
    } else if (a.t === 'str') {
      if (typeof v !== 'string' || (a.choices !== null && !a.choices.includes(v))) fail(`${where} must be ${a.choices ? `one of ${a.choices.join(', ')}` : 'a string'}, got ${typeName(v)}`);
    } else {
      if (!isArrayOf(v, a.kind)) fail(`${where} must be a ${ARRAY_TYPES[a.kind]}, got ${typeName(v)}`);
      env.arrays.set(a.name, v as ArrayLike<number>);
    }
  });
  for (const a of sig.args) {
    if (a.t !== 'array' || a.len === null) continue;
    const have = env.arrays.get(a.name)!.length, need = evaluate(a.len, env, fail);
    if (have < need && !(a.emptyOk && have === 0)) fail(`${a.name} has ${have} elements, needs at least ${need} (${a.text.slice(a.text.indexOf('[') + 1, -1)})`);
  }
  for (const c of sig.constraints) checkConstraint(c, env, fail);
}

/** `b` with every kernel checking its arguments first (the reference backend as backend() hands it out). */
export function checkedBackend(b: Backend): Backend {
  const out = { ...b } as Record<string, unknown>;
  for (const kernel of Object.keys(KERNEL_SIGNATURES) as KernelName[]) {
    const impl = b[kernel] as (...args: unknown[]) => void;
    const sig = parseSignature(KERNEL_SIGNATURES[kernel]); // parsed once, when the backend is built
    out[kernel] = function checked(...args: unknown[]): void {
      checkArgs(kernel, sig, args);
      impl.apply(b, args);
    };
  }
  return out as unknown as Backend;
}
