/** The reference backend: plain loops that define every kernel (DESIGN.md "The reference backend is the specification"). */
import type { Backend } from '../backend.js';
import { gemmB1, gemmBitplane, gemmI8, packPlanes, packSigns, sgemm, sgemmT, signCodes } from './gemm.js';
import { col2im, copyStrided, im2col, transpose, transposeCodes } from './layout.js';
import { conv2dBackward, conv2dForward } from './conv.js';
import { binary, firstNonFinite, preluBackward, preluForward, reduce, reluMasked, unary } from './elementwise.js';
import { batchNormBackward, batchNormForward, channelMoments } from './norm.js';
import { avgPoolBackward, avgPoolForward, maxPoolBackward, maxPoolForward } from './pool.js';
import { dropoutMask, softmaxCrossEntropy } from './loss.js';
import { adamUpdate, sgdUpdate } from './optim.js';
import { refQuantKernels } from './quant.js';
import { refQconvKernels } from './qconv.js';
import * as transformer from './transformer.js';
import { hadamardTransform, quantizeMinifloat } from './lowp.js';
import { refBinaryConvKernels } from './bconv.js';

export const refBackend: Backend = {
  name: 'ref',
  description: 'reference (pure TypeScript)',
  supports: () => true,
  sgemm, sgemmT, gemmI8, gemmB1, packSigns, signCodes, packPlanes, gemmBitplane,
  copyStrided, transpose, transposeCodes, im2col, col2im, conv2dForward, conv2dBackward,
  unary, binary, reduce, reluMasked, preluForward, preluBackward, firstNonFinite,
  channelMoments, batchNormForward, batchNormBackward,
  maxPoolForward, maxPoolBackward, avgPoolForward, avgPoolBackward,
  softmaxCrossEntropy, dropoutMask,
  sgdUpdate, adamUpdate,
  ...refQuantKernels,
  ...refQconvKernels,
  layerNormForward: transformer.layerNormForward, layerNormBackward: transformer.layerNormBackward,
  softmaxForward: transformer.softmaxForward, softmaxBackward: transformer.softmaxBackward,
  activationForward: transformer.activationForward, activationBackward: transformer.activationBackward,
  embeddingForward: transformer.embeddingForward, embeddingBackward: transformer.embeddingBackward,
  sgemmBatched: transformer.sgemmBatched, hadamardTransform, quantizeMinifloat,
  ...refBinaryConvKernels,
};
