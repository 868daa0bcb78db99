/**
 * Per-step training loss in RUN/steps.jsonl: one line {"e":epoch,"b":batch,"loss":x} per optimizer
 * step (0-based), appended in small chunks. A killed run loses at most the unflushed tail, and a
 * resumed run appends again from its checkpoint, so a step can appear twice: the reader keeps the
 * last value of each (epoch, batch). metrics.jsonl remains the record of the run; this is for curves.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { appendLinesDurable } from './atomic.js';

export const STEP_LOG = 'steps.jsonl';

export class StepLog {
  private buffer: string[] = [];
  private lastFlush = performance.now();

  constructor(private readonly runDir: string, private readonly flushMs = 1000) {}

  record(epoch: number, batch: number, loss: number): void {
    this.buffer.push(JSON.stringify({ e: epoch, b: batch, loss }));
    if (performance.now() - this.lastFlush >= this.flushMs) this.flush();
  }

  flush(): void {
    this.lastFlush = performance.now();
    if (this.buffer.length === 0) return;
    appendLinesDurable(path.join(this.runDir, STEP_LOG), this.buffer);
    this.buffer = [];
  }
}

/** Loss per global step (epoch · stepsPerEpoch + batch), sorted by step; empty when there is no log. */
export function readStepLosses(runDir: string, stepsPerEpoch: number): { step: number; loss: number }[] {
  const file = path.join(runDir, STEP_LOG);
  if (!existsSync(file)) return [];
  const byStep = new Map<number, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    let o: { e?: unknown; b?: unknown; loss?: unknown };
    try { o = JSON.parse(line) as typeof o; } catch { continue; } // a line cut by a kill
    if (typeof o.e === 'number' && typeof o.b === 'number' && typeof o.loss === 'number') byStep.set(o.e * stepsPerEpoch + o.b, o.loss);
  }
  return [...byStep.entries()].sort((a, b) => a[0] - b[0]).map(([step, loss]) => ({ step, loss }));
}
