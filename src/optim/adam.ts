/**
 * Adam (L2 weight decay added to the gradient) and AdamW (decoupled weight decay: w −= lr·wd·w), with
 * PyTorch's semantics: per-parameter step counts and bias correction 1 − β^t.
 */
import { backend } from '../backend/index.js';
import { check } from '../tensor/errors.js';
import { checkOptionKeys, isFiniteNonNegative, Optimizer, type ParamsInput } from './optimizer.js';

export interface AdamOptions {
  /** Default 1e-3. */
  lr?: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Default 0 for Adam, 0.01 for AdamW (PyTorch's defaults). */
  weightDecay?: number;
}

export const ADAM_OPTIONS = ['lr', 'betas', 'eps', 'weightDecay'] as const;

export class Adam extends Optimizer {
  readonly kind: string = 'adam';
  protected readonly slots: readonly string[] = ['exp_avg', 'exp_avg_sq'];
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** 1 for AdamW. */
  protected readonly decoupled: number;

  constructor(params: ParamsInput, opts: AdamOptions = {}, decoupled = false) {
    const what = decoupled ? 'adamw' : 'adam';
    check(opts !== null && typeof opts === 'object', () => `${what}: options must be an object`);
    checkOptionKeys(what, opts, ADAM_OPTIONS);
    super(params, opts.lr ?? 1e-3, opts.weightDecay ?? (decoupled ? 1e-2 : 0));
    const betas = opts.betas ?? [0.9, 0.999];
    check(Array.isArray(betas) && betas.length === 2, () => `${what}: betas must be a pair [β1, β2], got ${JSON.stringify(betas)}`);
    const [b1, b2] = betas;
    check(isFiniteNonNegative(b1) && b1 < 1, () => `${what}: β1 must be in [0, 1), got ${b1}`);
    check(isFiniteNonNegative(b2) && b2 < 1, () => `${what}: β2 must be in [0, 1), got ${b2}`);
    const eps = opts.eps ?? 1e-8;
    check(isFiniteNonNegative(eps), () => `${what}: eps must be a finite number ≥ 0, got ${eps}`);
    this.beta1 = b1;
    this.beta2 = b2;
    this.eps = eps;
    this.decoupled = decoupled ? 1 : 0;
  }

  protected hyper(): Record<string, unknown> {
    return { betas: [this.beta1, this.beta2], eps: this.eps };
  }

  protected updateParam(w: Float32Array, g: Float32Array, buffers: Map<string, Float32Array>, lr: number,
    weightDecay: number, step: number): void {
    backend().adamUpdate(w, g, buffers.get('exp_avg')!, buffers.get('exp_avg_sq')!, lr, this.beta1, this.beta2,
      this.eps, weightDecay, this.decoupled, step);
  }
}

export class AdamW extends Adam {
  override readonly kind: string = 'adamw';

  constructor(params: ParamsInput, opts: AdamOptions = {}) {
    super(params, opts, true);
  }
}
