/**
 * Attention's batched products as GEMM layers of a recipe (nn/transformer.ts AttentionGemm): recipe.attention holds
 * the slots of C[b] = A[b]·B[b]ᵀ with the left operand A in the x slots, the right operand B in the w slots and dC in
 * dy — exactly a layer's triple per batch entry (forward C = Q(A)·Q(B)ᵀ, grad-input dA = Q(dC)·Q(B), grad-weight
 * dB = Q(dC)ᵀ·Q(A)), so the paths, quantizers and the backward loop (draws, SMP) are the layer GEMMs' (gemm/). Each
 * batch entry (one head of one sample) is quantized on its own: a per-tensor scale is per head. Absent: fp32 (the
 * batched fp32 kernel). The Hadamard slots (recipe.hadamard) apply to the layer GEMMs only.
 */
import { record } from '../autograd/graph.js';
import { Tensor } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import { effectiveSpec, layerBackward, plansFor, type QGemmConfig, quantOperand } from './gemm/layer.js';
import type { GemmOperand } from './gemm/operand.js';
import { runGemm } from './gemm/run.js';

/** What applyRecipe needs of an attention product module (nn/ AttentionGemm, structurally). */
export interface AttentionGemmLike {
  bmm: (a: Tensor, b: Tensor) => Tensor;
  readonly role: string;
}

export function isAttentionGemm(m: unknown): m is AttentionGemmLike {
  const o = m as Partial<AttentionGemmLike> | null;
  return typeof o === 'object' && o !== null && typeof o.bmm === 'function' && typeof o.role === 'string';
}

/** C[b] = Q(A[b])·Q(B[b])ᵀ with the slots of `cfg` (see the file comment). */
export function qbmm(a: Tensor, b: Tensor, cfg: QGemmConfig): Tensor {
  check(a.rank === 3 && b.rank === 3 && a.shape[0] === b.shape[0] && a.shape[2] === b.shape[2],
    () => `bmm: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} do not fit (need [batch, m, k] and [batch, n, k])`);
  const [batch, m, k] = a.shape, n = b.shape[1];
  const { slots } = cfg;
  const plans = plansFor(cfg, k, n, 1, false);
  const part = (t: Tensor, i: number, rows: number) => t.data.subarray(i * rows * k, (i + 1) * rows * k);
  const aOps: GemmOperand[] = [], bOps: GemmOperand[] = [];
  const c = new Float32Array(batch * m * n);
  for (let i = 0; i < batch; i++) {
    aOps.push(quantOperand(cfg, ['forward', 'x'], effectiveSpec(slots.forward.x, 'fp32'), part(a, i, m), m, k, 1));
    bOps.push(quantOperand(cfg, ['forward', 'w'], effectiveSpec(slots.forward.w, 'fp32'), part(b, i, n), n, k, 1));
    c.set(runGemm(aOps[i], false, bOps[i], false, plans.forward), i * m * n);
  }
  const reuse = (slot: unknown, ops: GemmOperand[], gemm: 'gradInput' | 'gradWeight', op: 'w' | 'x', t: Tensor, rows: number, i: number) =>
    slot === 'forward' ? ops[i] : quantOperand(cfg, [gemm, op], effectiveSpec(slot as 'fp32', 'fp32'), part(t, i, rows), rows, k, 1);
  return record(new Tensor(c, [batch, m, n]), 'qbmm', [a, b], (g) => {
    const da = a.requiresGrad ? new Float32Array(a.size) : null, db = b.requiresGrad ? new Float32Array(b.size) : null;
    for (let i = 0; i < batch; i++) {
      const gi = g.data.subarray(i * m * n, (i + 1) * m * n);
      const { dx, dw } = layerBackward(cfg, {
        quantizeDy: (gemm) => quantOperand(cfg, [gemm, 'dy'], effectiveSpec(slots[gemm].dy, 'fp32'), gi, m, n, 1),
        gradInput: da ? (dy) => runGemm(dy, false, reuse(slots.gradInput.w, bOps, 'gradInput', 'w', b, n, i), true, plans.gradInput) : null,
        gradWeight: db ? (dy) => runGemm(dy, true, reuse(slots.gradWeight.x, aOps, 'gradWeight', 'x', a, m, i), true, plans.gradWeight) : null,
      });
      if (da && dx) da.set(dx, i * m * k);
      if (db && dw) db.set(dw, i * n * k);
    }
    return [da && new Tensor(da, a.shape), db && new Tensor(db, b.shape)];
  });
}
