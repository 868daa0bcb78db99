/** Test-set evaluation: mean loss and accuracy in eval mode, without recording gradients. */
import type { Module } from '../nn/module.js';
import type { DataLoader } from '../data/loader.js';
import { noGrad } from '../autograd/mode.js';
import { crossEntropy } from '../ops/loss.js';
import type { Tensor } from '../tensor/tensor.js';
import { TASKS, type Task } from './task.js';

export interface EvalResult {
  loss: number;
  accuracy: number;
  samples: number;
}

/** Number of rows of `logits` [n, classes] whose arg-max equals the label. */
export function countCorrect(logits: Tensor, labels: Int32Array): number {
  const [n, classes] = logits.shape;
  let correct = 0;
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits.data[i * classes + c] > logits.data[i * classes + best]) best = c;
    if (best === labels[i]) correct++;
  }
  return correct;
}

/** Mean loss and accuracy over the loader's batches, per target row of the task (a sample, or a token). */
export function evaluate(model: Module, loader: DataLoader, task: Task = TASKS.classification): EvalResult {
  const wasTraining = model.training;
  model.eval();
  let lossSum = 0, correct = 0, samples = 0;
  try {
    noGrad(() => {
      for (const batch of loader.epochBatches(0)) {
        const logits = model.forward(batch.x);
        const targets = task.targets(batch);
        lossSum += crossEntropy(logits, targets).item() * targets.length;
        correct += countCorrect(logits, targets);
        samples += targets.length;
      }
    });
  } finally {
    model.train(wasTraining);
  }
  return { loss: samples ? lossSum / samples : NaN, accuracy: samples ? correct / samples : NaN, samples };
}
