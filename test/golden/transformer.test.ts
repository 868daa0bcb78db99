/**
 * fqt's pre-norm transformer block (LayerNorm, multi-head attention with and without the causal mask, GELU-tanh MLP,
 * residuals) against PyTorch 1.13 (fixture transformer_block.json from tools/golden/gen.py): the output and the
 * gradients of the input and of every parameter, within atol 1e-5 + rtol 1e-4 (float32 storage, float64 sums; the
 * fixture is float64 rounded once).
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import { TransformerBlock } from '../../src/nn/transformer.js';
import { Rng } from '../../src/tensor/random.js';
import { grad } from '../../src/autograd/graph.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { assertClose } from '../helpers/approx.js';
import { loadFixture, type TensorJson, toTensor } from './fixtures.js';

interface BlockCase {
  causal: boolean; heads: number; hidden: number; x: TensorJson; params: Record<string, TensorJson>;
  y: TensorJson; gy: TensorJson; dx: TensorJson; grads: Record<string, TensorJson>;
}

const TOL = { atol: 1e-5, rtol: 1e-4 };

describe('golden: transformer block vs PyTorch', () => {
  for (const c of loadFixture<{ cases: BlockCase[] }>('transformer_block.json').cases) {
    it(`${c.causal ? 'causal' : 'non-causal'} block: output, dx and every parameter gradient`, () => {
      const d = c.x.shape[2];
      const block = new TransformerBlock(d, { heads: c.heads, causal: c.causal, hidden: c.hidden, ffn: 'gelu', norm: 'layer' }, new Rng(0));
      block.loadStateDict(new Map(Object.entries(c.params).map(([k, v]) => [k, toTensor(v)])));
      const x = new Tensor(Float32Array.from(c.x.data), c.x.shape, true);
      const y = block.forward(x);
      assertClose(y, c.y.data, TOL, 'y');
      const g = grad(sum(mul(y, toTensor(c.gy))));
      assertClose(g.get(x)!, c.dx.data, TOL, 'dx');
      for (const [name, p] of block.namedParameters()) assertClose(g.get(p)!, c.grads[name].data, TOL, `d ${name}`);
    });
  }
});
