/**
 * The import rules of src/ (docs/DESIGN.md, the layer picture), checked by `npm run check:imports` in `npm test`.
 * Type-only imports count: an upward `import type` is still an upward dependency.
 *
 * From the bottom up (an import points to the same layer or a lower one):
 *   base     tensor/errors.ts, tensor/random.ts  (errors and the counter-based RNG, shared with the kernels)
 *   backend  backend/                            (kernels over typed arrays)
 *   core     tensor/ (rest) → autograd/ → ops/ → quant/   (in that order: ops never know about quantization)
 *   middle   nn/, optim/, data/
 *   top      stats/ → train/ → distributed/ → report/ → cli/   (the trainer reaches the CLI through callbacks and data
 *            parallelism through train/parallel.ts's interface; src/distributed/ implements it on gloo)
 *   src/index.ts, the public API, may import anything.
 */
const layer = (dirs) => `^src/(${dirs.join('|')})/`;
const BASE = '^src/tensor/(errors|random)[.]ts$';
const MIDDLE = ['nn', 'optim', 'data'];
const TOP = ['stats', 'train', 'distributed', 'report', 'cli'];

/** [name, from (path regex), forbidden targets (path regex), why]. */
const RULES = [
  ['base-imports-nothing', BASE, '^src/(?!tensor/(errors|random)[.]ts$)', 'errors and the RNG sit below everything'],
  ['backend-is-lowest', layer(['backend']), `^src/(?!backend/|tensor/(errors|random)[.]ts$)`, 'kernels see typed arrays only'],
  ['tensor-below-autograd', layer(['tensor']), layer(['autograd', 'ops', 'quant', ...MIDDLE, ...TOP]), 'core order'],
  ['autograd-below-ops', layer(['autograd']), layer(['ops', 'quant', ...MIDDLE, ...TOP]), 'core order'],
  ['ops-below-quant', layer(['ops']), layer(['quant', ...MIDDLE, ...TOP]), 'core order'],
  ['core-below-middle', layer(['quant']), layer([...MIDDLE, ...TOP]), 'layer order'],
  ['middle-below-top', layer(MIDDLE), layer(TOP), 'layer order'],
  ['stats-below-train', layer(['stats']), layer(['train', 'distributed', 'report', 'cli']), 'stats uses neither train nor cli'],
  ['train-below-distributed', layer(['train']), layer(['distributed', 'report', 'cli']), 'the trainer knows parallelism and progress as interfaces'],
  ['distributed-below-report', layer(['distributed']), layer(['report', 'cli']), 'distributed/ may use train/'],
  ['report-below-cli', layer(['report']), layer(['cli']), 'nothing below cli imports it'],
];

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import loop in src/', from: { path: '^src/' }, to: { circular: true } },
    ...RULES.map(([name, from, to, comment]) => ({ name, comment, severity: 'error', from: { path: from }, to: { path: to } })),
  ],
  options: {
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
