/**
 * Opening a run directory (`train({out})`, `fqt train --out`) before any data is loaded (issue 18): the path is
 * checked (a file, a path under a file, a read-only mount, a --resume of a directory that does not exist all give
 * one line naming the path), the run lock is taken (train/lock.ts), and leftovers of killed runs (temporary files
 * of processes that are gone) are removed, saying so.
 */
import fs from 'node:fs';
import path from 'node:path';
import { FqtError } from '../tensor/errors.js';
import { isTemporaryName, removeStaleTemporaries } from './atomic.js';
import { acquireRunLock, LOCK_FILE, type RunLock } from './lock.js';
import { type StopWatch, watchStopSignals } from './signals.js';

/** The first existing ancestor of `p` (or `p`) that is not a directory, or null. */
function fileInTheWay(p: string): string | null {
  for (let q = path.resolve(p); ; q = path.dirname(q)) {
    if (fs.existsSync(q)) return fs.statSync(q).isDirectory() ? null : q;
    if (path.dirname(q) === q) return null;
  }
}

function fsError(out: string, err: unknown): FqtError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EEXIST' || e.code === 'ENOTDIR') {
    const f = fileInTheWay(out);
    return new FqtError(`run directory (--out) ${out}: ${f === path.resolve(out) || f === null ? 'is a file, not a directory' : `${f} is a file, not a directory`}`);
  }
  if (e.code === 'EROFS' || e.code === 'EACCES' || e.code === 'EPERM') {
    return new FqtError(`run directory (--out) ${out} is not writable (${e.code === 'EROFS' ? 'read-only file system' : 'permission denied'})`);
  }
  return new FqtError(`run directory (--out) ${out}: ${e.message}`);
}

export interface RunDir {
  lock: RunLock;
  close(): void;
}

/** Check, create (unless resuming) and lock run directory `out`; remove and report leftovers of killed runs. */
export function openRunDir(out: string, opts: { resume?: boolean; log: (line: string) => void }): RunDir {
  if (opts.resume) {
    const st = fs.statSync(out, { throwIfNoEntry: false });
    if (st === undefined) throw new FqtError(`--resume: there is no run directory ${out} (check --out)`);
    if (!st.isDirectory()) throw fsError(out, Object.assign(new Error(''), { code: 'EEXIST' }));
    // A run killed right after creating its directory leaves it empty (or with a temporary file): resumable, from
    // scratch. Any other directory without a run's files is refused: --out probably names the wrong one.
    const names = fs.readdirSync(out);
    const isRun = names.length === 0 || names.some((n) => n === 'run.json' || n === 'checkpoints' || n === LOCK_FILE || isTemporaryName(n));
    if (!isRun) throw new FqtError(`--resume: ${out} is not a run directory (no run.json, checkpoints/ or lock; check --out)`);
  }
  let lock: RunLock;
  try {
    fs.mkdirSync(out, { recursive: true });
    lock = acquireRunLock(out, opts.log);
  } catch (err) {
    if (err instanceof FqtError) throw err;
    throw fsError(out, err);
  }
  const removed = [out, path.join(out, 'checkpoints')].flatMap((d) => removeStaleTemporaries(d).map((n) => path.join(d, n)));
  if (removed.length > 0) {
    opts.log(`fqt: removed ${removed.length} leftover temporary file(s) of an interrupted run: ${removed.join(', ')}`);
  }
  return { lock, close: () => lock.release() };
}

/**
 * Run `body` with the run directory of `opts.out` open and locked (when given) and SIGINT / SIGTERM recorded
 * (train/signals.ts): everything a run does happens inside, from loading its data on.
 */
export function inRunDir<T>(opts: { out?: string; resume?: boolean; quiet?: boolean; log?: (line: string) => void }, body: (stop: StopWatch) => T): T {
  const log = opts.log ?? ((line: string) => { if (!opts.quiet) process.stderr.write(`${line}\n`); });
  const dir = opts.out ? openRunDir(opts.out, { resume: opts.resume, log }) : null;
  const stop = watchStopSignals();
  try {
    return body(stop);
  } finally {
    stop.close();
    dir?.close();
  }
}
