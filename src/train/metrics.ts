/** Per-epoch metrics, kept in memory and mirrored to OUT/metrics.jsonl (rewritten atomically each epoch). */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeTextAtomic } from './atomic.js';

export interface EpochMetrics {
  epoch: number;
  train_loss: number;
  train_acc: number;
  test_loss: number;
  test_acc: number;
  lr: number;
  images_per_s: number;
  ms_per_step: number;
  seconds: number;
  recipe: string;
  [extra: string]: number | string;
}

export function writeMetricsFile(outDir: string, history: readonly EpochMetrics[]): void {
  mkdirSync(outDir, { recursive: true });
  writeTextAtomic(path.join(outDir, 'metrics.jsonl'), history.map((m) => JSON.stringify(m)).join('\n') + (history.length ? '\n' : ''));
}
