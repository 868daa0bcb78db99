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
