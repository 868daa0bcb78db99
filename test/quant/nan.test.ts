/**
 * NaN semantics of the quantized layers (issue 18): a NaN input must not be quantized into a finite code and vanish.
 * Codes are integers and cannot hold NaN, so the NaN reaches the output through the scale of its group (min/max or
 * moment statistics propagate NaN, METHODS §0.3 / quant/rounding.ts §2): the quantized GEMM's output is NaN, as an
 * fp32 GEMM's would be. Checked for every preset, forward (NaN in x) and backward (NaN in the upstream gradient),
 * on the reference backend and on native (when built).
 */
import assert from 'node:assert/strict';
import { Tensor } from '../../src/tensor/tensor.js';
import { Rng } from '../../src/tensor/random.js';
import { grad } from '../../src/autograd/graph.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { createModel } from '../../src/nn/models/index.js';
import { applyRecipe, preset, presetNames } from '../../src/quant/index.js';
import { normals } from './helpers.js';
import { forEachBackend } from '../helpers/backends.js';

const hasNaN = (a: Float32Array): boolean => a.some((v) => Number.isNaN(v));

for (const name of presetNames().filter((n) => n !== 'fp32')) {
  forEachBackend(`recipe ${name}: a NaN input or gradient gives a NaN output, never a finite one`, { tiers: 'default' }, () => {
    const model = createModel('lenet', { inChannels: 1, inputSize: 12, classes: 3 }, new Rng(1));
    applyRecipe(model, preset(name), { rng: new Rng(2), sampleShape: [1, 12, 12] });
    model.train();
    const xs = normals(3, 4 * 144);
    xs[5] = NaN;
    const y = model.forward(new Tensor(xs, [4, 1, 12, 12]));
    assert.ok(hasNaN(y.data), `${name}: forward of a NaN input is finite`);

    const clean = model.forward(new Tensor(normals(3, 4 * 144), [4, 1, 12, 12]));
    const r = normals(4, clean.size);
    r[1] = NaN;
    const g = grad(sum(mul(clean, new Tensor(r, clean.shape))));
    const first = model.namedParameters()[0];
    assert.ok(hasNaN(g.get(first[1])!.data), `${name}: a NaN upstream gradient gives a finite gradient of ${first[0]}`);
  });
}
