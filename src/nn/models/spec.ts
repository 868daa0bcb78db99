/** What every model factory takes: input geometry and class count, plus the generator for init. */
import type { Rng } from '../../tensor/random.js';

export interface ModelSpec {
  inChannels: number;
  inputSize: number; // square inputs: height = width
  /** Input width when it differs from inputSize (token windows of a text data set: height 1). */
  inputWidth?: number;
  classes: number;
}

export type ModelFactory = (spec: ModelSpec, rng: Rng) => import('../module.js').Module;
