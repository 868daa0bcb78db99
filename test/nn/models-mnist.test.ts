/** Every registered model at MNIST geometry: 1 channel, 28×28, 10 classes. */
import '../helpers/backend.js';
import { modelSuite } from './model-suite.js';

modelSuite({ inChannels: 1, inputSize: 28, classes: 10 });
