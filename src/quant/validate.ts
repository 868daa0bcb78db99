/**
 * Small validators for recipe / spec data. Every failure is an FqtError whose message starts with the key
 * path (e.g. `recipe.gradInput.dy.bits: must be an integer from 1 to 8, got 9`).
 */
import { FqtError } from '../tensor/errors.js';

export function fail(path: string, message: string): never {
  throw new FqtError(`${path}: ${message}`);
}

export function show(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function expectObject(v: unknown, path: string): Record<string, unknown> {
  if (!isPlainObject(v)) fail(path, `must be an object, got ${show(v)}`);
  return v;
}

/** Reject keys outside `allowed`, naming the first unknown key and the valid ones. */
export function checkKeys(obj: Record<string, unknown>, allowed: readonly string[], path: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) {
      fail(`${path}.${k}`, `unknown key (valid: ${allowed.length ? allowed.join(', ') : 'none'})`);
    }
  }
}

export function expectInt(v: unknown, path: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    fail(path, `must be an integer from ${lo} to ${hi}, got ${show(v)}`);
  }
  return v;
}

export function expectOneOf<T extends string>(v: unknown, path: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !values.includes(v as T)) fail(path, `must be one of ${values.map((s) => `'${s}'`).join(', ')}, got ${show(v)}`);
  return v as T;
}

export function expectString(v: unknown, path: string, pattern?: RegExp, what = 'a string'): string {
  if (typeof v !== 'string' || (pattern && !pattern.test(v))) fail(path, `must be ${what}, got ${show(v)}`);
  return v;
}
