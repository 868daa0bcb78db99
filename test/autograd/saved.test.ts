/**
 * autograd/saved.ts: a quantized conv registers a bit-exact recomputation of its output, so batch norm after it
 * keeps the layer's integer codes instead of the conv output's float32 values (issue 13's memory target).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { savedValues } from '../../src/autograd/saved.js';
import { grad } from '../../src/autograd/graph.js';
import { BatchNorm, Conv2d } from '../../src/nn/layers.js';
import { makeQGemm } from '../../src/quant/gemm/index.js';
import { RECOMPUTE_MAX_K } from '../../src/quant/gemm/fused.js';
import { preset, type PresetName } from '../../src/quant/presets.js';
import type { RecipeSlots } from '../../src/quant/recipe.js';
import { mul } from '../../src/ops/elementwise.js';
import { sum } from '../../src/ops/reduce.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor, parameter } from '../../src/tensor/tensor.js';
import { normals } from '../quant/helpers.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

function quantizedConv(name: PresetName, inChannels = 3): Conv2d {
  const conv = new Conv2d(inChannels, 4, 3, new Rng(2), { padding: 1 });
  const r = preset(name);
  conv.gemm = makeQGemm({ slots: { forward: r.forward, gradInput: r.gradInput, gradWeight: r.gradWeight } as RecipeSlots,
    backwardDraws: r.backwardDraws, rng: new Rng(3) });
  return conv;
}

test('a plain tensor is kept as is', () => {
  const t = new Tensor(Float32Array.of(1, 2, 3), [3]);
  assert.equal(savedValues(t)(), t.data);
});

test('a fused quantized conv output recomputes to the same bits', () => {
  for (const name of ['psq4', 'luq4', 'qat8'] as const) {
    const y = quantizedConv(name).forward(parameter(normals(1, 2 * 3 * 6 * 6), [2, 3, 6, 6], 'x'));
    const again = savedValues(y)();
    assert.notEqual(again, y.data, `${name}: recomputed, not the kept array`);
    assert.deepEqual(Array.from(again), Array.from(y.data), `${name}: bit-identical recomputation`);
  }
});

test('a fused quantized conv whose recomputation costs RECOMPUTE_MAX_K or more multiply-adds per value keeps its output', () => {
  const c = Math.ceil(RECOMPUTE_MAX_K / 9); // a 3×3 window: K = 9·c ≥ RECOMPUTE_MAX_K
  const y = quantizedConv('psq4', c).forward(parameter(normals(1, 2 * c * 6 * 6), [2, c, 6, 6], 'x'));
  assert.equal(savedValues(y)(), y.data, 'kept, not recomputed');
  const below = quantizedConv('psq4', c - 1).forward(parameter(normals(1, 2 * (c - 1) * 6 * 6), [2, c - 1, 6, 6], 'x'));
  assert.notEqual(savedValues(below)(), below.data, `K = ${9 * (c - 1)}: recomputed`);
});

test('batch norm after a quantized conv lets the conv output go and still gives the same gradients', async () => {
  const x = parameter(normals(4, 4 * 3 * 8 * 8), [4, 3, 8, 8], 'x');
  const seed = new Tensor(normals(5, 4 * 4 * 8 * 8), [4, 4, 8, 8]);
  const run = (keep: boolean) => {
    const conv = quantizedConv('psq4'), bn = new BatchNorm(4);
    const y = conv.forward(x);
    const ref = new WeakRef(y.data);
    const held = keep ? y.data : null; // holding the array must not change anything but memory
    const out = bn.forward(y);
    return { out, ref, held, conv, bn };
  };
  const free = run(false);
  await new Promise((r) => setImmediate(r)); // a WeakRef keeps its target alive until the current job ends
  gc();
  assert.equal(free.ref.deref(), undefined, 'the conv output was collected after the forward');
  const kept = run(true);
  const gFree = grad(sum(mul(free.out, seed))), gKept = grad(sum(mul(kept.out, seed)));
  assert.deepEqual(Array.from(gFree.get(x)!.data), Array.from(gKept.get(x)!.data), 'dX');
  assert.deepEqual(Array.from(gFree.get(free.conv.weight)!.data), Array.from(gKept.get(kept.conv.weight)!.data), 'dW');
  assert.deepEqual(Array.from(gFree.get(free.bn.weight)!.data), Array.from(gKept.get(kept.bn.weight)!.data), 'dγ');
});
