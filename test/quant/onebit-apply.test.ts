/**
 * applyRecipe with the 1-bit presets (METHODS §3.2, §3.7, §6.2): binary layers get a learnable output scale a_c
 * that is a parameter (state dict, optimizer); first / last layers and 1×1 shortcut convs stay fp32; the resolved
 * table names the bit paths (b1 forward, bitplane backward) that `fqt info` prints; applying twice reuses a_c.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createModel } from '../../src/nn/models/index.js';
import { applyRecipe, formatResolved, preset, recipeFromData } from '../../src/quant/index.js';
import { createOptimizer } from '../../src/optim/index.js';
import { Rng } from '../../src/tensor/random.js';
import { FqtError } from '../../src/tensor/errors.js';

const spec = { inChannels: 1, inputSize: 28, classes: 10 };

test('fqt1-agp-scq on the PReLU ResNet-18: a_c parameters, fp32 first / last / 1×1 convs, b1 and bitplane paths', () => {
  const model = createModel('preact-resnet18-w16', spec, new Rng(1));
  const before = model.namedParameters().length;
  const r = applyRecipe(model, preset('fqt1-agp-scq'), { seed: 0, sampleShape: [1, 28, 28] });
  const binary = r.layers.filter((l) => l.gemms.forward.path === 'b1');
  const fp32 = r.layers.filter((l) => l.gemms.forward.path === 'fp32');
  assert.equal(binary.length, 16, '2 binary 3×3 convs per block, 8 blocks');
  assert.deepEqual(fp32.map((l) => l.name), ['conv1', 'layer2.0.shortcut.1', 'layer3.0.shortcut.1', 'layer4.0.shortcut.1', 'fc']);
  for (const l of binary) {
    assert.equal(l.gemms.gradInput.path, 'bitplane', `${l.name} grad-input`);
    assert.equal(l.gemms.gradWeight.path, 'bitplane', `${l.name} grad-weight`);
    assert.equal(l.outputScale, `${l.name}.out_scale`);
  }
  const names = model.namedParameters().map(([n]) => n);
  assert.equal(names.length, before + 16);
  for (const l of binary) assert.ok(model.stateDict().has(`${l.name}.out_scale`), `${l.name}.out_scale in the state dict`);
  const opt = createOptimizer('adam', model.namedParameters(), { lr: 1e-3 });
  const optNames = new Set(opt.groups.flatMap((g) => g.params.map(([n]) => n)));
  for (const l of binary) assert.ok(optNames.has(`${l.name}.out_scale`), `${l.name}.out_scale is optimized`);
  const text = formatResolved(r);
  assert.match(text, /forward\s+b1\s+sign\/clip × sign\/clip\+a_c/);
  assert.match(text, /gradInput\s+bitplane\s+agp4\/sample\/keep1:4\/sr/);
  assert.match(text, /gradWeight\s+bitplane\s+agp4\/column\/keep1:4\/sr × sign\/clip \(fwd codes\)/);
  // Applying again reuses the same a_c tensors.
  applyRecipe(model, preset('fqt1-agp-scq'), { seed: 0 });
  assert.equal(model.namedParameters().length, before + 16);
});

test('fqt1-psq: grad-input on the bit-plane path (per-sample = per row); grad-weight per-sample scales lie along K → bitplane-blocked (blocks of H·W rows)', () => {
  const model = createModel('vgg16-prelu', spec, new Rng(1));
  const r = applyRecipe(model, preset('fqt1-psq'), { seed: 0, sampleShape: [1, 28, 28] });
  const l = r.layers[1];
  assert.equal(l.gemms.forward.path, 'b1');
  assert.equal(l.gemms.gradInput.path, 'bitplane');
  assert.equal(l.gemms.gradWeight.path, 'bitplane-blocked');
  assert.equal(l.gemms.gradWeight.kBlock, 28 * 28);
  // The linear head is fp32 (@last); a hidden linear layer would have K-blocks of 1 row: fp32-dequant.
  const mlp = applyRecipe(createModel('mlp', spec, new Rng(1)), preset('fqt1-psq'), { seed: 0 });
  assert.equal(mlp.layers[1].gemms.gradWeight.path, 'fp32-dequant');
  assert.match(mlp.layers[1].gemms.gradWeight.reason ?? '', /scales change every 1 element along K/);
});

test('a sign forward with an 8-bit uniform weight on a padded conv runs fp32-dequant (no int8 padding correction) and says so', () => {
  const model = createModel('preact-resnet18-w16', spec, new Rng(1));
  const recipe = recipeFromData({ version: 1, extends: 'bin-qat', forward: { w: { kind: 'uniform', bits: 8, format: 'symmetric' } } });
  const r = applyRecipe(model, recipe, { seed: 0, sampleShape: [1, 28, 28] });
  const l = r.layers[1];
  assert.equal(l.gemms.forward.path, 'fp32-dequant');
  assert.match(l.gemms.forward.reason!, /sign\(0\) = \+1 on conv padding/);
  assert.equal(l.outputScale, undefined, 'no a_c without a sign weight');
  assert.throws(() => recipeFromData({ version: 1, extends: 'bin-qat', gradInput: { dy: { kind: 'sign' } } }),
    (e: unknown) => e instanceof FqtError && /gradInput\.dy\.kind: 'sign' binarizes forward operands/.test(e.message));
});
