/**
 * Transformer modules: Embedding, LayerNorm, RMSNorm, multi-head attention (causal or not), the GELU MLP or SwiGLU
 * feed-forward, and the pre-norm block x + attn(norm(x)), x + ffn(norm(x)). The projections are Linear layers, so
 * applyRecipe quantizes them like any GEMM layer; the two batched products of attention (Q·Kᵀ and P·V) are
 * AttentionGemm modules, a GEMM layer without a weight whose `bmm` slot applyRecipe fills from the recipe's
 * `attention` slots (quant/attention.ts; fp32 by default).
 */
import { Module } from './module.js';
import { Linear } from './layers.js';
import { Tensor } from '../tensor/tensor.js';
import { check, FqtError } from '../tensor/errors.js';
import { fmtShape } from '../tensor/shape.js';
import type { Rng } from '../tensor/random.js';
import { add, mul, scale } from '../ops/elementwise.js';
import { permute, reshape, slice, transpose } from '../ops/movement.js';
import { dropout } from '../ops/norm.js';
import { bmm, embedding, gelu, layerNorm, rmsNorm, silu, softmax } from '../ops/transformer.js';

/** Normal(0, std²) values (GPT-2's 0.02 for embeddings). */
export function normalInit(rng: Rng, size: number, std: number): Float32Array {
  const out = new Float32Array(size);
  rng.fillNormal(out, 0, std);
  return out;
}

export class Embedding extends Module {
  readonly weight: Tensor;
  constructor(readonly vocab: number, readonly dim: number, rng: Rng) {
    super();
    this.weight = this.addParameter('weight', normalInit(rng, vocab * dim, 0.02), [vocab, dim]);
  }
  /** x holds token ids as floats (exact integers); output [...x.shape, dim]. */
  forward(x: Tensor): Tensor { return embedding(Int32Array.from(x.data), x.shape, this.weight); }
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-5) {
    super();
    this.weight = this.addParameter('weight', new Float32Array(dim).fill(1), [dim]);
    this.bias = this.addParameter('bias', new Float32Array(dim), [dim]);
  }
  forward(x: Tensor): Tensor { return layerNorm(x, this.weight, this.bias, this.eps); }
}

export class RMSNorm extends Module {
  readonly weight: Tensor;
  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.weight = this.addParameter('weight', new Float32Array(dim).fill(1), [dim]);
  }
  forward(x: Tensor): Tensor { return rmsNorm(x, this.weight, this.eps); }
}

/** A batched NT product C[b] = A[b]·B[b]ᵀ ([batch, m, k] × [batch, n, k]). */
export type BatchedGemm = (a: Tensor, b: Tensor) => Tensor;

/**
 * One of attention's two batched products, as a GEMM layer without a weight: `bmm` is the fp32 batched GEMM until
 * applyRecipe installs the recipe's attention slots (A in the x slots, B in the w slots). `role` names it in the
 * resolved recipe table ('scores' = Q·Kᵀ, 'context' = P·V).
 */
export class AttentionGemm extends Module {
  bmm: BatchedGemm = bmm;
  constructor(readonly role: 'scores' | 'context') { super(); }
  product(a: Tensor, b: Tensor): Tensor { return this.bmm(a, b); }
  forward(): Tensor {
    throw new FqtError(`AttentionGemm '${this.role}' multiplies two tensors: call product(a, b)`);
  }
}

export interface AttentionOptions {
  heads: number;
  causal: boolean;
  /** Dropout on the attention probabilities (default 0). */
  dropout?: number;
}

/** Multi-head self-attention on x [batch, tokens, dim]: softmax(Q·Kᵀ/√d_h)·V per head, then a projection. */
export class MultiHeadAttention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly scores = this.addModule('scores', new AttentionGemm('scores'));
  readonly context = this.addModule('context', new AttentionGemm('context'));

  constructor(readonly dim: number, readonly opts: AttentionOptions, private readonly rng: Rng) {
    super();
    check(dim % opts.heads === 0, () => `attention: dim ${dim} is not divisible by ${opts.heads} heads`);
    this.qkv = this.addModule('qkv', new Linear(dim, 3 * dim, rng));
    this.proj = this.addModule('proj', new Linear(dim, dim, rng));
  }

  forward(x: Tensor): Tensor {
    check(x.rank === 3 && x.shape[2] === this.dim, () => `attention: input ${fmtShape(x.shape)} should be [batch, tokens, ${this.dim}]`);
    const [b, t, d] = x.shape, h = this.opts.heads, dh = d / h;
    const qkv = this.qkv.forward(reshape(x, [b * t, d]));
    const parts = permute(reshape(qkv, [b, t, 3, h, dh]), [2, 0, 3, 1, 4]); // [3, b, h, t, dh]
    const part = (i: number) => reshape(slice(parts, [i], [i + 1]), [b * h, t, dh]);
    const s = scale(this.scores.product(part(0), part(1)), 1 / Math.sqrt(dh));
    const p = dropout(softmax(s, this.opts.causal), this.opts.dropout ?? 0, this.training, this.rng);
    const o = this.context.product(p, transpose(part(2))); // P·V = P·(Vᵀ)ᵀ: [b·h, t, dh]
    const merged = reshape(permute(reshape(o, [b, h, t, dh]), [0, 2, 1, 3]), [b * t, d]);
    return reshape(this.proj.forward(merged), [b, t, d]);
  }
}

/** The feed-forward of a block: Linear → GELU → Linear, or SwiGLU: (SiLU(x·W1ᵀ) ⊙ x·W3ᵀ)·W2ᵀ. */
export class FeedForward extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly gate: Linear | null;
  constructor(dim: number, hidden: number, readonly kind: 'gelu' | 'swiglu', rng: Rng) {
    super();
    this.fc1 = this.addModule('fc1', new Linear(dim, hidden, rng));
    this.gate = kind === 'swiglu' ? this.addModule('gate', new Linear(dim, hidden, rng)) : null;
    this.fc2 = this.addModule('fc2', new Linear(hidden, dim, rng));
  }
  forward(x: Tensor): Tensor {
    const [b, t, d] = x.shape;
    const x2 = reshape(x, [b * t, d]);
    const h = this.gate ? mul(silu(this.fc1.forward(x2)), this.gate.forward(x2)) : gelu(this.fc1.forward(x2));
    return reshape(this.fc2.forward(h), [b, t, d]);
  }
}

export interface BlockOptions extends AttentionOptions {
  hidden: number;
  ffn: 'gelu' | 'swiglu';
  norm: 'layer' | 'rms';
}

/** Pre-norm transformer block: x + attn(norm1(x)), then + ffn(norm2(x)). */
export class TransformerBlock extends Module {
  readonly norm1: Module;
  readonly attn: MultiHeadAttention;
  readonly norm2: Module;
  readonly ffn: FeedForward;
  constructor(dim: number, opts: BlockOptions, rng: Rng) {
    super();
    const norm = () => (opts.norm === 'rms' ? new RMSNorm(dim) : new LayerNorm(dim));
    this.norm1 = this.addModule('norm1', norm());
    this.attn = this.addModule('attn', new MultiHeadAttention(dim, opts, rng));
    this.norm2 = this.addModule('norm2', norm());
    this.ffn = this.addModule('ffn', new FeedForward(dim, opts.hidden, opts.ffn, rng));
  }
  forward(x: Tensor): Tensor {
    const y = add(x, this.attn.forward(this.norm1.forward(x)));
    return add(y, this.ffn.forward(this.norm2.forward(y)));
  }
}
