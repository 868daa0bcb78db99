/**
 * The trainer hook of the recipe add-on `addons.bnRectify` — RECONSTRUCTED (METHODS §4.2), not the paper's
 * published formula. Per step it collects one term per training-mode BN forward (BatchNorm taps) and adds
 * λ·R (ops/bn-rectify.ts) to the task loss, only while gradient quantization is on (a recipe whose gradInput.dy
 * or gradWeight.dy is quantized in some layer, and no phase such as FNT has removed it): the penalty exists to
 * counter quantization noise, and a QAT / fp32 run would only be regularized by it.
 */
import type { Module } from '../nn/module.js';
import { BatchNorm, type BatchNormTap } from '../nn/layers.js';
import { bnRectifyLoss, type BnRectifyTerm, type BnRectifyValue } from '../ops/bn-rectify.js';
import { describeBnRectify, type BnRectifySpec } from '../quant/addons/bn-rectify.js';
import type { ResolvedRecipe } from '../quant/apply.js';
import type { TrainHook } from './hooks.js';

/**
 * Collects one term per training-mode BN forward (through BatchNorm taps) and turns them into the loss.
 * Usage per step: `clear()` → model.forward → `take()` → add `.loss` to the task loss.
 */
export class BnRectifier {
  private terms: BnRectifyTerm[] = [];
  private readonly layers: BatchNorm[];
  private readonly tap: BatchNormTap = (x, stats, _y, bn) => {
    this.terms.push({ x, gamma: bn.weight, eps: bn.eps, stats });
  };

  constructor(model: Module, readonly spec: BnRectifySpec) {
    this.layers = model.namedModules().map(([, m]) => m).filter((m): m is BatchNorm => m instanceof BatchNorm);
    for (const l of this.layers) l.taps.push(this.tap);
  }

  get layerCount(): number { return this.layers.length; }

  clear(): void {
    this.terms = [];
  }

  /** The loss of the BN forwards since the last clear/take (null when none ran), and forget them. */
  take(): BnRectifyValue | null {
    const terms = this.terms;
    this.terms = [];
    return terms.length ? bnRectifyLoss(terms, this.spec) : null;
  }

  detach(): void {
    for (const l of this.layers) {
      const i = l.taps.indexOf(this.tap);
      if (i >= 0) l.taps.splice(i, 1);
    }
    this.terms = [];
  }
}

/** Whether any layer quantizes a gradient operand (the condition under which the trainer adds the penalty). */
export function quantizesGradients(resolved: ResolvedRecipe | null): boolean {
  return resolved !== null && resolved.layers.some((l) => l.slots.gradInput.dy !== 'fp32' || l.slots.gradWeight.dy !== 'fp32');
}

/** The add-on as a trainer hook: the loss term, `bnr_penalty` / `bnr_lambda` per epoch, and the start-line note. */
export function bnRectifyHook(model: Module, spec: BnRectifySpec, resolved: ResolvedRecipe | null, log: (line: string) => void): TrainHook {
  const active = quantizesGradients(resolved);
  const base = `${describeBnRectify(spec)}${active ? '' : ' — inactive: the recipe quantizes no gradient'}`;
  if (!active) return { key: 'bnRectify', description: base };
  const rectifier = new BnRectifier(model, spec);
  if (rectifier.layerCount === 0) log('fqt: warning: the model has no BatchNorm layers; the BN rectification penalty is always 0');
  let sum = 0, steps = 0, last: number | null = null;
  return {
    key: 'bnRectify',
    description: base,
    beforeForward: () => rectifier.clear(),
    lossTerm: (ctx) => {
      const r = ctx.quantized ? rectifier.take() : null;
      rectifier.clear();
      last = r ? r.penalty : null;
      return r && { loss: r.loss, value: r.penalty };
    },
    // The step's own forward is the last one before the optimizer step (a diagnostics pass runs before it).
    afterStep: () => {
      if (last !== null) sum += last;
      steps++;
    },
    onEpochEnd: () => {
      const penalty = sum / Math.max(1, steps);
      sum = 0;
      steps = 0;
      return { metrics: { bnr_penalty: penalty, bnr_lambda: spec.lambda }, suffix: `  BN-rect (reconstructed) penalty ${penalty.toFixed(4)} λ ${spec.lambda}` };
    },
    saveEpoch: () => ({ sum, steps }),
    loadEpoch: (s) => { ({ sum, steps } = s as { sum: number; steps: number }); },
    detach: () => rectifier.detach(),
  };
}
