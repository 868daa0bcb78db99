/**
 * The safetensors format (https://github.com/huggingface/safetensors), so weights load in PyTorch too:
 *
 *   [8 bytes: N, unsigned little-endian]  [N bytes: JSON header, padded with spaces to a multiple of 8]
 *   [data: raw little-endian tensor bytes]
 *   header = { name: {dtype, shape, data_offsets: [begin, end]}, ..., "__metadata__": {string: string} }
 *
 * Offsets are relative to the start of the data and must tile it exactly (no overlap, no hole, nothing
 * after the last tensor). Reading validates all of that and names the file in every error.
 */
import fs from 'node:fs';
import os from 'node:os';
import { check, FqtError } from '../tensor/errors.js';
import { fmtShape, shapeSize } from '../tensor/shape.js';
import { writeFileAtomic } from './atomic.js';

export type SafeDType = 'F32' | 'I32' | 'I8' | 'U8';
export type SafeArray = Float32Array | Int32Array | Int8Array | Uint8Array;

export interface SafeEntry {
  dtype: SafeDType;
  shape: number[];
  data: SafeArray;
}

export interface SafetensorsContent {
  tensors: Map<string, SafeEntry>;
  metadata: Record<string, string>;
}

/** What can be written: anything with a shape and a typed array of a supported dtype (e.g. a Tensor). */
export interface TensorLike {
  readonly shape: readonly number[];
  readonly data: SafeArray;
}

const ELEMENT_BYTES: Record<SafeDType, number> = { F32: 4, I32: 4, I8: 1, U8: 1 };
const SUPPORTED = Object.keys(ELEMENT_BYTES) as SafeDType[];
/** Same limit as the reference implementation: a larger header is a corrupt file, not a real one. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

function assertLittleEndianHost(): void {
  check(os.endianness() === 'LE', 'safetensors: big-endian hosts are not supported');
}

function dtypeOf(data: SafeArray): SafeDType | undefined {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Int8Array) return 'I8';
  if (data instanceof Uint8Array) return 'U8';
  return undefined;
}

/**
 * Serialize to the chunks of a safetensors file (header, then each tensor's bytes without copying).
 * 4-byte dtypes come first so that every tensor is aligned to its element size in the file.
 */
