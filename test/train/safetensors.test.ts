/** safetensors: round trips, a file written by the reference implementation, and every corruption case. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FqtError } from '../../src/tensor/errors.js';
import { decodeSafetensors, encodeSafetensors, readSafetensors, writeSafetensors } from '../../src/train/safetensors.js';

/** Written by huggingface safetensors 0.8.0 (safetensors.numpy.save) with F32/I32/I8/U8 tensors, a scalar and metadata. */
const REFERENCE_FILE = 'WAEAAAAAAAB7Il9fbWV0YWRhdGFfXyI6eyJyZWNpcGUiOiJpbnQ4LWZ3ZCIsIm5vdGUiOiLDqSJ9LCJzY2FsYXIiOnsiZHR5cGUiOiJGMzIiLCJzaGFwZSI6W10s' +
  'ImRhdGFfb2Zmc2V0cyI6WzAsNF19LCJ3Ijp7ImR0eXBlIjoiRjMyIiwic2hhcGUiOlsyLDNdLCJkYXRhX29mZnNldHMiOls0LDI4XX0sImlkeCI6eyJkdHlwZSI6IkkzMiIsInNo' +
  'YXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzI4LDQwXX0sImNvZGVzIjp7ImR0eXBlIjoiSTgiLCJzaGFwZSI6WzVdLCJkYXRhX29mZnNldHMiOls0MCw0NV19LCJwYWNrZWQiOnsi' +
  'ZHR5cGUiOiJVOCIsInNoYXBlIjpbM10sImRhdGFfb2Zmc2V0cyI6WzQ1LDQ4XX19ICAgICAgIAAAkEAAAMA/AAAQwAAAQEAAAAAAAAAAgG8SgzoHAAAA+P///////3+AfwAF/wD/EQ==';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'fqt-st-'));
}

function concat(chunks: Uint8Array[]): Buffer {
  return Buffer.concat(chunks.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength)));
}

/** A file with the given header (object or raw text) and data bytes, header length as declared unless overridden. */
function raw(header: object | string | Buffer, data: number[] | Uint8Array = [], declaredLen?: bigint): Buffer {
  const json = Buffer.isBuffer(header) ? header : Buffer.from(typeof header === 'string' ? header : JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declaredLen ?? BigInt(json.length));
  return Buffer.concat([len, json, Buffer.from(data)]);
}

function expectBad(bytes: Uint8Array, re: RegExp): void {
  assert.throws(() => decodeSafetensors(bytes, 'weights.safetensors'), (e: unknown) =>
    e instanceof FqtError && e.message.startsWith('weights.safetensors: not a valid safetensors file: ') && re.test(e.message),
  `expected an error matching ${re}`);
}

test('round trip of F32, I32, I8, U8, a scalar and an empty tensor, with metadata', () => {
  const tensors: [string, { shape: number[]; data: Float32Array | Int32Array | Int8Array | Uint8Array }][] = [
    ['codes', { shape: [3], data: Int8Array.of(-128, 0, 127) }],
    ['fc.weight', { shape: [2, 2], data: Float32Array.of(1.5, -0, 3e-39, -7) }],
    ['packed', { shape: [1], data: Uint8Array.of(255) }],
    ['idx', { shape: [2], data: Int32Array.of(-2147483648, 5) }],
    ['scalar', { shape: [], data: Float32Array.of(Math.fround(0.1)) }],
    ['empty', { shape: [0, 4], data: new Float32Array(0) }],
  ];
  const bytes = concat(encodeSafetensors(tensors, { label: 'w4a4', 'é': 'ü' }));
  const headerLen = Number(bytes.readBigUInt64LE(0));
  assert.equal(headerLen % 8, 0, 'header padded to a multiple of 8');
  assert.match(bytes.subarray(8, 8 + headerLen).toString('utf8'), /^\{.*\} *$/);
  const out = decodeSafetensors(bytes, 'x');
  assert.deepEqual(out.metadata, { label: 'w4a4', 'é': 'ü' });
  assert.equal(out.tensors.size, tensors.length);
  for (const [name, t] of tensors) {
    const got = out.tensors.get(name)!;
    assert.deepEqual(got.shape, t.shape, name);
    assert.equal(got.data.constructor, t.data.constructor, name);
    assert.deepEqual([...got.data], [...t.data], name);
  }
  // 4-byte types first, so every F32/I32 tensor is 4-byte aligned within the file.
  const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
  for (const [name, t] of tensors) if (t.data.BYTES_PER_ELEMENT === 4) assert.equal(header[name].data_offsets[0] % 4, 0, name);
});

