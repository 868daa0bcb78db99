/**
 * Crash-safe file writes: data goes to a temporary file in the same directory, is fsynced, and is
 * renamed over the target (rename is atomic on POSIX file systems); the directory is fsynced so the
 * rename itself survives a power loss. A reader therefore sees the old file or the new one, never a mix.
 */
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

/** Write all chunks to `file` (created or truncated) and fsync it before closing. */
export function writeFileDurable(file: string, chunks: readonly Uint8Array[]): void {
  const fd = fs.openSync(file, 'w');
  try {
    for (const chunk of chunks) {
      let off = 0;
      while (off < chunk.byteLength) off += fs.writeSync(fd, chunk, off, chunk.byteLength - off);
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** fsync a directory so that entries created or renamed in it are durable (a no-op where unsupported). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    // Some platforms (Windows) and file systems cannot open or fsync directories; the rename is still atomic.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP') throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** A unique name for a temporary sibling of `target` (same directory, so rename stays atomic). */
export function tmpSibling(target: string): string {
  return path.join(path.dirname(target), `.tmp-${path.basename(target)}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Replace `file` atomically with the concatenation of `chunks`. */
export function writeFileAtomic(file: string, chunks: readonly Uint8Array[]): void {
  const tmp = tmpSibling(file);
  try {
    writeFileDurable(tmp, chunks);
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  fsyncDir(path.dirname(file));
}

/** Replace `file` atomically with `text` (UTF-8). */
export function writeTextAtomic(file: string, text: string): void {
  writeFileAtomic(file, [Buffer.from(text, 'utf8')]);
}

/**
 * Append whole lines to a log file (JSON lines): a line cut by an earlier kill is removed first, the new lines are
 * written and fsynced, so a reader sees every line complete or not at all (at worst the last one missing).
 */
export function appendLinesDurable(file: string, lines: readonly string[]): void {
  if (lines.length === 0) return;
  const fd = fs.openSync(file, 'a+');
  try {
    const size = fs.fstatSync(fd).size;
    if (size > 0) {
      const last = Buffer.alloc(1);
      fs.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) {
        const text = fs.readFileSync(file);
        fs.ftruncateSync(fd, text.lastIndexOf(0x0a) + 1);
      }
    }
    fs.writeSync(fd, `${lines.join('\n')}\n`);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** The entries of `dir`, none when it cannot be read (missing, or not a directory). */
export function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

/** Temporary names this module and checkpoints create (`.tmp-<name>-<pid>-<hex>`), and the older `<name>.tmp-<pid>`. */
const TEMP_NAMES = [/^\.tmp-.+-(\d+)-[0-9a-f]{8}$/, /^.+\.tmp-(\d+)$/];

/** Whether `name` is a temporary file name of this module or of checkpoints. */
export function isTemporaryName(name: string): boolean {
  return TEMP_NAMES.some((re) => re.test(name));
}

/** Whether process `pid` exists on this machine. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Remove the temporary files and directories in `dir` left by processes that no longer exist (a kill during a
 * write); those of live processes (another writer's save in progress) are kept. Returns the removed names.
 */
export function removeStaleTemporaries(dir: string): string[] {
  const removed: string[] = [];
  for (const name of listDir(dir)) {
    const m = TEMP_NAMES.map((re) => re.exec(name)).find((x) => x !== null);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && processAlive(pid)) continue;
    fs.rmSync(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
