/**
 * The random Hadamard transform (METHODS §8.6.1, quant/rounding.ts §5, quant/gemm/hadamard.ts): H·Hᵀ = I and
 * (XR)(WR)ᵀ = XWᵀ for blocks 16/32/128 (a tail of K mod b stays an identity block); a layer with every slot fp32 and
 * transforms on all three GEMMs reproduces the fp32 layer (values and both gradients, the forward's rotation undone
 * on the reused-codes backward GEMMs); signs are drawn again on every call; the recipe rule on 'forward' slots.
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { refBackend } from '../../src/backend/ref/index.js';
import { Tensor, parameter } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { grad } from '../../src/autograd/graph.js';
import { linearRows } from '../../src/ops/matmul.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { qgemmRows, type QGemmConfig } from '../../src/quant/gemm/index.js';
import { parseRecipe, type RecipeSlots } from '../../src/quant/recipe.js';
import { assertClose } from '../conformance/helpers.js';
import { assertFqtError } from '../helpers/errors.js';
import { normals } from './helpers.js';

const FP32: RecipeSlots = { forward: { x: 'fp32', w: 'fp32' }, gradInput: { dy: 'fp32', w: 'forward' }, gradWeight: { dy: 'fp32', x: 'forward' } };

function transform(x: Float32Array, rows: number, cols: number, block: number, signs: Float32Array, inverse: number): Float32Array {
  const out = new Float32Array(x.length);
  refBackend.hadamardTransform(x, rows, cols, block, signs, inverse, out);
  return out;
}

describe('Hadamard transform', () => {
  it('is orthogonal: inverse(forward(x)) = x, norms kept; the dense matrix satisfies R·Rᵀ = I', () => {
    for (const [cols, block] of [[64, 16], [96, 32], [128, 128], [40, 16], [8, 16]]) {
      const x = normals(cols, 3 * cols), signs = normals(cols + 1, cols).map((v) => (v < 0 ? -1 : 1));
      const y = transform(x, 3, cols, block, signs, 0);
      assertClose(transform(y, 3, cols, block, signs, 1), x, 1e-5, 1e-6, `round trip ${cols}/${block}`);
      const eye = new Float32Array(cols * cols);
      for (let i = 0; i < cols; i++) eye[i * cols + i] = 1;
      const R = transform(eye, cols, cols, block, signs, 0); // row i = e_i·R
      for (let i = 0; i < cols; i++) {
        for (let j = 0; j < cols; j++) {
          let d = 0;
          for (let k = 0; k < cols; k++) d += R[i * cols + k] * R[j * cols + k];
          assert.ok(Math.abs(d - (i === j ? 1 : 0)) < 1e-6, `R·Rᵀ[${i},${j}] = ${d} (${cols}/${block})`);
        }
      }
    }
  });
  it('leaves a GEMM unchanged: (X·R)(W·R)ᵀ = X·Wᵀ', () => {
    for (const block of [16, 32, 128]) {
      const k = 256, x = normals(1, 5 * k), w = normals(2, 7 * k), signs = normals(3, k).map((v) => (v < 0 ? -1 : 1));
      const xr = transform(x, 5, k, block, signs, 0), wr = transform(w, 7, k, block, signs, 0);
      const a = new Float32Array(35), b = new Float32Array(35);
      refBackend.sgemm(5, 7, k, xr, wr, a);
      refBackend.sgemm(5, 7, k, x, w, b);
      assertClose(a, b, 1e-5, 1e-4, `block ${block}`);
    }
  });
});

describe('Hadamard slots in the layer GEMMs', () => {
  const cfg = (hadamard: QGemmConfig['hadamard'], slots: RecipeSlots = FP32): QGemmConfig => ({ slots, backwardDraws: 'independent', rng: new Rng(4), hadamard });
  const lossOf = (y: Tensor) => sum(mul(y, new Tensor(normals(9, y.size), y.shape)));

  it('fp32 slots with transforms on all three GEMMs reproduce the fp32 layer (values, dX, dW)', () => {
    const fresh: RecipeSlots = { ...FP32, gradInput: { dy: 'fp32', w: 'fp32' }, gradWeight: { dy: 'fp32', x: 'fp32' } };
    for (const [slots, h] of [[FP32, { forward: 32 }], [fresh, { forward: 16, gradInput: 16, gradWeight: 16 }]] as const) {
      const x = parameter(normals(5, 48 * 64), [48, 64], 'x'), w = parameter(normals(6, 40 * 64), [40, 64], 'w');
      const yr = linearRows(x, w), yq = qgemmRows(x, w, cfg(h, slots));
      assertClose(yq.data, yr.data, 1e-4, 1e-4, 'Y');
      const gr = grad(lossOf(yr)), gq = grad(lossOf(yq));
      assertClose(gq.get(x)!.data, gr.get(x)!.data, 1e-4, 1e-4, `dX ${JSON.stringify(h)}`);
      assertClose(gq.get(w)!.data, gr.get(w)!.data, 1e-4, 1e-4, `dW ${JSON.stringify(h)}`);
    }
  });
  it('draws new signs on every call (the quantized codes of the same input change)', () => {
    const spec = { kind: 'mxfp4' as const, block: [1, 32] as [number, number], rounding: 'nearest' as const };
    const seen: string[] = [];
    const c: QGemmConfig = { ...cfg({ forward: 32 }, { ...FP32, forward: { x: spec, w: spec } }), trace: (_g, op, q) => { if (op === 'x') seen.push(q.q.codes.join(',')); } };
    const x = new Tensor(normals(7, 4 * 64), [4, 64]), w = new Tensor(normals(8, 8 * 64), [8, 64]);
    qgemmRows(x, w, c);
    qgemmRows(x, w, c);
    assert.equal(seen.length, 2);
    assert.notEqual(seen[0], seen[1]);
  });
  it("a backward GEMM with its own transform cannot reuse forward codes (a clear recipe error)", () => {
    assertFqtError(() => parseRecipe({ version: 1, label: 'h', hadamard: { gradInput: 16 } }), 'recipe.gradInput.w', "'forward'");
    assertFqtError(() => parseRecipe({ version: 1, label: 'h', hadamard: { forward: 24 } }), 'recipe.hadamard.forward', '16, 32, 64, 128');
    const ok = parseRecipe({ version: 1, label: 'h', hadamard: { gradWeight: 16 }, gradWeight: { x: 'fp32' } });
    assert.deepEqual(ok.hadamard, { gradWeight: 16 });
  });
});
