/**
 * The safetensors format (https://github.com/huggingface/safetensors), so weights load in PyTorch too:
 *
 *   [8 bytes: N, unsigned little-endian]  [N bytes: JSON header, padded with spaces to a multiple of 8]
 *   [data: raw little-endian tensor bytes]
 *   header = { name: {dtype, shape, data_offsets: [begin, end]}, ..., "__metadata__": {string: string} }
 *
 * Offsets are relative to the start of the data and must tile it exactly (no overlap, no hole, nothing
 * after the last tensor); the header starts with '{'. Reading validates all of that and names the file in every
 * error: a corrupt file says what is wrong, an unsupported dtype says which one and what fqt reads.
 * dtypes: F32, F16 and BF16 read as Float32Array (exact widening), F64 as Float32Array rounded to nearest (fqt
 * computes in float32), integers as their typed arrays (I64 / U64 as BigInt64Array / BigUint64Array), BOOL as
 * Uint8Array. Writing infers the dtype from the typed array (F32, F64, I64, U64, I32, U32, I16, U16, I8, U8).
 * PyTorch's integer buffers (num_batches_tracked) are not weights: floatWeights() skips them (train/torch-names.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import { check, FqtError } from '../tensor/errors.js';
import { fmtShape, shapeSize } from '../tensor/shape.js';
import { writeFileAtomic } from './atomic.js';

export type SafeDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'U64' | 'I32' | 'U32' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL';
/** Arrays with number elements (what a Tensor or an optimizer buffer holds, and what TensorLike writes). */
export type SafeArray = Float32Array | Float64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Int8Array | Uint8Array;
/** 64-bit integers (PyTorch's int64 buffers). */
export type SafeBigArray = BigInt64Array | BigUint64Array;

export interface SafeEntry {
  /** The dtype in the file (F16 / BF16 / F64 data is already converted to Float32Array). */
  dtype: SafeDType;
  shape: number[];
  data: SafeArray | SafeBigArray;
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

/** TensorLike or a 64-bit integer tensor (e.g. PyTorch's num_batches_tracked when exporting). */
export interface AnyTensorLike {
  readonly shape: readonly number[];
  readonly data: SafeArray | SafeBigArray;
}

const ELEMENT_BYTES: Record<SafeDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1 };
const SUPPORTED = Object.keys(ELEMENT_BYTES) as SafeDType[];
/** Other dtypes of the format (8-, 6- and 4-bit floats): named as unsupported, not as corruption. */
const KNOWN_UNSUPPORTED = ['F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F6_E2M3', 'F6_E3M2', 'F4', 'C64'];
/** Same limit as the reference implementation: a larger header is a corrupt file, not a real one. */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

function assertLittleEndianHost(): void {
  check(os.endianness() === 'LE', 'safetensors: big-endian hosts are not supported');
}

const WRITE_DTYPES: [new (n: number) => SafeArray | SafeBigArray, SafeDType][] = [
  [Float32Array, 'F32'], [Float64Array, 'F64'], [BigInt64Array, 'I64'], [BigUint64Array, 'U64'], [Int32Array, 'I32'],
  [Uint32Array, 'U32'], [Int16Array, 'I16'], [Uint16Array, 'U16'], [Int8Array, 'I8'], [Uint8Array, 'U8'],
];

function dtypeOf(data: SafeArray | SafeBigArray): SafeDType | undefined {
  return WRITE_DTYPES.find(([cls]) => data instanceof cls)?.[1];
}

/** float16 bits → float32 value (exact). */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** The typed array of `bytes` (a fresh, aligned copy) as fqt holds dtype `d`. */
function decodeData(d: SafeDType, bytes: Uint8Array): SafeArray | SafeBigArray {
  const b = bytes.buffer as ArrayBuffer;
  switch (d) {
    case 'F32': return new Float32Array(b);
    case 'F64': return Float32Array.from(new Float64Array(b));
    case 'F16': return Float32Array.from(new Uint16Array(b), halfToFloat);
    case 'BF16': return new Float32Array(Uint32Array.from(new Uint16Array(b), (h) => h << 16).buffer);
    case 'I64': return new BigInt64Array(b);
    case 'U64': return new BigUint64Array(b);
    case 'I32': return new Int32Array(b);
    case 'U32': return new Uint32Array(b);
    case 'I16': return new Int16Array(b);
    case 'U16': return new Uint16Array(b);
    case 'I8': return new Int8Array(b);
    case 'U8': case 'BOOL': return bytes;
    default: return d satisfies never;
  }
}

