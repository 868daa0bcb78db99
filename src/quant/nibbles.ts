/**
 * Codes of at most 4 bits kept two per byte (issue 13: a quantized layer keeps its input for the backward pass at
 * the input's bit width). packed() is what a closure holds between the forward and the backward pass; unpacked()
 * gives the byte-per-code QTensor back, bit for bit, when a kernel needs it.
 */
import { backend } from '../backend/index.js';
import type { QTensor } from './qtensor.js';

export interface NibbleCodes {
  /** The QTensor without its codes (scales, offsets, groups, draw). */
  readonly meta: Omit<QTensor, 'codes'>;
  readonly packed: Uint8Array;
  readonly signed: boolean;
  readonly count: number;
}

/** Whether every code of q fits a nibble: unsigned 0..15 or signed −8..7 (by its format's range, not its values). */
export function fitsNibbles(q: QTensor): boolean {
  if (q.levels !== undefined) return false;
  return q.codes instanceof Int8Array ? q.qmin >= -8 && q.qmax <= 7 : q.qmin >= 0 && q.qmax <= 15;
}

export function packNibbleCodes(q: QTensor): NibbleCodes {
  const { codes, ...meta } = q;
  const packed = new Uint8Array(Math.ceil(codes.length / 2));
  if (codes.length > 0) backend().packNibbles(codes, packed);
  return { meta, packed, signed: codes instanceof Int8Array, count: codes.length };
}

export function unpackNibbleCodes(p: NibbleCodes): QTensor {
  const codes = p.signed ? new Int8Array(p.count) : new Uint8Array(p.count);
  if (p.count > 0) backend().unpackNibbles(p.packed, codes);
  return { ...p.meta, codes };
}
