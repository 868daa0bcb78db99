/**
 * What a backward closure keeps of an input it needs the values of. By default the tensor's own data; when the
 * op that produced the tensor registered a recomputation — a deterministic function of state it keeps for its
 * own backward anyway (a quantized layer's integer codes, quant/gemm/fused.ts) — the closure keeps that function
 * instead and calls it during the backward, so the float32 values are not held between forward and backward.
 * The recomputation must return exactly the forward values (the fused kernels are bit-reproducible).
 */
import type { Tensor } from '../tensor/tensor.js';

const recomputations = new WeakMap<Tensor, () => Float32Array>();

/** Register how to recompute `t`'s values from what its producer keeps (called by that producer). */
export function setRecompute(t: Tensor, fn: () => Float32Array): void {
  recomputations.set(t, fn);
}

/** A getter of `t`'s values for a backward closure: it holds the recomputation when there is one, else `t.data`. */
export function savedValues(t: Tensor): () => Float32Array {
  const fn = recomputations.get(t);
  if (fn) return fn;
  const data = t.data;
  return () => data;
}
