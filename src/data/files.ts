import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { check, FqtError } from '../tensor/errors.js';

/** File contents after optional gunzip, plus what the error messages need to say about them. */
export interface FileBytes {
  path: string;
  bytes: Uint8Array;
  /** True when the file was gzip-compressed; sizes in messages then refer to the decompressed bytes. */
  gzipped: boolean;
}

/** gzip streams start with 1f 8b regardless of the file name, so detection never trusts the extension. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Reads a file, gunzipping it if it starts with the gzip magic bytes. */
export function readMaybeGzip(path: string): FileBytes {
  let raw: Uint8Array;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new FqtError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (!isGzip(raw)) return { path, bytes: raw, gzipped: false };
  try {
    return { path, bytes: gunzipSync(raw), gzipped: true };
  } catch (e) {
    throw new FqtError(`${path}: cannot decompress gzip data (${(e as Error).message}); the file is corrupt or truncated`);
  }
}

/** "N bytes" or "N bytes after gunzip", for size messages. */
export function describeSize(f: FileBytes): string {
  return `${f.bytes.length} bytes${f.gzipped ? ' after gunzip' : ''}`;
}

export function checkDirectory(dir: string, what: string): void {
  check(existsSync(dir), () => `${what}: data directory ${dir} does not exist`);
  check(statSync(dir).isDirectory(), () => `${what}: ${dir} is not a directory`);
}

/**
 * The first of `candidates` (file names relative to `dir`) that exists. The error lists every path
 * looked for, so a user can see at once which naming the reader expects.
 */
export function findFirst(dir: string, candidates: readonly string[], what: string): string {
  for (const name of candidates) {
    const p = join(dir, name);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  throw new FqtError(`${what}: no file found in ${dir}; looked for ${candidates.join(', ')}`);
}

/** Unsigned 32-bit big-endian integer at `offset`. */
export function readU32BE(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) | (bytes[offset + 1] << 16) | (bytes[offset + 2] << 8) | bytes[offset + 3]) >>> 0;
}

/** Bytes → float32 in [0, 1] (v / 255, divided rather than multiplied by 1/255 so that 255 maps to exactly 1). */
export function bytesToUnit(src: Uint8Array, dst: Float32Array, dstOffset = 0): void {
  for (let i = 0; i < src.length; i++) dst[dstOffset + i] = src[i] / 255;
}
