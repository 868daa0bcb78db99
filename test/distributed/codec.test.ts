/**
 * The all-reduce codecs are lossless carriers of fqt's quantizers: decode(encode(x)) equals the quantizer's own
 * dequantized output bit for bit (PSQ per bucket, LUQ per bucket through its scale equivariance), and the block
 * sizes give the compression factors docs/DISTRIBUTED.md states. gloo's ring schedule (distributed/ring.ts) sends the
 * textbook 2(N − 1)/N of the buffer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bucketCodec, type CodedMode } from '../../src/distributed/codec.js';
import { ringBytesSent } from '../../src/distributed/ring.js';
import { dequantize } from '../../src/quant/qtensor.js';
import { quantizeWith } from '../../src/quant/quantizers/index.js';
import type { QuantSpec } from '../../src/quant/spec.js';
import { Rng } from '../../src/tensor/random.js';

/** Heavy-tailed values with exact zeros: N(0,1)·exp(2·N(0,1)), every 7th element 0. */
function gradient(n: number, seed: number): Float32Array {
  const a = new Float32Array(n), b = new Float32Array(n), rng = new Rng(seed);
  rng.fillNormal(a);
  rng.fillNormal(b);
  return a.map((v, i) => (i % 7 === 0 ? 0 : v * Math.exp(2 * b[i])));
}

const SPECS: Record<CodedMode, QuantSpec> = {
  psq8: { kind: 'uniform', bits: 8, format: 'zeroAligned', granularity: 'row', rounding: 'stochastic' },
  psq4: { kind: 'uniform', bits: 4, format: 'zeroAligned', granularity: 'row', rounding: 'stochastic' },
  luq4: { kind: 'luq', bits: 4 },
};

for (const mode of ['psq8', 'psq4', 'luq4'] as const) {
  test(`${mode}: every bucket decodes to exactly what the quantizer gives it (same draw)`, () => {
    const codec = bucketCodec(mode, 64);
    const x = gradient(64 * 5, 3);
    for (let k = 0; k < 5; k++) {
      const bucket = x.subarray(k * 64, (k + 1) * 64);
      for (const phase of [0, 1]) {
        const bytes = new Uint8Array(codec.blockBytes);
        codec.encode(bucket, bytes, 11, 0, phase);
        const got = new Float32Array(64);
        codec.decode(bytes, got);
        const { q } = quantizeWith(SPECS[mode], bucket, 1, 64, { rowsPerSample: 1, draw: { seed: 11, stream: phase } });
        assert.deepEqual(got, dequantize(q), `bucket ${k}, phase ${phase}`);
      }
    }
  });
}

test('several buckets in one call: each keeps its own scale; the draw depends on the first block and the phase', () => {
  for (const mode of ['psq4', 'luq4'] as const) {
    const codec = bucketCodec(mode, 32);
    const x = gradient(32 * 4, 5);
    x.subarray(32, 64).fill(0); // an all-zero bucket stays exactly zero
    const bytes = new Uint8Array(4 * codec.blockBytes), out = new Float32Array(x.length);
    codec.encode(x, bytes, 7, 0, 0);
    codec.decode(bytes, out);
    assert.ok(out.subarray(32, 64).every((v) => v === 0), `${mode}: zero bucket`);
    const again = new Uint8Array(bytes.length);
    codec.encode(x, again, 7, 0, 0);
    assert.deepEqual(again, bytes, `${mode}: same draw, same bytes`);
    codec.encode(x, again, 7, 0, 1);
    assert.notDeepEqual(again, bytes, `${mode}: another phase, another draw`);
  }
});

test('block sizes: 4-bit codecs send ≥ 7× fewer bytes than fp32 at the default bucket, 8-bit ≈ 4×', () => {
  const ratio = (m: CodedMode, g = 512): number => (4 * g) / bucketCodec(m, g).blockBytes;
  assert.ok(ratio('psq4') >= 7.7 && ratio('luq4') >= 7.8, `${ratio('psq4')} ${ratio('luq4')}`);
  assert.ok(ratio('psq8') > 3.9 && ratio('psq8') < 4);
  assert.throws(() => bucketCodec('psq4', 12), /multiple of 8/);
});

test("ring bytes: gloo's schedule sends 2(N − 1)/N of the buffer per rank, nothing for one rank", () => {
  assert.equal(ringBytesSent(1000, 4, 1, 0), 0);
  for (const size of [2, 3, 4, 8]) {
    const elements = 3 * 1024 * 1024 + 17; // several segments per rank, a short last one
    const total = Array.from({ length: size }, (_, r) => ringBytesSent(elements, 4, size, r)).reduce((a, b) => a + b);
    assert.equal(total, 2 * (size - 1) * elements * 4, `size ${size}: every byte crosses size − 1 links in each phase`);
  }
  assert.equal(ringBytesSent(10, 264, 2, 0) % 264, 0, 'segments are whole elements');
});
