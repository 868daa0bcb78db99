/** Per-epoch metrics, kept in memory and mirrored to OUT/metrics.jsonl (rewritten atomically each epoch). */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';

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
  const file = path.join(outDir, 'metrics.jsonl');
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, history.map((m) => JSON.stringify(m)).join('\n') + (history.length ? '\n' : ''));
  renameSync(tmp, file);
}
