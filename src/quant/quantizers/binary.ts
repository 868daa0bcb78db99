/**
 * Binary forward quantizer of 1-bit FQT (METHODS §3.2): xb = sign(x) with sign(0) = +1, clipped STE
 * 1{|x| < 1} (§0.4). The operand is a 1-bit QTensor with one group: code 1 ⇔ x ≥ 0, x̂ = −1 + 2·code, so every
 * GEMM path can consume it (the bit paths pack its signs for gemmB1 / gemmBitplane). On the weight slot,
 * scale 'channel' asks applyRecipe for a learnable per-output-channel scale a_c (init 1) on the GEMM output.
 * sign(0) = +1 means the zeros that im2col writes for conv padding are not representable: qgemm passes the
 * padding mask with the operand and the GEMM corrects for it (quant/bit-gemm.ts).
 */
import { backend } from '../../backend/index.js';
import type { Quantizer } from '../quantize.js';
import type { QTensor } from '../qtensor.js';
import { groupingOf } from '../qtensor.js';
import type { SignSpec } from '../spec.js';
import { checkKeys, expectOneOf, fail } from '../validate.js';

/** The float 1{x ≥ 0} behind each sign QTensor, so the bit paths pack it without converting the codes back. */
const indicatorCache = new WeakMap<QTensor, Float32Array>();

/** 1{x ≥ 0} ∈ {0, 1} as float32 for a QTensor made by signQTensor (undefined for any other). */
export function signIndicator(q: QTensor): Float32Array | undefined {
  return indicatorCache.get(q);
}

/**
 * codes[i] = 1 if x[i] ≥ 0 else 0, with elementwise kernels only: 1{x ≥ 0} = 1 − step(−x) (step = 1{· > 0}),
 * converted exactly to bytes by the typed-array constructor.
 */
export function signQTensor(x: Float32Array, rows: number, cols: number): QTensor {
  const be = backend();
  const n = rows * cols;
  const a = new Float32Array(n), b = new Float32Array(n);
  be.unary('neg', x, a, 0, 0);
  be.unary('step', a, b, 0, 0); // 1{x < 0}
  be.unary('addScalar', b, a, -1, 0); // 1{x < 0} − 1 ∈ {−1, 0}
  be.unary('neg', a, b, 0, 0); // 1{x ≥ 0}
  const codes = new Uint8Array(b);
  const grouping = groupingOf('tensor', rows, cols, 1);
  const q: QTensor = {
    rows, cols, bits: 1, format: 'asymmetric', signed: false, rounding: 'nearest', grouping, codes,
    offset: Float32Array.of(-1), scale: Float32Array.of(2), zeroPoint: Int32Array.of(0), qmin: 0, qmax: 1, draw: null,
  };
  indicatorCache.set(q, b);
  return q;
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

  steMask(s, x) {
    if (s.ste === 'identity') return null;
    const mask = new Float32Array(x.length);
    backend().unary('insideMask', x, mask, -1, 1);
    return mask;
  },

  quantize(_s, x, rows, cols) {
    return { q: signQTensor(x, rows, cols), transform: null };
  },
};