/**
 * Serialize to the chunks of a safetensors file (header, then each tensor's bytes without copying).
 * 4-byte dtypes come first so that every tensor is aligned to its element size in the file.
 */
export function encodeSafetensors(tensors: Iterable<[string, AnyTensorLike]>, metadata: Record<string, string> = {}): Uint8Array[] {
  assertLittleEndianHost();
  const entries: [string, AnyTensorLike, SafeDType][] = [];
  const names = new Set<string>();
  for (const [name, t] of tensors) {
    check(typeof name === 'string' && name.length > 0 && name !== METADATA_KEY, () => `safetensors: invalid tensor name ${JSON.stringify(name)}`);
    check(!names.has(name), () => `safetensors: tensor '${name}' is given twice`);
    names.add(name);
    const dtype = dtypeOf(t.data);
    check(dtype !== undefined, () => `safetensors: tensor '${name}' has an unsupported array type (writable: ${WRITE_DTYPES.map(([, d]) => d).join(', ')})`);
    check(t.shape.every((d) => Number.isInteger(d) && d >= 0) && shapeSize(t.shape) === t.data.length, () =>
      `safetensors: tensor '${name}' has ${t.data.length} values, which does not match its shape ${fmtShape(t.shape)}`);
    entries.push([name, t, dtype]);
  }
  for (const [k, v] of Object.entries(metadata)) {
    check(typeof v === 'string', () => `safetensors: metadata '${k}' must be a string, got ${typeof v}`);
  }
  entries.sort((a, b) => ELEMENT_BYTES[b[2]] - ELEMENT_BYTES[a[2]]); // stable: keeps order within a dtype size (aligned data)

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
  if (bytes[8] !== 0x7b) throw bad("header does not start with '{' (the reference reader refuses it)");

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
    if (!(SUPPORTED as string[]).includes(dtype)) {
      const what = KNOWN_UNSUPPORTED.includes(dtype) ? 'a safetensors dtype fqt cannot read' : 'not a safetensors dtype';
      throw new FqtError(`${file}: tensor '${name}' has dtype ${dtype}, ${what} (fqt reads ${SUPPORTED.join(', ')})`);
    }
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
    tensors.set(s.name, { dtype: s.dtype, shape: s.shape, data: decodeData(s.dtype, copy) });
  }
  return { tensors, metadata };
}

/** The bytes of `file`, or an FqtError: `${file}: ${missing}` when it does not exist, else naming the read error. */
export function readFileBytes(file: string, missing = 'no such file'): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new FqtError(e.code === 'ENOENT' ? `${file}: ${missing}` : `${file}: cannot read (${e.message})`);
  }
}

/** Read and validate a safetensors file. */
export function readSafetensors(file: string): SafetensorsContent {
  return decodeSafetensors(readFileBytes(file), file);
}

/** Write a safetensors file atomically (temporary file, fsync, rename). */
export function writeSafetensors(file: string, tensors: Iterable<[string, AnyTensorLike]>, metadata: Record<string, string> = {}): void {
  const chunks = encodeSafetensors(tensors, metadata);
  try {
    writeFileAtomic(file, chunks);
  } catch (err) {
    throw new FqtError(`${file}: cannot write (${(err as Error).message})`);
  }
}

/** PyTorch's integer buffers that are not weights (BatchNorm's step counter): skipped when loading weights. */
export const IGNORED_INTEGER_BUFFERS = ['num_batches_tracked'];

export function isIgnoredBuffer(name: string): boolean {
  return IGNORED_INTEGER_BUFFERS.some((b) => name === b || name.endsWith(`.${b}`));
}

/**
 * The float tensors of a weights file as Float32Array (F16 / BF16 / F64 converted on read). Integer buffers named in
 * IGNORED_INTEGER_BUFFERS are skipped; any other integer tensor is an error naming it (fqt's weights are all float).
 */
export function floatWeights(content: SafetensorsContent, file: string): SafetensorsContent {
  const tensors = new Map<string, SafeEntry>();
  for (const [name, e] of content.tensors) {
    if (e.data instanceof Float32Array) { tensors.set(name, e); continue; }
    if (isIgnoredBuffer(name)) continue;
    throw new FqtError(`${file}: tensor '${name}' has dtype ${e.dtype}; fqt loads weights from float tensors (F32, F16, BF16, F64) and skips only ${IGNORED_INTEGER_BUFFERS.join(', ')}`);
  }
  return { tensors, metadata: content.metadata };
}
