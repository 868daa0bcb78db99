/**
 * Module: parameters, buffers and child modules registered by name, train/eval mode, and a state dict
 * keyed by dotted names ("layer1.0.conv1.weight"). Subclasses implement forward().
 */
import { Tensor, parameter } from '../tensor/tensor.js';
import { check } from '../tensor/errors.js';
import { fmtShape, type Shape, sameShape, shapeSize } from '../tensor/shape.js';

export abstract class Module {
  training = true;
  private readonly _params = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _children = new Map<string, Module>();

  abstract forward(x: Tensor): Tensor;

  protected addParameter(name: string, data: Float32Array, shape: Shape): Tensor {
    const p = parameter(data, shape, name);
    this._params.set(name, p);
    return p;
  }

  /** A non-trainable tensor saved in the state dict (running statistics). */
  protected addBuffer(name: string, data: Float32Array, shape: Shape): Tensor {
    const b = new Tensor(data, shape);
    this._buffers.set(name, b);
    return b;
  }

  protected addModule<M extends Module>(name: string, m: M): M {
    this._children.set(name, m);
    return m;
  }

  children(): [string, Module][] { return [...this._children.entries()]; }

  /** All modules below and including this one, with dotted names ('' for this one). */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this._children) out.push(...child.namedModules(prefix ? `${prefix}.${name}` : name));
    return out;
  }

  namedParameters(): [string, Tensor][] { return this.namedTensors((m) => m._params); }

  parameters(): Tensor[] { return this.namedParameters().map(([, p]) => p); }

  namedBuffers(): [string, Tensor][] { return this.namedTensors((m) => m._buffers); }

  private namedTensors(pick: (m: Module) => Map<string, Tensor>): [string, Tensor][] {
    return this.namedModules().flatMap(([prefix, m]) =>
      [...pick(m)].map(([name, t]): [string, Tensor] => [prefix ? `${prefix}.${name}` : name, t]));
  }

  train(on = true): this {
    for (const [, m] of this.namedModules()) m.training = on;
    return this;
  }

  eval(): this { return this.train(false); }

  /** Parameters and buffers by dotted name (the tensors themselves, not copies). */
  stateDict(): Map<string, Tensor> { return new Map([...this.namedParameters(), ...this.namedBuffers()]); }

  /**
   * Copy values from `state` into this module's tensors. With `strict`, every name must match both
   * ways with equal shapes; otherwise names absent on either side are skipped and returned.
   */
  loadStateDict(state: Map<string, { shape: Shape; data: Float32Array }>, strict = true): { missing: string[]; unexpected: string[] } {
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !state.has(k));
    const unexpected = [...state.keys()].filter((k) => !own.has(k));
    if (strict) {
      check(missing.length === 0 && unexpected.length === 0, () =>
        `state dict does not match the model: ${missing.length ? `missing ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ' …' : ''}` : ''}` +
        `${missing.length && unexpected.length ? '; ' : ''}${unexpected.length ? `unexpected ${unexpected.slice(0, 5).join(', ')}${unexpected.length > 5 ? ' …' : ''}` : ''}`);
    }
    for (const [name, t] of own) {
      const src = state.get(name);
      if (!src) continue;
      check(sameShape(src.shape, t.shape), () => `state dict entry '${name}' has shape ${fmtShape(src.shape)} but the model expects ${fmtShape(t.shape)}`);
      check(src.data.length === shapeSize(t.shape), () => `state dict entry '${name}' has ${src.data.length} values for shape ${fmtShape(t.shape)}`);
      t.data.set(src.data);
    }
    return { missing, unexpected };
  }

  parameterCount(): number { return this.parameters().reduce((acc, p) => acc + p.size, 0); }
}
