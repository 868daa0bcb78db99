/**
 * METHODS §8.2.6 end to end on a small MLP and one fixed batch: the mean of K FQT backward passes converges to
 * the QAT gradient (z-test per parameter), and with gradient quantization off FQT equals QAT bit-exactly.
 */
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { grad, record } from '../../src/autograd/graph.js';
import { noGrad } from '../../src/autograd/mode.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { gemmNT, transpose2d } from '../../src/ops/matmul.js';
import { MLP } from '../../src/nn/models/mlp.js';
import { LeNet5 } from '../../src/nn/models/lenet.js';
import { GemmLayer } from '../../src/nn/layers.js';
import { applyRecipe } from '../../src/quant/apply.js';
import { preset } from '../../src/quant/presets.js';
import { qatOf, type RecipeSlots } from '../../src/quant/recipe.js';
import { qgemm } from '../../src/quant/gemm/index.js';
import { dequantize, groupingOf, quantizeMatrix } from '../../src/quant/qtensor.js';
import type { UniformSpec } from '../../src/quant/spec.js';
import { assertBitEqual, assertUnbiased, normals, Welford, zTest } from '../quant/helpers.js';
import { forEachBackend } from '../helpers/backends.js';

const BATCH = 16;
const makeModel = () => new MLP({ inChannels: 1, inputSize: 4, classes: 5 }, new Rng(21), [24, 16]);
const input = new Tensor(normals(22, BATCH * 16), [BATCH, 1, 4, 4]);
const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 7) % 5);

