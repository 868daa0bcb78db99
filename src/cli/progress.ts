/**
 * A progress bar on stderr: redrawn in place on a terminal, a plain line every ~10 % otherwise
 * (CI logs, pipes), so a long run always shows it is alive. The trainer reports through callbacks (cliReporters).
 */
import type { StepProgress } from '../train/trainer.js';

export interface ProgressFields {
  [key: string]: string | number;
}

export class ProgressBar {
  private readonly start = performance.now();
  private lastPrinted = -1;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(private readonly label: string, private readonly total: number, private readonly quiet = false) {}

  update(done: number, fields: ProgressFields = {}): void {
    if (this.quiet || this.total <= 0) return;
    const frac = Math.min(1, done / this.total);
    const elapsed = (performance.now() - this.start) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - done) : NaN;
    const extras = Object.entries(fields).map(([k, v]) => `${k} ${typeof v === 'number' ? fmtNum(v) : v}`).join('  ');
    if (this.tty) {
      const width = 24;
      const filled = Math.round(frac * width);
      const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
      process.stderr.write(`\r${this.label} ${bar} ${done}/${this.total}  ETA ${fmtTime(eta)}  ${extras}\x1b[K`);
      if (done >= this.total) process.stderr.write('\n');
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== this.lastPrinted || done >= this.total) {
        if (decile === this.lastPrinted && done < this.total) return;
        this.lastPrinted = decile;
        process.stderr.write(`${this.label} ${Math.round(frac * 100)}% (${done}/${this.total})  ETA ${fmtTime(eta)}  ${extras}\n`);
      }
    }
  }
}

export function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(4);
}

export function fmtTime(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(s % 60).padStart(2, '0')}`;
}

/** The trainer's callbacks for a terminal: epoch lines on stderr and one progress bar per epoch (none when quiet). */
export function cliReporters(quiet: boolean): { log: (line: string) => void; onProgress: (p: StepProgress) => void } {
  let bar: ProgressBar | null = null;
  let barEpoch = -1;
  return {
    log: (line) => { if (!quiet) process.stderr.write(`${line}\n`); },
    onProgress: (p) => {
      if (p.epoch !== barEpoch) { bar = new ProgressBar(`epoch ${p.epoch + 1}/${p.epochs}`, p.total, quiet); barEpoch = p.epoch; }
      bar!.update(p.done, { loss: p.loss, 'img/s': p.imagesPerSecond });
    },
  };
}
