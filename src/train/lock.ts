/**
 * One writer per run directory (issue 18): `acquireRunLock` creates RUN/.lock exclusively (O_EXCL, so two
 * processes cannot both succeed) holding {pid, host, started}. A second writer fails at once with a one-line
 * error naming the holder. A lock whose process is gone (same host, pid not alive — a killed run) is taken over
 * with a message; a lock of another host cannot be checked and is never taken over. Released on close() and,
 * as a last resort, when the process exits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { FqtError } from '../tensor/errors.js';
import { processAlive } from './atomic.js';

export const LOCK_FILE = '.lock';

interface Holder { pid: number; host: string; started: string }

export interface RunLock {
  readonly file: string;
  /** Remove the lock (idempotent; only if it is still ours). */
  release(): void;
}

/** Locks this process holds, by file, with their release (also run when the process exits). */
const held = new Map<string, () => void>();
let exitHook = false;

function readHolder(file: string): Holder | null {
  try {
    const h = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<Holder>;
    return Number.isInteger(h.pid) && typeof h.host === 'string' ? { pid: h.pid!, host: h.host, started: String(h.started ?? '?') } : null;
  } catch {
    return null; // half-written by a writer killed between create and write, or unreadable: treated as stale
  }
}

function describe(h: Holder): string {
  return `pid ${h.pid} on ${h.host}, since ${h.started}`;
}

function tryCreate(file: string, me: Holder): boolean {
  let fd: number;
  try {
    fd = fs.openSync(file, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  try {
    fs.writeSync(fd, JSON.stringify(me));
  } finally {
    fs.closeSync(fd);
  }
  return true;
}

/** Whether a lock held by `h` belongs to a process that is gone (or to an earlier, failed call of this process). */
function stale(h: Holder | null, file: string): boolean {
  if (h === null) return true;
  if (h.host !== os.hostname()) return false;
  if (h.pid === process.pid) return !held.has(file);
  return !processAlive(h.pid);
}

/** Take the lock of run directory `dir` (which must exist), or throw naming its holder. */
export function acquireRunLock(dir: string, log: (line: string) => void): RunLock {
  const file = path.join(dir, LOCK_FILE);
  const me: Holder = { pid: process.pid, host: os.hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(file, me)) {
      const release = (): void => {
        if (!held.delete(file)) return;
        if (readHolder(file)?.pid === me.pid) fs.rmSync(file, { force: true });
      };
      held.set(file, release);
      if (!exitHook) {
        exitHook = true;
        process.once('exit', () => { for (const r of [...held.values()]) r(); });
      }
      return { file, release };
    }
    const holder = readHolder(file);
    if (!stale(holder, file)) {
      throw new FqtError(`${dir} is in use by another run (${describe(holder!)}; lock ${file}); ` +
        'wait for it, or use another --out (delete the lock only if that process is gone)');
    }
    // Move the stale lock aside under a private name, then check it is still the one judged stale (another
    // process may have taken it over meanwhile): if not, put it back and try again.
    const aside = path.join(dir, `.tmp-lock-${process.pid}-${randomBytes(4).toString('hex')}`); // a temp name: cleaned if we die here
    try {
      fs.renameSync(file, aside);
    } catch {
      continue; // someone else moved it first
    }
    const moved = readHolder(aside);
    if (moved !== null && holder !== null && moved.pid !== holder.pid) {
      try { fs.linkSync(aside, file); } catch { /* a third writer holds it now */ }
      fs.rmSync(aside, { force: true });
      continue;
    }
    fs.rmSync(aside, { force: true });
    log(`fqt: taking over the lock of ${dir} from a run that is gone (${holder ? describe(holder) : 'unreadable lock file'})`);
  }
  throw new FqtError(`${dir}: could not take the run lock ${file} (other processes keep taking it)`);
}