function flatGrads(model: MLP, loss: Tensor): Float32Array {
  const g = grad(loss);
  const parts = model.parameters().map((p) => g.get(p)?.data ?? new Float32Array(p.size));
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/**
 * Allowances of the network z-tests, relative to each parameter tensor's largest QAT gradient m:
 * - floor 1e-6·m: the int8 GEMMs round differently from QAT's fp32 GEMMs; that does not average out with K;
 * - minSd 1e-6·m / tol 1e-5·m: elements that (almost) never moved in K draws are rare-event elements, e.g. an
 *   exact zero on a non-aligned grid sits at code 0 = −1e-8 and rounds up with p ≈ 1e-5 (METHODS §8 "skewed
 *   Bernoulli"); they must match QAT to 1e-5·m and are not z-tested.
 */
function fqtTolerances(params: readonly Tensor[], qat: Float32Array) {
  const scale = new Float64Array(qat.length);
  let o = 0;
  for (const p of params) {
    let m = 0;
    for (let i = o; i < o + p.size; i++) m = Math.max(m, Math.abs(qat[i]));
    scale.fill(m, o, o + p.size);
    o += p.size;
  }
  return { floor: (i: number) => 1e-6 * scale[i], minSd: (i: number) => 1e-6 * scale[i], tol: (i: number) => 1e-5 * scale[i] };
}

forEachBackend('mean of K FQT gradients → QAT gradient (z-test per parameter), all layers quantized', { tiers: 'default' }, (t) => {
  for (const name of ['statquant-compat-psq4', 'statquant-compat-bhq4', 'statquant-compat-ptq5'] as const) {
    const recipe = preset(name);
    const model = makeModel();
    applyRecipe(model, qatOf(recipe), { seed: 1 });
    const qat = flatGrads(model, crossEntropy(model.forward(input), labels));
    applyRecipe(model, recipe, { seed: 2 });
    const loss = crossEntropy(model.forward(input), labels); // one forward, K backward passes
    const K = 200;
    const w = new Welford(qat.length);
    for (let k = 0; k < K; k++) w.add(flatGrads(model, loss));
    const r = zTest(w, qat, fqtTolerances(model.parameters(), qat));
    t.diagnostic(`${name}: mean z² = ${r.meanZ2.toFixed(3)}, max |z| = ${r.maxZ.toFixed(2)} (< ${r.maxBound.toFixed(2)}) over ${r.tested} parameters`);
    assertUnbiased(r, name);
    assert.ok(r.tested > qat.length / 2, `${name}: most parameters are noisy under FQT`);
  }
});

forEachBackend('conv net (LeNet, all layers quantized): per-sample BHQ over H·W rows and per-(column, pixel) grad-weight stay unbiased', { tiers: 'default' }, (t) => {
  const model = new LeNet5({ inChannels: 1, inputSize: 12, classes: 3 }, new Rng(31));
  const x = new Tensor(normals(32, 8 * 144), [8, 1, 12, 12]);
  const y = Int32Array.from({ length: 8 }, (_, i) => i % 3);
  const recipe = preset('statquant-compat-bhq4');
  applyRecipe(model, qatOf(recipe), { seed: 1 });
  const params = () => model.parameters();
  const flat = (loss: Tensor) => {
    const g = grad(loss);
    return Float32Array.from(params().flatMap((p) => Array.from(g.get(p)?.data ?? new Float32Array(p.size))));
  };
  const qat = flat(crossEntropy(model.forward(x), y));
  const resolved = applyRecipe(model, recipe, { seed: 4 });
  const loss = crossEntropy(model.forward(x), y);
  assert.equal(resolved.layers[1].gemms.gradInput.path, 'int8', 'BHQ grad-input runs on int8 codes of T·dY');
  assert.equal(resolved.layers[1].gemms.gradWeight.path, 'int8-blocked', 'per-(column, pixel) dY: one K-block per output pixel in the fused kernel');
  const K = 200;
  const w = new Welford(qat.length);
  for (let k = 0; k < K; k++) w.add(flat(loss));
  const r = zTest(w, qat, fqtTolerances(params(), qat));
  t.diagnostic(`LeNet sqc-bhq4: mean z² = ${r.meanZ2.toFixed(3)}, max |z| = ${r.maxZ.toFixed(2)} (< ${r.maxBound.toFixed(2)}) over ${r.tested} parameters`);
  assertUnbiased(r, 'LeNet sqc-bhq4');
});

/** Independent QAT reference layer: the same forward value, then exact fp32 GEMMs on dequantized forward operands. */
function qatReferenceGemm(slots: RecipeSlots) {
  return (x: Tensor, w: Tensor): Tensor => {
    const y = noGrad(() => qgemm(x, w, { slots, backwardDraws: 'independent', rng: new Rng(0) }));
    const fq = (spec: RecipeSlots['forward']['x'], t: Tensor): Tensor => {
      if (spec === 'fp32') return t;
      const s = spec as UniformSpec;
      const [r, c] = t.shape;
      return new Tensor(dequantize(quantizeMatrix(t.data, r, c, { format: s.format, bits: s.bits, rounding: s.rounding, grouping: groupingOf(s.granularity, r, c, 1) })), t.shape);
    };
    const xq = fq(slots.forward.x, x), wq = fq(slots.forward.w, w);
    return record(new Tensor(y.data, y.shape), 'qatReference', [x, w], (g) => [
      x.requiresGrad ? gemmNT(g, transpose2d(wq)) : null,
      gemmNT(transpose2d(g), transpose2d(xq)),
    ]);
  };
}

forEachBackend('gradient quantization off (qatOf) ⇒ FQT gradient equals an independent QAT reference bit-exactly', () => {
  for (const name of ['statquant-compat-bhq4', 'psq5'] as const) {
    const recipe = preset(name);
    const a = makeModel(), b = makeModel();
    const resolved = applyRecipe(a, qatOf(recipe), { seed: 3 });
    const layers = b.namedModules().filter((e): e is [string, GemmLayer] => e[1] instanceof GemmLayer);
    layers.forEach(([lname, layer]) => { layer.gemm = qatReferenceGemm(resolved.layers.find((l) => l.name === lname)!.slots); });
    const ga = flatGrads(a, crossEntropy(a.forward(input), labels));
    const gb = flatGrads(b, crossEntropy(b.forward(input), labels));
    assertBitEqual(ga, gb, `${name} with gradient quantization off`);
  }
});

forEachBackend('same seed ⇒ bit-identical FQT gradients; a different seed ⇒ different ones', () => {
  const run = (seed: number) => {
    const m = makeModel();
    applyRecipe(m, preset('statquant-compat-bhq4'), { seed });
    return flatGrads(m, crossEntropy(m.forward(input), labels));
  };
  assertBitEqual(run(7), run(7), 'same seed');
  assert.notDeepEqual(run(7), run(8));
});
