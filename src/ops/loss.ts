/** Softmax cross-entropy (numerically stable, with label smoothing). */
import { backend } from '../backend/index.js';
import { record } from '../autograd/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { empty } from './util.js';

/** Mean over the batch of −Σ target·log softmax(logits); labels are class indices. */
export function crossEntropy(logits: Tensor, labels: Int32Array, smoothing = 0): Tensor {
  check(logits.rank === 2, () => `crossEntropy: logits must be [batch, classes], got ${fmtShape(logits.shape)}`);
  const [n, classes] = logits.shape;
  check(labels.length === n, () => `crossEntropy: ${labels.length} labels for a batch of ${n}`);
  check(smoothing >= 0 && smoothing < 1, () => `crossEntropy: label smoothing must be in [0, 1), got ${smoothing}`);
  for (let i = 0; i < n; i++) {
    check(Number.isInteger(labels[i]) && labels[i] >= 0 && labels[i] < classes, () => `crossEntropy: label ${labels[i]} at position ${i} is outside [0, ${classes})`);
  }
  const losses = new Float32Array(n);
  const dlogits = empty(logits.shape);
  backend().softmaxCrossEntropy(logits.data, labels, n, classes, smoothing, losses, dlogits.data);
  let total = 0;
  for (let i = 0; i < n; i++) total += losses[i];
  const out = new Tensor(Float32Array.of(n > 0 ? total / n : 0), []);
  return record(out, 'crossEntropy', [logits], (g) => {
    const dx = empty(logits.shape);
    backend().unary('scale', dlogits.data, dx.data, g.data[0] / n, 0);
    return [dx];
  });
}
