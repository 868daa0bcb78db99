/**
 * vit-tiny / gpt-tiny at toy sizes: shapes, causality (a later token never changes an earlier position's logits),
 * attention gradients by finite differences, the language-model task through fit() (loss falls, perplexity is
 * reported), and one short fit of each model under every transformer-era preset and the seed presets psq4, bhq4,
 * luq4 (finite losses; the quantized attention slots too). Reference backend, seconds.
 */
import '../helpers/backend.js';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GPT } from '../../src/nn/models/gpt.js';
import { ViT } from '../../src/nn/models/vit.js';
import { MultiHeadAttention } from '../../src/nn/transformer.js';
import { windowDataset } from '../../src/data/text.js';
import { makeDataset } from '../../src/data/dataset.js';
import { fit } from '../../src/train/trainer.js';
import { parseRecipe } from '../../src/quant/recipe.js';
import { preset } from '../../src/quant/presets.js';
import { applyRecipe } from '../../src/quant/apply.js';
import { Rng } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { gradCheckParams } from '../helpers/gradcheck.js';
import { sum } from '../../src/ops/reduce.js';
import { mul } from '../../src/ops/elementwise.js';
import { randn } from '../helpers/tensors.js';

const SMALL = { dim: 16, depth: 1, heads: 2, hidden: 32 };
const gpt = (seed = 1) => new GPT({ inChannels: 1, inputSize: 1, inputWidth: 9, classes: 96 }, new Rng(seed), SMALL);
const vit = (seed = 1) => new ViT({ inChannels: 1, inputSize: 8, classes: 3 }, new Rng(seed), { patch: 4, ...SMALL });

/** A text whose next character is a function of the last one: windows of 9 ids (T = 8). */
function toyText(n: number): { train: ReturnType<typeof windowDataset>; test: ReturnType<typeof windowDataset> } {
  const ids = Int32Array.from({ length: n }, (_, i) => 1 + ((i * 7) % 13));
  return { train: windowDataset('toy-train', ids, 8), test: windowDataset('toy-valid', ids.subarray(0, 200), 8) };
}

function toyImages(n: number, seed: number) {
  const x = randn([n, 1, 8, 8], seed).data, labels = Int32Array.from({ length: n }, (_, i) => i % 3);
  for (let i = 0; i < n; i++) for (let p = 0; p < 16; p++) x[i * 64 + p] += 2 * labels[i];
  return makeDataset({ name: 'toy-img', images: x, labels, channels: 1, height: 8, width: 8, classes: 3 });
}

describe('transformer models', () => {
  it('shapes; gpt is causal', () => {
    const m = gpt();
    const x = new Tensor(Float32Array.from({ length: 2 * 9 }, (_, i) => i % 20), [2, 1, 1, 9]);
    const y = m.forward(x);
    assert.deepEqual([...y.shape], [16, 96]);
    const x2 = new Tensor(Float32Array.from(x.data), x.shape);
    x2.data[6] = 50; // token 6 of sample 0
    const y2 = m.forward(x2);
    for (let t = 0; t < 6; t++) for (let v = 0; v < 96; v++) assert.equal(y2.data[t * 96 + v], y.data[t * 96 + v], `position ${t}`);
    assert.notEqual(y2.data[6 * 96], y.data[6 * 96]);
    assert.deepEqual([...vit().forward(randn([3, 1, 8, 8], 2)).shape], [3, 3]);
  });

  it('attention gradients (all parameters, causal) match finite differences', () => {
    const att = new MultiHeadAttention(8, { heads: 2, causal: true }, new Rng(3));
    const x = randn([2, 3, 8], 4), r = randn([2, 3, 8], 5);
    gradCheckParams('attention', () => sum(mul(att.forward(x), r)), att.namedParameters());
  });

  it('fit() trains gpt on a language-model data set: the loss falls, perplexity is reported', () => {
    const res = fit(gpt(), toyText(600), { epochs: 3, batchSize: 16, optimizer: 'adamw', lr: 0.01, quiet: true, clipNorm: 1 });
    const [first, last] = [res.history[0], res.history[2]];
    assert.ok(last.test_loss < first.test_loss - 0.3, `${first.test_loss} → ${last.test_loss}`);
    assert.ok(Math.abs((last.test_ppl as number) - Math.exp(last.test_loss)) < 1e-9);
  });

  for (const name of ['nvfp4', 'mxfp4-quartet', 'int8-jetfire', 'psq4', 'bhq4', 'luq4'] as const) {
    it(`preset ${name} trains both models (finite losses)`, () => {
      const g = fit(gpt(), toyText(200), { epochs: 1, batchSize: 8, trainLimit: 16, optimizer: 'adamw', lr: 0.01, quiet: true, recipe: name });
      const v = fit(vit(), { train: toyImages(16, 6), test: toyImages(8, 7) }, { epochs: 1, batchSize: 8, optimizer: 'adamw', lr: 0.01, quiet: true, recipe: name });
      for (const m of [g.final!, v.final!]) assert.ok(Number.isFinite(m.train_loss) && Number.isFinite(m.test_loss), `${name}: ${JSON.stringify(m)}`);
    });
  }

  it('recipe.attention quantizes Q·Kᵀ and P·V (per head) and shows them in the resolved table', () => {
    const spec = { kind: 'int8-block', block: [1, 16] };
    const r = parseRecipe({ version: 1, label: 'att8', attention: { forward: { x: spec, w: spec }, gradInput: { dy: { ...spec, rounding: 'stochastic' } } } });
    const m = gpt();
    const seen = new Set<string>();
    const res = applyRecipe(m, r, { trace: (layer, g, o) => seen.add(`${layer}:${g}.${o}`) });
    const rows = res.layers.filter((l) => l.type.startsWith('AttentionGemm'));
    assert.deepEqual(rows.map((l) => l.name), ['blocks.0.attn.scores', 'blocks.0.attn.context']);
    const out = fit(m, toyText(200), { epochs: 1, batchSize: 8, trainLimit: 16, optimizer: 'adamw', quiet: true });
    assert.ok(Number.isFinite(out.final!.train_loss));
    assert.ok(seen.has('blocks.0.attn.scores:forward.x') && seen.has('blocks.0.attn.context:gradInput.dy'), [...seen].join(' '));
    assert.equal(preset('nvfp4').attention, undefined); // the presets keep attention fp32
  });
});
