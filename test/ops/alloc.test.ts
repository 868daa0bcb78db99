/**
 * ops/util `uninit`: the non-zero-filled allocation used for kernel outputs that are overwritten entirely. It must
 * own its memory (a view into Node's shared Buffer pool slab would let two tensors alias), and the ops that use it
 * must not depend on the initial contents: after NaN-filled blocks of the output sizes are freed (so that malloc
 * hands them out again), the same computation gives bit-identical results.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { uninit } from '../../src/ops/util.js';
import { add, batchNorm, conv2d, mul, relu, sum } from '../../src/ops/index.js';
import { grad } from '../../src/autograd/graph.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

function randn(seed: number, shape: number[]): Tensor {
  const t = new Tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  new Rng(seed).fillNormal(t.data);
  return t;
}

describe('uninit', () => {
  it('has the shape, size and an ArrayBuffer of its own (no pooled slab) at every size', () => {
    for (const shape of [[0], [3], [4095], [4096], [2, 3, 40, 40], [1 << 20]]) {
      const t = uninit(shape);
      const n = shape.reduce((a, b) => a * b, 1);
      assert.deepEqual(t.shape, shape);
      assert.equal(t.data.length, n);
      assert.equal(t.data.byteOffset, 0, `byteOffset for [${shape}]`);
      assert.equal(t.data.buffer.byteLength, 4 * n, `buffer of [${shape}] is exactly its own`);
    }
    const a = uninit([8192]), b = uninit([8192]);
    a.data.fill(1);
    b.data.fill(2);
    assert.equal(a.data[8191], 1, 'two uninit tensors do not alias');
  });

  it('ops writing uninit outputs give identical results when the recycled memory holds NaN', (t) => {
    // Sizes ≥ 4096 floats, so every op output below is an uninit allocation.
    const shapes = { x: [4, 3, 24, 24], y: [4, 5, 24, 24], w: [5, 3, 3, 3] };
    const run = () => {
      const x = randn(1, shapes.x), w = randn(2, shapes.w), gamma = randn(3, [5]), beta = randn(4, [5]);
      for (const p of [x, w, gamma, beta]) p.requiresGrad = true;
      const state = { runningMean: new Float32Array(5), runningVar: new Float32Array(5).fill(1), momentum: 0.1, eps: 1e-5 };
      const h = relu(batchNorm(conv2d(x, w, null, { padding: 1 }), gamma, beta, state, true));
      const loss = sum(mul(add(h, h), h));
      const g = grad(loss);
      return [h.data, ...[x, w, gamma, beta].map((p) => g.get(p)!.data)].map((a) => Float32Array.from(a));
    };
    const clean = run();
    // Free NaN-filled blocks of exactly the output sizes so that malloc hands them out again.
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const sizes = [shapes.x, shapes.y].map((s) => s.reduce((a, b) => a * b, 1));
    const poison = () => {
      let blocks: Buffer[] | null = [];
      for (let r = 0; r < 12; r++) for (const n of sizes) { const b = Buffer.allocUnsafeSlow(4 * n); new Float32Array(b.buffer).fill(NaN); blocks.push(b); }
      blocks = null;
      gc();
    };
    poison();
    const probe = uninit(shapes.y);
    if (!probe.data.some(Number.isNaN)) t.diagnostic('the allocator did not recycle a poisoned block here: the check below is weaker');
    for (let r = 0; r < 3; r++) {
      poison();
      const again = run();
      for (let i = 0; i < clean.length; i++) assert.deepEqual(again[i], clean[i], `output ${i}, run ${r}`);
    }
  });
});