test('a subarray view is written from its own bytes only', () => {
  const big = Float32Array.of(9, 1, 2, 9);
  const out = decodeSafetensors(concat(encodeSafetensors([['v', { shape: [2], data: big.subarray(1, 3) }]])), 'x');
  assert.deepEqual([...out.tensors.get('v')!.data], [1, 2]);
});

test('reads a file written by the reference implementation', () => {
  const out = decodeSafetensors(Buffer.from(REFERENCE_FILE, 'base64'), 'ref.safetensors');
  assert.deepEqual(out.metadata, { recipe: 'int8-fwd', note: 'é' });
  assert.deepEqual([...out.tensors.get('w')!.data], [1.5, -2.25, 3, 0, -0, Math.fround(1e-3)]);
  assert.deepEqual(out.tensors.get('w')!.shape, [2, 3]);
  assert.deepEqual(out.tensors.get('scalar')!.shape, []);
  assert.deepEqual([...out.tensors.get('idx')!.data], [7, -8, 2147483647]);
  assert.deepEqual([...out.tensors.get('codes')!.data], [-128, 127, 0, 5, -1]);
  assert.ok(out.tensors.get('packed')!.data instanceof Uint8Array);
  assert.deepEqual([...out.tensors.get('packed')!.data], [0, 255, 17]);
});

test('every corruption is an FqtError naming the file', () => {
  const f32 = (shape: number[], begin: number, end: number, dtype = 'F32') => ({ dtype, shape, data_offsets: [begin, end] });
  expectBad(new Uint8Array(0), /only 0 bytes/);
  expectBad(new Uint8Array(5), /only 5 bytes/);
  expectBad(raw({}, [], 1000n), /header length 1000 goes beyond the end of the file/);
  expectBad(raw({}, [], 1n << 62n), /goes beyond the end of the file/);
  expectBad(raw('{"a": '), /header is not valid UTF-8 JSON/);
  expectBad(raw(Buffer.from([0x7b, 0xff, 0x7d])), /not valid UTF-8 JSON/);
  expectBad(raw('[1, 2]'), /header is not a JSON object/);
  expectBad(raw({ __metadata__: { a: 1 } }), /metadata 'a' is not a string/);
  expectBad(raw({ __metadata__: [] }), /'__metadata__' is not an object/);
  expectBad(raw(' {}'), /header does not start with '\{'/);
  expectBad(raw({ w: { dtype: 'F32', shape: [1] } }), /tensor 'w' has invalid data_offsets/);
  expectBad(raw({ w: { ...f32([1], 0, 4), extra: 1 } }, [0, 0, 0, 0]), /tensor 'w' has unknown field 'extra'/);
  expectBad(raw({ w: f32([-1], 0, 4) }, [0, 0, 0, 0]), /tensor 'w' has an invalid shape \[-1\]/);
  expectBad(raw({ w: f32([1], 4, 0) }, [0, 0, 0, 0]), /invalid data_offsets \[4,0\]/);
  expectBad(raw({ w: f32([2], 0, 4) }, [0, 0, 0, 0]), /tensor 'w' \(F32 \[2\]\) needs 8 bytes but its data_offsets \[0, 4\] span 4/);
  expectBad(raw({ w: f32([2], 0, 8) }, [0, 0, 0, 0]), /tensor 'w' ends at data byte 8 but only 4 data bytes follow the header \(truncated\?\)/);
  expectBad(raw({ a: f32([2], 0, 8), b: f32([1], 4, 8) }, new Uint8Array(8)), /tensor '(a|b)' overlaps tensor '(a|b)'/);
  expectBad(raw({ a: f32([1], 0, 4), b: f32([1], 8, 12) }, new Uint8Array(12)), /data bytes \[4, 8\) before tensor 'b' belong to no tensor/);
  expectBad(raw({ a: f32([1], 0, 4) }, new Uint8Array(6)), /2 bytes after the last tensor belong to no tensor/);
  expectBad(raw({ a: 5 }), /tensor 'a' is not an object/);
  // A real file cut short anywhere fails cleanly.
  const good = concat(encodeSafetensors([['w', { shape: [3, 3], data: new Float32Array(9).fill(1) }]], { k: 'v' }));
  for (const cut of [1, 4, 35, good.length - 40, good.length - 1]) expectBad(good.subarray(0, good.length - cut), /truncated|belong to no tensor|not valid|too short|only/);
});

