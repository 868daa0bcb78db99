/**
 * Every op called with tensors of every rank 0..4 (and a few awkward sizes): each call either succeeds
 * or throws an FqtError — never a TypeError / RangeError from inside a kernel, and never silently
 * returns NaN garbage from out-of-range reads.
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as E from '../../src/ops/elementwise.js';
import { max, mean, sum, variance } from '../../src/ops/reduce.js';
import { concat, flatten, pad, permute, reshape, slice, transpose } from '../../src/ops/movement.js';
import { linear, linearRows, matmul } from '../../src/ops/matmul.js';
import { conv2d } from '../../src/ops/conv.js';
import { avgPool2d, globalAvgPool, maxPool2d } from '../../src/ops/pool.js';
import { batchNorm, dropout } from '../../src/ops/norm.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { FqtError } from '../../src/tensor/errors.js';
import { Rng } from '../../src/tensor/random.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { randn } from '../helpers/tensors.js';

const SHAPES: number[][] = [[], [3], [1], [2, 3], [3, 2], [2, 3, 4], [2, 3, 4, 4], [1, 3, 2, 2], [0, 3], [2, 3, 1, 5]];
const ts = SHAPES.map((s, i) => randn(s, i + 1));

type Op = [string, (a: Tensor, b: Tensor) => unknown];
const bnState = (c: number) => ({ runningMean: new Float32Array(c), runningVar: new Float32Array(c).fill(1), momentum: 0.1, eps: 1e-5 });
const OPS: Op[] = [
  ['add', E.add], ['sub', E.sub], ['mul', E.mul], ['div', E.div], ['maximum', E.maximum], ['prelu', E.prelu],
  ['sum', (a) => sum(a, 1)], ['mean', (a) => mean(a, [0, -1])], ['max', (a) => max(a, 2)], ['variance', (a) => variance(a, 3)],
  ['reshape', (a, b) => reshape(a, b.shape)], ['reshape -1', (a, b) => reshape(a, [-1, ...b.shape.slice(1)])],
  ['permute', (a, b) => permute(a, b.shape.map((_, i) => b.rank - 1 - i))], ['transpose', (a) => transpose(a)],
  ['slice', (a, b) => slice(a, b.shape.map(() => 1), b.shape)], ['pad', (a, b) => pad(a, b.shape.map((d) => [d % 2, 1] as [number, number]))],
  ['concat', (a, b) => concat([a, b], 1)], ['flatten', (a) => flatten(a, 2)],
  ['linear', (a, b) => linear(a, b)], ['linear+bias', (a, b) => linear(a, b, a)], ['linearRows', linearRows], ['matmul', matmul],
  ['conv2d', (a, b) => conv2d(a, b, null, { padding: 1 })], ['conv2d s2', (a, b) => conv2d(a, b, b, { stride: 2 })],
  ['maxPool2d', (a) => maxPool2d(a, 2)], ['avgPool2d', (a) => avgPool2d(a, 3, 2, 1)], ['globalAvgPool', (a) => globalAvgPool(a)],
  ['batchNorm train', (a, b) => batchNorm(a, b, b, bnState(b.size), true)],
  ['batchNorm eval', (a, b) => batchNorm(a, b, b, bnState(a.shape[1] ?? 1), false)],
  ['dropout', (a) => dropout(a, 0.5, true, new Rng(1))],
  ['crossEntropy', (a, b) => crossEntropy(a, Int32Array.from({ length: b.size }, (_, i) => i % 3))],
];

describe('bad input fails with FqtError', () => {
  for (const [name, op] of OPS) {
    it(name, () => {
      for (const a of ts) {
        for (const b of ts) {
          let out: unknown;
          try {
            out = op(a, b);
          } catch (err) {
            assert.ok(err instanceof FqtError, `${name}(${a.shape.join('×') || 'scalar'}, ${b.shape.join('×') || 'scalar'}) threw ${(err as Error).name}: ${(err as Error).message}`);
            continue;
          }
          const t = out as Tensor;
          // Success must mean a real result: random finite inputs give finite outputs for these ops
          // (div by a random normal is finite too), so a NaN means an out-of-range read. The mean or
          // variance of zero elements is NaN by definition (0/0, as in NumPy and PyTorch).
          if (name !== 'div' && a.size > 0) assert.ok(t.data.every(Number.isFinite), `${name}(${a.shape}, ${b.shape}) returned non-finite values`);
        }
      }
    });
  }
});
