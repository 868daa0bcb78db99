/**
 * Whole-network gradient checks of tiny ResNets (post- and pre-activation): every parameter tensor
 * (a few elements each) and the input, against central differences of the training-mode loss. This
 * exercises the tape on real graphs: residual adds whose gradients are accumulated and then split,
 * shortcuts, BN in training mode, pooling and the loss.
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ResNet } from '../../src/nn/models/resnet.js';
import { crossEntropy } from '../../src/ops/loss.js';
import { Rng } from '../../src/tensor/random.js';
import { gradCheckParams } from '../helpers/gradcheck.js';
import { leaf, randn } from '../helpers/tensors.js';

for (const preActivation of [false, true]) {
  describe(`tiny ${preActivation ? 'pre-activation ' : ''}ResNet: gradients of every parameter and of the input`, () => {
    it('match central differences', () => {
      const model = new ResNet({ inChannels: 2, inputSize: 6, classes: 3 }, new Rng(3), { widths: [3, 5], blocks: [2, 1], preActivation });
      // Non-trivial BN affine parameters, so their gradients are not those of the identity.
      for (const [name, p] of model.namedParameters()) {
        if (/bn|shortcut\.1/.test(name)) p.data.set(randn(p.shape, name.length, 0.2, name.endsWith('weight') ? 1 : 0).data);
      }
      const x = leaf(randn([3, 2, 6, 6], 4));
      const labels = Int32Array.from([0, 2, 1]);
      const tensors: [string, typeof x][] = [['input', x], ...model.namedParameters()];
      const worst = gradCheckParams(`resnet preact=${preActivation}`, () => crossEntropy(model.forward(x), labels), tensors);
      assert.ok(worst <= 1);
    });
  });
}
