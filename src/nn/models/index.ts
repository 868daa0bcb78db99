/** Model registry: every model is built from (input channels, input size, classes) and a generator. */
import type { Module } from '../module.js';
import type { Rng } from '../../tensor/random.js';
import { FqtError } from '../../tensor/errors.js';
import type { ModelFactory, ModelSpec } from './spec.js';
import { MLP } from './mlp.js';
import { LeNet5 } from './lenet.js';
import { cifarResNet, preactPReLUResNet18, resNet18 } from './resnet.js';
import { VGG } from './vgg.js';
import { ViT } from './vit.js';
import { GPT } from './gpt.js';

export type { ModelSpec } from './spec.js';

export const MODELS = {
  mlp: (s, r) => new MLP(s, r),
  lenet: (s, r) => new LeNet5(s, r),
  resnet20: cifarResNet(20, false),
  resnet32: cifarResNet(32, false),
  resnet56: cifarResNet(56, false),
  'preact-resnet20': cifarResNet(20, true),
  'preact-resnet32': cifarResNet(32, true),
  'preact-resnet56': cifarResNet(56, true),
  resnet18: resNet18,
  'preact-resnet18': preactPReLUResNet18(64),
  'preact-resnet18-w16': preactPReLUResNet18(16),
  vgg11: (s, r) => new VGG(s, r, 'vgg11'),
  vgg16: (s, r) => new VGG(s, r, 'vgg16'),
  'vgg16-prelu': (s, r) => new VGG(s, r, 'vgg16', 'prelu'),
  'vit-tiny': (s, r) => new ViT(s, r),
  'gpt-tiny': (s, r) => new GPT(s, r),
} satisfies Record<string, ModelFactory>;

/** The built-in model names: `createModel('lenett', …)` does not compile (and is an error naming the valid ones at run time). */
export type ModelName = keyof typeof MODELS;

export function modelNames(): ModelName[] {
  return Object.keys(MODELS) as ModelName[];
}

export function isModelName(name: string): name is ModelName {
  return Object.hasOwn(MODELS, name);
}

export function createModel(name: ModelName, spec: ModelSpec, rng: Rng): Module {
  if (!isModelName(name)) throw new FqtError(`unknown model '${name}' (valid: ${modelNames().join(', ')})`);
  for (const [k, v] of Object.entries(spec)) {
    if (!Number.isInteger(v) || v < 1) throw new FqtError(`model ${name}: ${k} must be a positive integer, got ${v}`);
  }
  const factory: ModelFactory = MODELS[name];
  return factory(spec, rng);
}