export function encodeSafetensors(tensors: Iterable<[string, TensorLike]>, metadata: Record<string, string> = {}): Uint8Array[] {
  assertLittleEndianHost();
  const entries: [string, TensorLike, SafeDType][] = [];
  const names = new Set<string>();
  for (const [name, t] of tensors) {
    check(typeof name === 'string' && name.length > 0 && name !== METADATA_KEY, () => `safetensors: invalid tensor name ${JSON.stringify(name)}`);
    check(!names.has(name), () => `safetensors: tensor '${name}' is given twice`);
    names.add(name);
    const dtype = dtypeOf(t.data);
    check(dtype !== undefined, () => `safetensors: tensor '${name}' has an unsupported array type (supported: ${SUPPORTED.join(', ')})`);
    check(t.shape.every((d) => Number.isInteger(d) && d >= 0) && shapeSize(t.shape) === t.data.length, () =>
      `safetensors: tensor '${name}' has ${t.data.length} values, which does not match its shape ${fmtShape(t.shape)}`);
    entries.push([name, t, dtype]);
  }
  for (const [k, v] of Object.entries(metadata)) {
    check(typeof v === 'string', () => `safetensors: metadata '${k}' must be a string, got ${typeof v}`);
  }
  entries.sort((a, b) => ELEMENT_BYTES[b[2]] - ELEMENT_BYTES[a[2]]); // stable: keeps order within a dtype size

  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  let offset = 0;
  for (const [name, t, dtype] of entries) {
    const end = offset + t.data.byteLength;
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, end] };
    offset = end;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  return [prefix, json, ...entries.map(([, t]) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** Parse and validate the bytes of a safetensors file; `file` names it in errors. Tensor data is copied. */
export function decodeSafetensors(bytes: Uint8Array, file: string): SafetensorsContent {
  assertLittleEndianHost();
  const bad = (why: string): FqtError => new FqtError(`${file}: not a valid safetensors file: ${why}`);
  if (bytes.byteLength < 8) throw bad(`only ${bytes.byteLength} bytes, too short to hold the 8-byte header length (truncated?)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(bytes.byteLength - 8)) {
    throw bad(`header length ${headerLen} goes beyond the end of the file (${bytes.byteLength} bytes; truncated?)`);
  }
  const n = Number(headerLen);
  if (n > MAX_HEADER_BYTES) throw bad(`header length ${n} exceeds ${MAX_HEADER_BYTES} bytes`);
  let header: unknown;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch (err) {
    throw bad(`header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(header)) throw bad('header is not a JSON object');

  const metadata: Record<string, string> = {};
  const rawMeta = header[METADATA_KEY];
  if (rawMeta !== undefined) {
    if (!isPlainObject(rawMeta)) throw bad(`'${METADATA_KEY}' is not an object`);
    for (const [k, v] of Object.entries(rawMeta)) {
      if (typeof v !== 'string') throw bad(`metadata '${k}' is not a string`);
      metadata[k] = v;
    }
  }

  const dataStart = 8 + n;
  const dataLen = bytes.byteLength - dataStart;
  const spans: { name: string; dtype: SafeDType; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === METADATA_KEY) continue;
    if (!isPlainObject(info)) throw bad(`tensor '${name}' is not an object`);
    for (const key of Object.keys(info)) {
      if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') throw bad(`tensor '${name}' has unknown field '${key}'`);
    }
    const dtype = info.dtype;
    if (typeof dtype !== 'string') throw bad(`tensor '${name}' has no dtype`);
    if (!(SUPPORTED as string[]).includes(dtype)) throw bad(`tensor '${name}' has dtype ${dtype}, which fqt does not read (supported: ${SUPPORTED.join(', ')})`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw bad(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    const offs = info.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[0] > offs[1]) {
      throw bad(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const need = shapeSize(shape) * ELEMENT_BYTES[dtype as SafeDType];
    if (end - begin !== need) throw bad(`tensor '${name}' (${dtype} ${fmtShape(shape)}) needs ${need} bytes but its data_offsets [${begin}, ${end}] span ${end - begin}`);
    if (end > dataLen) throw bad(`tensor '${name}' ends at data byte ${end} but only ${dataLen} data bytes follow the header (truncated?)`);
    spans.push({ name, dtype: dtype as SafeDType, shape, begin, end });
  }

  // The tensors must tile the data exactly, as the reference reader requires.
  const sorted = [...spans].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let pos = 0;
  for (let i = 0; i < sorted.length; i++) {
    const s = sorted[i];
    if (s.begin < pos) throw bad(`tensor '${s.name}' overlaps tensor '${sorted[i - 1].name}'`);
    if (s.begin > pos) throw bad(`data bytes [${pos}, ${s.begin}) before tensor '${s.name}' belong to no tensor`);
    pos = s.end;
  }
  if (pos !== dataLen) throw bad(`${dataLen - pos} bytes after the last tensor belong to no tensor`);

  const tensors = new Map<string, SafeEntry>();
  for (const s of spans) {
    // Copy into a fresh buffer: the file's offsets need not be aligned for the typed array.
    const copy = new Uint8Array(s.end - s.begin);
    copy.set(bytes.subarray(dataStart + s.begin, dataStart + s.end));
    const data = s.dtype === 'F32' ? new Float32Array(copy.buffer)
      : s.dtype === 'I32' ? new Int32Array(copy.buffer)
        : s.dtype === 'I8' ? new Int8Array(copy.buffer) : copy;
    tensors.set(s.name, { dtype: s.dtype, shape: s.shape, data });
  }
  return { tensors, metadata };
}

/** Read and validate a safetensors file. */
export function readSafetensors(file: string): SafetensorsContent {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new FqtError(e.code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${e.message})`);
  }
  return decodeSafetensors(bytes, file);
}

/** Write a safetensors file atomically (temporary file, fsync, rename). */
export function writeSafetensors(file: string, tensors: Iterable<[string, TensorLike]>, metadata: Record<string, string> = {}): void {
  const chunks = encodeSafetensors(tensors, metadata);
  try {
    writeFileAtomic(file, chunks);
  } catch (err) {
    throw new FqtError(`${file}: cannot write (${(err as Error).message})`);
  }
}
