/**
 * Binary forward quantizer of 1-bit FQT (METHODS §3.2): xb = sign(x) with sign(0) = +1, clipped STE
 * 1{|x| < 1} (§0.4). The operand is a 1-bit QTensor with one group: code 1 ⇔ x ≥ 0, x̂ = −1 + 2·code, so every
 * GEMM path can consume it (the bit paths pack its signs for gemmB1 / gemmBitplane). On the weight slot,
 * scale 'channel' asks applyRecipe for a learnable per-output-channel scale a_c (init 1) on the GEMM output.
 * sign(0) = +1 means the zeros that im2col writes for conv padding are not representable: qgemm passes the
 * padding mask with the operand and the GEMM corrects for it (quant/gemm/bit.ts).
 */
import { backend } from '../../backend/index.js';
import type { Quantizer } from '../quantize.js';
import type { QTensor } from '../qtensor.js';
import { groupingOf } from '../qtensor.js';
import type { SignSpec } from '../spec.js';
import { checkKeys, expectOneOf, fail } from '../validate.js';

/**
 * codes[i] = 1 if x[i] ≥ 0 else 0 (sign(0) = +1), the bits of packSigns and of the fused binary layers, by the
 * signCodes kernel. A NaN cannot be a ±1 code (torch.sign(NaN) = NaN): it makes the group's offset and scale NaN, so
 * every GEMM path gives NaN (the bit paths check the scale, quant/gemm/bit.ts).
 */
export function signQTensor(x: Float32Array, rows: number, cols: number): QTensor {
  const n = rows * cols;
  const codes = new Uint8Array(n);
  const nan = new Int32Array(1);
  if (n > 0) backend().signCodes(n, x, codes, nan);
  const grouping = groupingOf('tensor', rows, cols, 1);
  return {
    rows, cols, bits: 1, format: 'asymmetric', signed: false, rounding: 'nearest', grouping, codes,
    offset: Float32Array.of(nan[0] ? NaN : -1), scale: Float32Array.of(nan[0] ? NaN : 2), zeroPoint: Int32Array.of(0), qmin: 0, qmax: 1, draw: null,
  };
}

export const signQuantizer: Quantizer<'sign'> = {
  kind: 'sign',

  parse(raw, path, role) {
    if (role === 'dy') fail(`${path}.kind`, `'sign' binarizes forward operands: use it in forward.x / forward.w (or a backward w / x slot), not in a 'dy' slot`);
    checkKeys(raw, ['kind', 'ste', 'scale'], path);
    const ste = raw.ste === undefined ? 'clipped' : expectOneOf(raw.ste, `${path}.ste`, ['clipped', 'identity'] as const);
    const scale = raw.scale === undefined ? (role === 'w' ? 'channel' : 'none') : expectOneOf(raw.scale, `${path}.scale`, ['channel', 'none'] as const);
    if (scale === 'channel' && role !== 'w') fail(`${path}.scale`, `'channel' (the learnable output scale a_c) belongs on the weight slot, not on '${role}'`);
    return { kind: 'sign', ste, scale };
  },

  label: (s: SignSpec) => `sign/${s.ste === 'clipped' ? 'clip' : 'ste'}${s.scale === 'channel' ? '+a_c' : ''}`,
  code: (s) => (s.scale === 'channel' ? 'b1a' : 'b1'),
  codeBits: () => 1,
  stochastic: () => false,
  mixesRows: () => false,
  grouping: (_s, rows, cols) => groupingOf('tensor', rows, cols, 1),
  bitRole: () => 'sign',
  zeroNotExact: () => true,
  outputScale: (s) => s.scale === 'channel',

  steClip: (s) => (s.ste === 'clipped' ? 1 : null),
  steMask(s, x) {
    const c = signQuantizer.steClip!(s);
    if (c === null) return null;
    const mask = new Float32Array(x.length);
    backend().unary('insideMask', x, mask, -c, c);
    return mask;
  },

  quantize(_s, x, rows, cols) {
    return { q: signQTensor(x, rows, cols), transform: null };
  },
};
