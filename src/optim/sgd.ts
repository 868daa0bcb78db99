/** SGD with momentum, Nesterov momentum and L2 weight decay, with PyTorch's semantics (dampening 0). */
import { backend } from '../backend/index.js';
import { check } from '../tensor/errors.js';
import { checkOptionKeys, isFiniteNonNegative, Optimizer, type ParamsInput } from './optimizer.js';

export interface SgdOptions {
  lr: number;
  /** Default 0 (plain SGD, no buffers). */
  momentum?: number;
  /** Nesterov momentum (needs momentum > 0). Default false. */
  nesterov?: boolean;
  /** L2 penalty added to the gradient (g + wd·w). Default 0. */
  weightDecay?: number;
}

export const SGD_OPTIONS = ['lr', 'momentum', 'nesterov', 'weightDecay'] as const;

export class SGD extends Optimizer {
  readonly kind = 'sgd';
  protected readonly slots: readonly string[];
  readonly momentum: number;
  readonly nesterov: boolean;
  /** Scratch momentum buffer for momentum = 0, which the kernel does not read (never saved). */
  private scratch = new Float32Array(0);

  constructor(params: ParamsInput, opts: SgdOptions) {
    check(opts !== null && typeof opts === 'object', 'sgd: options must be an object');
    checkOptionKeys('sgd', opts, SGD_OPTIONS);
    super(params, opts.lr, opts.weightDecay ?? 0);
    const momentum = opts.momentum ?? 0;
    const nesterov = opts.nesterov ?? false;
    check(isFiniteNonNegative(momentum) && momentum < 1, () => `sgd: momentum must be in [0, 1), got ${momentum}`);
    check(typeof nesterov === 'boolean', () => `sgd: nesterov must be true or false, got ${JSON.stringify(nesterov)}`);
    check(!nesterov || momentum > 0, 'sgd: nesterov needs momentum > 0');
    this.momentum = momentum;
    this.nesterov = nesterov;
    this.slots = momentum > 0 ? ['momentum_buffer'] : [];
  }

  protected hyper(): Record<string, unknown> {
    return { momentum: this.momentum, nesterov: this.nesterov };
  }

  protected updateParam(w: Float32Array, g: Float32Array, buffers: Map<string, Float32Array>, lr: number,
    weightDecay: number, step: number): void {
    let buf = buffers.get('momentum_buffer');
    if (buf === undefined) {
      if (this.scratch.length < w.length) this.scratch = new Float32Array(w.length);
      buf = this.scratch.subarray(0, w.length);
    }
    // PyTorch initialises the momentum buffer to the (decayed) gradient on a parameter's first update.
    backend().sgdUpdate(w, g, buf, lr, this.momentum, weightDecay, this.nesterov ? 1 : 0, step === 1 ? 1 : 0);
  }
}
