/** What every model factory takes: input geometry and class count, plus the generator for init. */
import type { Rng } from '../../tensor/random.js';

export interface ModelSpec {
  inChannels: number;
  inputSize: number; // square inputs: height = width
  classes: number;
}

export type ModelFactory = (spec: ModelSpec, rng: Rng) => import('../module.js').Module;
