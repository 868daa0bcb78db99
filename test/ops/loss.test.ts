/** Hand-value tests of softmax cross-entropy with label smoothing. */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { crossEntropy } from '../../src/ops/loss.js';
import { grad } from '../../src/autograd/graph.js';
import { assertClose, assertShape } from '../helpers/approx.js';
import { assertFqtError } from '../helpers/errors.js';
import { leaf, T } from '../helpers/tensors.js';

describe('crossEntropy', () => {
  it('uniform logits give log(classes), with or without smoothing', () => {
    for (const eps of [0, 0.1, 0.5]) {
      const loss = crossEntropy(T(new Array(8).fill(0.3), [2, 4]), Int32Array.from([1, 3]), eps);
      assertShape(loss, []);
      assertClose([loss.item()], [Math.log(4)], { rtol: 1e-6 });
    }
  });

  it('by hand: loss and gradient (softmax − target)/n, with smoothing ε/classes off the label', () => {
    const e2 = Math.exp(2), z = e2 + 2, p = [e2 / z, 1 / z, 1 / z];
    for (const eps of [0, 0.2]) {
      const target = [1 - eps + eps / 3, eps / 3, eps / 3];
      const logits = leaf(T([2, 0, 0, 2, 0, 0], [2, 3]));
      const loss = crossEntropy(logits, Int32Array.from([0, 1]), eps);
      const target1 = [eps / 3, 1 - eps + eps / 3, eps / 3];
      const l0 = -target.reduce((a, t, c) => a + t * Math.log(p[c]), 0);
      const l1 = -target1.reduce((a, t, c) => a + t * Math.log(p[c]), 0);
      assertClose([loss.item()], [(l0 + l1) / 2], { rtol: 1e-6 }, `loss ε=${eps}`);
      const g = grad(loss).get(logits)!;
      assertClose(g, [...p.map((v, c) => (v - target[c]) / 2), ...p.map((v, c) => (v - target1[c]) / 2)], { rtol: 1e-5, atol: 1e-7 }, `grad ε=${eps}`);
    }
  });

  it('is numerically stable for large logits', () => {
    const logits = leaf(T([1000, 0, -1000, 0], [2, 2]));
    const loss = crossEntropy(logits, Int32Array.from([1, 0]));
    assertClose([loss.item()], [(1000 + 1000) / 2], { rtol: 1e-6 });
    const g = grad(loss).get(logits)!;
    assertClose(g, [0.5, -0.5, -0.5, 0.5], { atol: 1e-7 });
    assert.ok(g.data.every(Number.isFinite));
  });

  it('the upstream gradient scales the result', () => {
    const logits = leaf(T([1, 2, 3, 4], [2, 2]));
    const g1 = grad(crossEntropy(logits, Int32Array.from([0, 1]))).get(logits)!;
    const g3 = grad(crossEntropy(logits, Int32Array.from([0, 1])), T([3], [])).get(logits)!;
    assertClose(g3, Array.from(g1.data, (v) => 3 * v), { rtol: 1e-6 });
  });

  it('errors name crossEntropy and the problem', () => {
    const z = T([1, 2, 3, 4, 5, 6], [2, 3]);
    assertFqtError(() => crossEntropy(T([1, 2, 3], [3]), Int32Array.from([0])), 'crossEntropy', '[3]');
    assertFqtError(() => crossEntropy(z, Int32Array.from([0])), 'crossEntropy', '1 labels', '2');
    assertFqtError(() => crossEntropy(z, Int32Array.from([0, 3])), 'crossEntropy', 'label 3', 'position 1');
    assertFqtError(() => crossEntropy(z, Int32Array.from([-1, 0])), 'crossEntropy', 'label -1');
    assertFqtError(() => crossEntropy(z, Int32Array.from([0, 0]), 1), 'crossEntropy', 'smoothing', '1');
  });
});
