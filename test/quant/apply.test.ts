/** applyRecipe: GEMM layer discovery, first/last overrides, globs, the resolved table, conv geometry. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { linearRows } from '../../src/ops/matmul.js';
import { MLP } from '../../src/nn/models/mlp.js';
import { LeNet5 } from '../../src/nn/models/lenet.js';
import { GemmLayer } from '../../src/nn/layers.js';
import { applyRecipe, formatResolved, removeRecipe } from '../../src/quant/apply.js';
import { preset, recipeFromData } from '../../src/quant/presets.js';
import { normals } from './helpers.js';
import { forEachBackend } from '../helpers/backends.js';

const mlp = () => new MLP({ inChannels: 1, inputSize: 4, classes: 3 }, new Rng(1), [8, 6]);
const lenet = () => new LeNet5({ inChannels: 1, inputSize: 16, classes: 4 }, new Rng(2));

function gemmLayers(m: { namedModules(): [string, unknown][] }): [string, GemmLayer][] {
  return m.namedModules().filter((e): e is [string, GemmLayer] => e[1] instanceof GemmLayer);
}

test('default overrides keep the first and last GEMM layers on linearRows; statquant-compat quantizes all', () => {
  const m = mlp();
  const r = applyRecipe(m, preset('psq4'), { seed: 3 });
  assert.deepEqual(r.layers.map((l) => l.name), ['layers.1', 'layers.3', 'layers.5']);
  const [first, mid, last] = gemmLayers(m).map(([, l]) => l);
  assert.equal(first.gemm, linearRows);
  assert.equal(last.gemm, linearRows);
  assert.notEqual(mid.gemm, linearRows);
  assert.deepEqual(r.layers[0].sources, ['recipe', "overrides[0] '@first'"]);
  assert.equal(r.layers[0].gemms.forward.path, 'fp32');
  assert.equal(r.layers[1].gemms.forward.path, 'int8');
  assert.equal(r.layers[1].gemms.gradInput.path, 'int8');
  assert.equal(r.layers[1].gemms.gradInput.a, 'a4/sample/sr');
  assert.equal(r.layers[1].savedX, 'codes');
  assert.equal(r.label, 'psq4');
  assert.equal(r.seed, 3);
  const all = applyRecipe(m, preset('statquant-compat-psq4'));
  assert.ok(gemmLayers(m).every(([, l]) => l.gemm !== linearRows));
  assert.ok(all.layers.every((l) => l.gemms.forward.path === 'int8'));
  removeRecipe(m);
  assert.ok(gemmLayers(m).every(([, l]) => l.gemm === linearRows));
  JSON.parse(JSON.stringify(all)); // the table is plain JSON
});

test('name and glob overrides apply in order; an override that matches nothing is an error naming it', () => {
  const m = lenet();
  const recipe = recipeFromData({
    version: 1, extends: 'bhq5', overrides: [
      { match: 'classifier.*', gradInput: { dy: { kind: 'uniform', bits: 8, granularity: 'sample' } } },
      { match: 'classifier.5', fp32: true },
    ],
  });
  const r = applyRecipe(m, recipe);
  const byName = new Map(r.layers.map((l) => [l.name, l]));
  assert.equal(byName.get('features.0')!.gemms.gradInput.a, 'bhq5/sr');
  assert.equal(byName.get('classifier.1')!.gemms.gradInput.a, 'a8/sample/sr');
  assert.equal(byName.get('classifier.5')!.gemms.forward.path, 'fp32');
  assert.throws(() => applyRecipe(m, recipeFromData({ version: 1, overrides: [{ match: 'head.*', fp32: true }] })),
    /^FqtError: recipe\.overrides\[0\]\.match: 'head\.\*' matches no GEMM layer \(layers: features\.0, /);
});

forEachBackend('conv paths are provisional until the layer runs; sampleShape resolves them without touching the RNG or modes', () => {
  const m = lenet();
  const r0 = applyRecipe(m, preset('statquant-compat-psq4'));
  const conv = r0.layers[0];
  assert.equal(conv.rowsPerSample, null);
  assert.equal(conv.provisional, true);
  m.forward(new Tensor(normals(1, 2 * 256), [2, 1, 16, 16]));
  assert.equal(conv.rowsPerSample, 256);
  assert.equal(conv.provisional, false);

  const m2 = lenet();
  const rng = new Rng(9);
  const before = rng.state();
  const r = applyRecipe(m2, preset('statquant-compat-psq4'), { rng, sampleShape: [1, 16, 16] });
  assert.deepEqual(rng.state(), before);
  assert.ok(m2.training, 'training mode restored');
  assert.deepEqual(r.layers.map((l) => l.rowsPerSample), [256, 16, 1, 1, 1]);
  assert.ok(r.layers.every((l) => !l.provisional));
  assert.equal(r.layers[1].gemms.gradWeight.path, 'int8-blocked');
  const text = formatResolved(r);
  assert.match(text, /features\.3 Conv2d\[16×6×5×5\] rows\/sample 16;/);
  assert.match(text, /gradWeight int8-blocked a4\/feature\/sr × a8\/tensor\/rn \(fwd codes\)  \(fused conv kernel; K-blocks: one per output pixel \(the batch\)\)/);
});

forEachBackend('a model run with a recipe is reproducible from the seed', () => {
  const run = (seed: number) => {
    const m = mlp();
    applyRecipe(m, preset('statquant-compat-bhq4'), { seed });
    const y = m.forward(new Tensor(normals(4, 5 * 16), [5, 1, 4, 4]));
    return y.data;
  };
  assert.deepEqual(run(1), run(1));
});
