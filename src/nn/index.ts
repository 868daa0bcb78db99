export * from './module.js';
export * from './layers.js';
export * from './init.js';
export { createModel, isModelName, modelNames, MODELS, type ModelName, type ModelSpec } from './models/index.js';
export { ResNet } from './models/resnet.js';
export { VGG } from './models/vgg.js';
export { LeNet5 } from './models/lenet.js';
export { MLP } from './models/mlp.js';
