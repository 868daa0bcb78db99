/**
 * Transformer ops: finite-difference gradient checks (test/helpers/gradcheck.ts) and hand-computed values of
 * LayerNorm / RMSNorm, softmax with and without a causal mask, GELU / SiLU and the embedding lookup.
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bmm, embedding, gelu, layerNorm, rmsNorm, silu, softmax } from '../../src/ops/transformer.js';
import { Tensor, tensor } from '../../src/tensor/tensor.js';
import { grad } from '../../src/autograd/graph.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { gradCheck } from '../helpers/gradcheck.js';
import { randn } from '../helpers/tensors.js';
import { assertClose } from '../conformance/helpers.js';

describe('transformer ops: values', () => {
  it('layerNorm and rmsNorm of a hand-computed row', () => {
    const x = tensor([1, 2, 3, 6], [1, 4]); // mean 3, var 3.5
    const y = layerNorm(x, tensor([1, 1, 2, 1]), tensor([0, 0, 0, 1]), 1e-12);
    const s = Math.sqrt(3.5);
    assertClose(y.data, Float32Array.from([-2 / s, -1 / s, 0, 3 / s + 1]), 1e-6, 1e-7, 'layerNorm');
    const r = rmsNorm(x, tensor([1, 1, 1, 1]), 1e-12); // mean(x²) = 50/4
    assertClose(r.data, Float32Array.from([1, 2, 3, 6].map((v) => v / Math.sqrt(12.5))), 1e-6, 1e-7, 'rmsNorm');
  });

  it('softmax rows sum to 1; the causal mask zeroes the future exactly', () => {
    const x = randn([2, 3, 3], 5);
    const p = softmax(x, true);
    for (let r = 0; r < 6; r++) {
      const row = p.data.subarray(r * 3, r * 3 + 3);
      assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6);
      for (let c = (r % 3) + 1; c < 3; c++) assert.equal(row[c], 0);
    }
    assert.equal(p.data[0], 1); // the first query sees only itself
    const q = softmax(tensor([0, Math.log(3)], [1, 2]));
    assertClose(q.data, Float32Array.from([0.25, 0.75]), 1e-6, 0, 'softmax');
    assert.throws(() => softmax(randn([2, 3], 1), true), /square/);
  });

  it('gelu (tanh) and silu at hand-computed points', () => {
    const x = tensor([-2, 0, 1, 3]);
    const g = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
    assertClose(gelu(x).data, Float32Array.from([-2, 0, 1, 3].map(g)), 1e-6, 1e-7, 'gelu');
    assertClose(silu(x).data, Float32Array.from([-2, 0, 1, 3].map((v) => v / (1 + Math.exp(-v)))), 1e-6, 1e-7, 'silu');
  });

  it('embedding gathers rows and scatter-adds repeated ids', () => {
    const table = new Tensor(Float32Array.from([0, 1, 10, 11, 20, 21]), [3, 2], true);
    const y = embedding(Int32Array.from([2, 0, 2]), [3], table);
    assert.deepEqual([...y.data], [20, 21, 0, 1, 20, 21]);
    const g = grad(sum(mul(y, tensor([1, 2, 3, 4, 5, 6], [3, 2])))).get(table)!;
    assert.deepEqual([...g.data], [3, 4, 0, 0, 6, 8]);
    assert.throws(() => embedding(Int32Array.from([3]), [1], table), /outside \[0, 3\)/);
  });
});

describe('gradcheck: transformer ops', () => {
  it('layerNorm, rmsNorm (input, weight, bias)', () => {
    gradCheck('layerNorm', (x, g, b) => layerNorm(x, g, b), [randn([3, 5], 1), randn([5], 2), randn([5], 3)]);
    gradCheck('layerNorm 3-D', (x, g, b) => layerNorm(x, g, b), [randn([2, 2, 4], 4), randn([4], 5), randn([4], 6)]);
    gradCheck('rmsNorm', (x, g) => rmsNorm(x, g), [randn([3, 6], 7), randn([6], 8)]);
  });
  it('gelu, silu', () => {
    gradCheck('gelu', gelu, [randn([4, 5], 9, 2)]);
    gradCheck('silu', silu, [randn([4, 5], 10, 2)]);
  });
  it('softmax, causal softmax', () => {
    gradCheck('softmax', (x) => softmax(x), [randn([3, 4], 11)]);
    gradCheck('causal softmax', (x) => softmax(x, true), [randn([2, 4, 4], 12)]);
  });
  it('bmm (both operands)', () => {
    gradCheck('bmm', bmm, [randn([3, 2, 4], 13), randn([3, 5, 4], 14)]);
  });
  it('embedding (table)', () => {
    const ids = Int32Array.from([1, 3, 1, 0, 2]);
    gradCheck('embedding', (t) => embedding(ids, [5], t), [randn([4, 3], 15)]);
  });
});
