/**
 * vit-tiny: a small Vision Transformer. Non-overlapping p×p patches → Linear patch embedding (the first GEMM layer)
 * + learned position embeddings → pre-norm blocks (non-causal attention, GELU MLP) → LayerNorm → mean over tokens →
 * Linear head (the last GEMM layer). Defaults for 28×28 inputs: patch 4 (49 tokens), dim 64, depth 4, 4 heads,
 * MLP 128.
 */
import { Module } from '../module.js';
import { Linear, Sequential } from '../layers.js';
import { LayerNorm, normalInit, TransformerBlock } from '../transformer.js';
import { Tensor } from '../../tensor/tensor.js';
import { check } from '../../tensor/errors.js';
import { fmtShape } from '../../tensor/shape.js';
import type { Rng } from '../../tensor/random.js';
import { add } from '../../ops/elementwise.js';
import { mean } from '../../ops/reduce.js';
import { permute, reshape } from '../../ops/movement.js';
import type { ModelSpec } from './spec.js';

export interface VitOptions {
  patch: number;
  dim: number;
  depth: number;
  heads: number;
  hidden: number;
}

export const VIT_TINY: VitOptions = { patch: 4, dim: 64, depth: 4, heads: 4, hidden: 128 };

export class ViT extends Module {
  readonly patchEmbed: Linear;
  readonly pos: Tensor;
  readonly blocks: Sequential;
  readonly norm: LayerNorm;
  readonly head: Linear;
  private readonly grid: number;

  constructor(readonly spec: ModelSpec, rng: Rng, readonly opts: VitOptions = VIT_TINY) {
    super();
    const { patch: p, dim } = opts;
    check(spec.inputSize % p === 0, () => `vit: input size ${spec.inputSize} is not a multiple of the patch size ${p}`);
    this.grid = spec.inputSize / p;
    const tokens = this.grid * this.grid;
    this.patchEmbed = this.addModule('patch_embed', new Linear(spec.inChannels * p * p, dim, rng));
    this.pos = this.addParameter('pos_embed', normalInit(rng, tokens * dim, 0.02), [tokens, dim]);
    const blocks = Array.from({ length: opts.depth }, () =>
      new TransformerBlock(dim, { heads: opts.heads, causal: false, hidden: opts.hidden, ffn: 'gelu', norm: 'layer' }, rng));
    this.blocks = this.addModule('blocks', new Sequential(...blocks));
    this.norm = this.addModule('norm', new LayerNorm(dim));
    this.head = this.addModule('head', new Linear(dim, spec.classes, rng));
  }

  forward(x: Tensor): Tensor {
    const { inChannels: c, inputSize: s } = this.spec, p = this.opts.patch, g = this.grid;
    check(x.rank === 4 && x.shape[1] === c && x.shape[2] === s && x.shape[3] === s, () => `vit: input ${fmtShape(x.shape)} should be [batch, ${c}, ${s}, ${s}]`);
    const b = x.shape[0];
    // [b, c, g, p, g, p] → [b, g, g, c, p, p]: one row of c·p·p pixels per patch.
    const patches = reshape(permute(reshape(x, [b, c, g, p, g, p]), [0, 2, 4, 1, 3, 5]), [b * g * g, c * p * p]);
    const tokens = add(reshape(this.patchEmbed.forward(patches), [b, g * g, this.opts.dim]), this.pos);
    return this.head.forward(mean(this.norm.forward(this.blocks.forward(tokens)), 1));
  }
}
