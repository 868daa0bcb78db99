/** quant/nibbles.ts: codes of at most 4 bits kept two per byte come back bit for bit, scales and groups included. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/tensor/random.js';
import { fitsNibbles, packNibbleCodes, unpackNibbleCodes } from '../../src/quant/nibbles.js';
import { makeGrouping, quantizeMatrix } from '../../src/quant/qtensor.js';
import type { IntFormat } from '../../src/quant/spec.js';
import { forEachBackend } from '../helpers/backends.js';

function quantized(format: IntFormat, bits: number, rows: number, cols: number) {
  const x = new Float32Array(rows * cols);
  new Rng(4).fillNormal(x);
  return quantizeMatrix(x, rows, cols, { format, bits, grouping: makeGrouping(rows, cols, 1, rows, cols), rounding: 'nearest' });
}

forEachBackend('4-bit codes (unsigned and signed, odd counts) survive packing bit for bit with their scales and groups', () => {
  for (const format of ['asymmetric', 'symmetric'] as const) {
    for (const [rows, cols] of [[3, 5], [16, 64], [1, 1], [0, 4]]) {
      const q = quantized(format, 4, rows, cols);
      assert.ok(fitsNibbles(q), `${format} 4-bit fits`);
      const packed = packNibbleCodes(q);
      assert.equal(packed.packed.length, Math.ceil((rows * cols) / 2));
      const back = unpackNibbleCodes(packed);
      assert.equal(back.codes.constructor, q.codes.constructor);
      assert.deepEqual(Array.from(back.codes), Array.from(q.codes));
      assert.deepEqual(back.scale, q.scale);
      assert.deepEqual(back.grouping, q.grouping);
      assert.equal(back.bits, 4);
    }
  }
});

test('codes wider than 4 bits are never packed', () => {
  assert.equal(fitsNibbles(quantized('asymmetric', 5, 4, 4)), false);
  assert.equal(fitsNibbles(quantized('symmetric', 8, 4, 4)), false);
  assert.equal(fitsNibbles(quantized('asymmetric', 2, 4, 4)), true);
});
