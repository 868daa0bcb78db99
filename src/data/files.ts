import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { constants, gunzipSync } from 'node:zlib';
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

/** deflate cannot expand data by more than 1032:1 (zlib technical details); a larger claim is a lie. */
const MAX_GZIP_RATIO = 1032;
/** Compressed bytes decompressed to read a header (at most ~1 MB of output). */
const HEAD_BYTES = 1024;

/** The decompressed start of a gzip file (for its header), without decompressing the rest. */
function gunzipHead(raw: Uint8Array): Uint8Array {
  try {
    return gunzipSync(raw.subarray(0, Math.min(raw.length, HEAD_BYTES)), { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength: MAX_GZIP_RATIO * HEAD_BYTES });
  } catch {
    return new Uint8Array(0); // corrupt from the start: the full decompression below reports it
  }
}

/**
 * Reads a file, gunzipping it if it starts with the gzip magic bytes. Decompression is bounded (a gzip bomb never
 * expands in memory): by the size the gzip trailer declares (ISIZE, checked by zlib) and, when `declaredSize` is
 * given, by the size the format's own header declares (it gets the decompressed start of the file and returns the
 * total size, or null when the header is incomplete), and never beyond what the compressed size can hold. A shorter
 * stream comes back whole, for the format's own truncation message.
 */
export function readMaybeGzip(path: string, declaredSize?: (head: Uint8Array) => number | null): FileBytes {
  let raw: Buffer;
  try {
    raw = readFileSync(path);
  } catch (e) {
    throw new FqtError(`cannot read ${path}: ${(e as Error).message}`);
  }
  if (!isGzip(raw)) return { path, bytes: raw, gzipped: false };
  const trailer = raw.length >= 18 ? raw.readUInt32LE(raw.length - 4) : 0; // ISIZE: decompressed size mod 2^32
  const declared = declaredSize?.(gunzipHead(raw)) ?? null;
  const limit = declared === null ? trailer : Math.min(declared, trailer);
  check(limit <= MAX_GZIP_RATIO * raw.length,
    () => `${path}: declares ${limit} bytes of data, more than ${raw.length} bytes of gzip can hold; the file is corrupt`);
  try {
    return { path, bytes: gunzipSync(raw, { maxOutputLength: Math.max(1, limit) }), gzipped: true };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw new FqtError(`${path}: decompresses to more than the ${limit} bytes its header declares; the file is corrupt (or a gzip bomb)`);
    }
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