test('readSafetensors / writeSafetensors use the file system atomically and name the file', () => {
  const dir = tmpDir();
  const file = path.join(dir, 'w.safetensors');
  writeSafetensors(file, [['a', { shape: [2], data: Float32Array.of(1, 2) }]]);
  writeSafetensors(file, [['a', { shape: [2], data: Float32Array.of(3, 4) }]]);
  assert.deepEqual([...readSafetensors(file).tensors.get('a')!.data], [3, 4]);
  assert.deepEqual(fs.readdirSync(dir), ['w.safetensors'], 'no temporary files left');
  assert.throws(() => readSafetensors(path.join(dir, 'nope.safetensors')), /nope\.safetensors: no such file/);
  fs.writeFileSync(path.join(dir, 'bad.safetensors'), 'hello');
  assert.throws(() => readSafetensors(path.join(dir, 'bad.safetensors')), /bad\.safetensors: not a valid safetensors file/);
  assert.throws(() => writeSafetensors(path.join(dir, 'missing-dir', 'x.safetensors'), []), /x\.safetensors: cannot write/);
  fs.rmSync(dir, { recursive: true });
});

test('encoding rejects impossible input', () => {
  assert.throws(() => encodeSafetensors([['w', { shape: [3], data: new Float32Array(2) }]]), /'w' has 2 values, which does not match its shape \[3\]/);
  assert.throws(() => encodeSafetensors([['w', { shape: [1], data: new Float32Array(1) }], ['w', { shape: [1], data: new Float32Array(1) }]]), /'w' is given twice/);
  assert.throws(() => encodeSafetensors([['__metadata__', { shape: [1], data: new Float32Array(1) }]]), /invalid tensor name/);
  assert.throws(() => encodeSafetensors([['w', { shape: [1], data: [1] as unknown as Float32Array }]]), /unsupported array type \(writable: F32, F64, I64/);
});

test('an unsupported dtype is named as such, not as a corrupt file', () => {
  const f = (dtype: string, bytes: number) => raw({ w: { dtype, shape: [1], data_offsets: [0, bytes] } }, new Uint8Array(bytes));
  assert.throws(() => decodeSafetensors(f('F8_E4M3', 1), 'w.safetensors'), (e: unknown) => e instanceof FqtError &&
    /^w\.safetensors: tensor 'w' has dtype F8_E4M3, a safetensors dtype fqt cannot read \(fqt reads F32, F16, BF16, F64, I64/.test(e.message) && !/not a valid/.test(e.message));
  assert.throws(() => decodeSafetensors(f('Q4', 1), 'w.safetensors'), /dtype Q4, not a safetensors dtype/);
});

test('F64, I64, U64, I16, U16, U32 round trip; F64 reads back rounded to float32; 8-byte tensors come first', () => {
  const tensors: [string, { shape: number[]; data: Float64Array | BigInt64Array | BigUint64Array | Int16Array | Uint16Array | Uint32Array | Uint8Array }][] = [
    ['u8', { shape: [1], data: Uint8Array.of(7) }],
    ['f64', { shape: [2], data: Float64Array.of(1 / 3, -2) }],
    ['steps', { shape: [], data: BigInt64Array.of(-(2n ** 62n)) }],
    ['u64', { shape: [1], data: BigUint64Array.of(2n ** 63n) }],
    ['i16', { shape: [2], data: Int16Array.of(-32768, 5) }],
    ['u16', { shape: [1], data: Uint16Array.of(65535) }],
    ['u32', { shape: [1], data: Uint32Array.of(4294967295) }],
  ];
  const bytes = concat(encodeSafetensors(tensors));
  const out = decodeSafetensors(bytes, 'x');
  assert.deepEqual([...out.tensors.get('f64')!.data], [Math.fround(1 / 3), -2]);
  assert.equal(out.tensors.get('f64')!.dtype, 'F64');
  assert.deepEqual([...out.tensors.get('steps')!.data], [-(2n ** 62n)]);
  assert.deepEqual([...out.tensors.get('u64')!.data], [2n ** 63n]);
  assert.deepEqual([...out.tensors.get('i16')!.data], [-32768, 5]);
  assert.deepEqual([...out.tensors.get('u16')!.data], [65535]);
  assert.deepEqual([...out.tensors.get('u32')!.data], [4294967295]);
  // The layout the format's reference reader accepts: '{' first, padded header, offsets tiling the data from 0,
  // every tensor aligned to its element size.
  const n = Number(bytes.readBigUInt64LE(0));
  assert.equal(bytes[8], 0x7b);
  assert.equal(n % 8, 0);
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const spans = Object.values(header).map((h) => h.data_offsets).sort((a, b) => a[0] - b[0]);
  spans.forEach(([b], i) => assert.equal(b, i === 0 ? 0 : spans[i - 1][1]));
  assert.equal(spans[spans.length - 1][1], bytes.length - 8 - n);
  const size: Record<string, number> = { F64: 8, I64: 8, U64: 8, U32: 4, I16: 2, U16: 2, U8: 1 };
  for (const [name, h] of Object.entries(header)) assert.equal(h.data_offsets[0] % size[h.dtype], 0, `${name} aligned`);
});
