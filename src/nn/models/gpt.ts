/**
 * gpt-tiny: a character-level causal language model. Token embedding + learned position embedding → pre-norm
 * blocks (causal attention, GELU MLP) → LayerNorm → Linear head over the vocabulary (the last GEMM layer). The input
 * is a batch of token windows [batch, 1, 1, T + 1] (ids as floats, data/text.ts): tokens 0..T−1 are read, and the
 * language-model task scores the logits [batch·T, vocab] against tokens 1..T. Defaults: dim 128, depth 4, 4 heads,
 * MLP 512, context = the data's window.
 */
import { Module } from '../module.js';
import { Linear, Sequential } from '../layers.js';
import { Embedding, LayerNorm, normalInit, TransformerBlock } from '../transformer.js';
import { Tensor } from '../../tensor/tensor.js';
import { check } from '../../tensor/errors.js';
import { fmtShape } from '../../tensor/shape.js';
import type { Rng } from '../../tensor/random.js';
import { add } from '../../ops/elementwise.js';
import { reshape, slice } from '../../ops/movement.js';
import type { ModelSpec } from './spec.js';

export interface GptOptions {
  dim: number;
  depth: number;
  heads: number;
  hidden: number;
}

export const GPT_TINY: GptOptions = { dim: 128, depth: 4, heads: 4, hidden: 512 };

export class GPT extends Module {
  readonly tok: Embedding;
  readonly pos: Tensor;
  readonly blocks: Sequential;
  readonly norm: LayerNorm;
  readonly head: Linear;
  /** Longest sequence the model reads (T). */
  readonly context: number;

  constructor(spec: ModelSpec, rng: Rng, readonly opts: GptOptions = GPT_TINY) {
    super();
    this.context = (spec.inputWidth ?? spec.inputSize) - 1;
    check(this.context >= 1, () => `gpt: the input window must hold at least 2 tokens, got ${this.context + 1}`);
    this.tok = this.addModule('tok_embed', new Embedding(spec.classes, opts.dim, rng));
    this.pos = this.addParameter('pos_embed', normalInit(rng, this.context * opts.dim, 0.02), [this.context, opts.dim]);
    const blocks = Array.from({ length: opts.depth }, () =>
      new TransformerBlock(opts.dim, { heads: opts.heads, causal: true, hidden: opts.hidden, ffn: 'gelu', norm: 'layer' }, rng));
    this.blocks = this.addModule('blocks', new Sequential(...blocks));
    this.norm = this.addModule('norm', new LayerNorm(opts.dim));
    this.head = this.addModule('head', new Linear(opts.dim, spec.classes, rng));
  }

  /** Logits [batch·T, vocab] of the token ids [batch, T] (T ≤ context). */
  logits(ids: Tensor): Tensor {
    check(ids.rank === 2 && ids.shape[1] >= 1 && ids.shape[1] <= this.context, () => `gpt: ids ${fmtShape(ids.shape)} should be [batch, 1..${this.context}]`);
    const [b, t] = ids.shape;
    const pos = t === this.context ? this.pos : slice(this.pos, [0], [t]);
    const h = this.norm.forward(this.blocks.forward(add(this.tok.forward(ids), pos)));
    return this.head.forward(reshape(h, [b * t, this.opts.dim]));
  }

  /** x: token windows [batch, 1, 1, T + 1] (or [batch, T + 1]); reads tokens 0..T−1. */
  forward(x: Tensor): Tensor {
    const w = x.shape[x.rank - 1], b = x.shape[0];
    check(x.size === b * w && w === this.context + 1, () => `gpt: input ${fmtShape(x.shape)} should hold windows of ${this.context + 1} tokens`);
    return this.logits(slice(reshape(x, [b, w]), [0, 0], [b, this.context]));
  }
}
