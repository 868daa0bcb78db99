/**
 * What the trainer optimises and reports, chosen by the data set (Dataset.task) rather than by the model: a typed
 * table of tasks. Both score logits [rows, classes] with softmax cross-entropy against one target class per row:
 *   classification   one row per sample, target = the sample's label; accuracy per sample
 *   language-model   one row per (sample, position), target = the next token (ids 1..T of the window, data/text.ts);
 *                    accuracy = next-token accuracy; the epoch also reports perplexity exp(loss) (nats per token)
 */
import type { Batch } from '../data/loader.js';
import type { Dataset, DatasetTask } from '../data/dataset.js';
import { check } from '../tensor/errors.js';

export interface Task {
  readonly kind: DatasetTask;
  /** Target class of every row of the model's logits for this batch. */
  targets(batch: Batch): Int32Array;
  /** Extra epoch metrics from the mean train and test losses (metrics.jsonl and the epoch line). */
  metrics(trainLoss: number, testLoss: number): Record<string, number>;
}

export const TASKS: { readonly [K in DatasetTask]: Task } = {
  classification: {
    kind: 'classification',
    targets: (batch) => batch.labels,
    metrics: () => ({}),
  },
  'language-model': {
    kind: 'language-model',
    targets(batch) {
      const [b, w] = [batch.x.shape[0], batch.x.shape[batch.x.rank - 1]];
      const out = new Int32Array(b * (w - 1));
      for (let i = 0; i < b; i++) for (let j = 1; j < w; j++) out[i * (w - 1) + j - 1] = batch.x.data[i * w + j];
      return out;
    },
    metrics: (train, test) => ({ train_ppl: Math.exp(train), test_ppl: Math.exp(test) }),
  },
};

/** The task of a data set (classification unless it says otherwise). */
export function taskOf(ds: Dataset): Task {
  const t = TASKS[ds.task ?? 'classification'];
  check(t !== undefined, () => `data set '${ds.name}': unknown task '${String(ds.task)}'`);
  return t;
}
