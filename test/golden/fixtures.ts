/**
 * Loads the committed PyTorch fixtures written by tools/golden/gen.py (test/golden/*.json). A fixture
 * tensor is {shape, data}; values are float32 numbers printed with 9 significant digits (exact).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Tensor } from '../../src/tensor/tensor.js';

export interface TensorJson {
  shape: number[];
  data: number[];
}

/** The fixture directory in the source tree (the tests run from dist/test/golden/). */
function fixtureDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'test', 'golden');
    if (existsSync(path.join(candidate, 'conv2d.json'))) return candidate;
    if (existsSync(path.join(dir, 'conv2d.json')) && !dir.includes(`${path.sep}dist${path.sep}`)) return dir;
    dir = path.dirname(dir);
  }
  throw new Error('cannot find test/golden/*.json (run /usr/bin/python3 tools/golden/gen.py once and commit the output)');
}

export function loadFixture<T>(name: string): T {
  return JSON.parse(readFileSync(fixturePath(name), 'utf8')) as T;
}

/** The path of a committed fixture file (JSON or binary). */
export function fixturePath(name: string): string {
  return path.join(fixtureDir(), name);
}

export function toTensor(t: TensorJson, requiresGrad = false): Tensor {
  return new Tensor(Float32Array.from(t.data), t.shape, requiresGrad);
}

/** A Float32Array of the fixture's values. */
export function f32(t: TensorJson): Float32Array {
  return Float32Array.from(t.data);
}
