/**
 * `fqt variance`: the statistical framework's measurement (METHODS §1.7) per layer and recipe —
 * bias of the FQT gradient against the QAT gradient (falls like 1/√draws for unbiased quantizers),
 * quantization variance, and minibatch sampling variance. Table on stdout, JSON and HTML in --out.
 * Models with BatchNorm also get the BN noise-amplification diagnostics (METHODS §4.1; cli/variance-bn.ts).
 */
import { mkdirSync } from 'node:fs';
import { writeTextAtomic } from '../train/atomic.js';
import path from 'node:path';
import { parseCommand, type FlagSpecs } from './args.js';
import { fmtNum } from './progress.js';
import { modelNames, createModel } from '../nn/models/index.js';
import { DATASET_NAMES, loadDataset } from '../data/registry.js';
import { modelSpecOf } from '../train/run-setup.js';
import { varianceBatches } from './run-variance.js';
import { loadWeights } from '../train/checkpoint.js';
import { measureVariance, type VarianceReport } from '../stats/variance.js';
import { resolveRecipe } from '../quant/index.js';
import { Rng } from '../tensor/random.js';
import { check } from '../tensor/errors.js';
import { renderReport, type ReportSection } from '../report/html.js';
import { textTable } from '../report/results.js';
import { quantVarChart } from '../report/compare-html.js';
import { measureBnNoise, type BnNoiseReport } from '../stats/bn-noise.js';
import { bnLayers } from '../stats/bn-probe.js';
import { bnHtmlSections, bnWarningLines, formatBnTable } from './variance-bn.js';
import { displayPath, environment, environmentLine } from '../train/environment.js';

export const VARIANCE_COMMAND_FLAGS = {
  model: { type: 'string', help: 'model', default: 'resnet20', choices: modelNames() },
  dataset: { type: 'string', help: 'data set', default: 'fashion-mnist', choices: [...DATASET_NAMES] },
  data: { type: 'string', help: 'directory with the data set files' },
  recipes: { type: 'string', help: 'comma-separated recipes (presets or JSON files)', default: 'ptq4,psq4,bhq4' },
  checkpoint: { type: 'string', help: 'trained weights: a model.safetensors file or a run/checkpoint directory (random init when absent)' },
  batches: { type: 'int', help: 'minibatches (the first is the fixed batch; ≥ 2 give sampling variance)', default: 4, min: 1 },
  'batch-size': { type: 'int', help: 'minibatch size', default: 128, min: 2 },
  draws: { type: 'int', help: 'FQT backward passes on the fixed batch', default: 32, min: 2 },
  seed: { type: 'int', help: 'seed of batches and stochastic rounding', default: 1, min: 0 },
  'bn-diagnostics': { type: 'bool', help: 'BatchNorm noise amplification per BN layer (γ/σ, noise-to-signal before/after, explosion warnings; models with BN)', default: true },
  out: { type: 'string', help: 'output directory (variance.json, variance.html)', default: 'runs/variance' },
  help: { type: 'bool', help: 'show this help', default: false },
} satisfies FlagSpecs;

export function varianceCommand(argv: string[]): number {
  const f = parseCommand('variance', 'per-layer bias, quantization and sampling variance of FQT gradients', VARIANCE_COMMAND_FLAGS, argv);
  if (!f) return 0;
  const recipeNames = f.recipes.split(',').map((s) => s.trim()).filter(Boolean);
  check(recipeNames.length > 0, '--recipes needs at least one recipe');
  const recipes = recipeNames.map((r) => resolveRecipe(r));
  const data = loadDataset(f.dataset, { dataDir: f.data });
  const batches = varianceBatches(data.train, data.defaultNormalization, f['batch-size'], f.seed, f.batches);
  const model = createModel(f.model, modelSpecOf(data.train), new Rng(f.seed));
  if (f.checkpoint) model.loadStateDict(loadWeights(f.checkpoint));
  else process.stderr.write('fqt variance: no --checkpoint, measuring a randomly initialised model\n');
  model.train();

  const reports: VarianceReport[] = [];
  for (const recipe of recipes) {
    process.stderr.write(`fqt variance: ${recipe.label}: ${f.draws} draws on ${f.batches} batches of ${f['batch-size']}…\n`);
    reports.push(measureVariance({ model, recipe, batches, draws: f.draws, seed: f.seed }));
  }
  const bn: BnNoiseReport[] = f['bn-diagnostics'] && bnLayers(model).length > 0
    ? recipes.map((recipe) => measureBnNoise({ model, recipe, batch: batches[0], draws: f.draws, seed: f.seed })) : [];
  process.stdout.write(formatTable(reports));
  if (bn.length) process.stdout.write(`\n${formatBnTable(bn)}`);
  for (const w of bnWarningLines(bn)) process.stderr.write(`fqt variance: warning: ${w}\n`);
  mkdirSync(f.out, { recursive: true });
  const env = environment();
  process.stdout.write(`environment: ${environmentLine(env)}\n`);
  const meta: VarianceMeta = {
    model: f.model, dataset: f.dataset, checkpoint: f.checkpoint ? displayPath(f.checkpoint) : null, batchSize: f['batch-size'], batches: f.batches, draws: f.draws, seed: f.seed,
  };
  writeTextAtomic(path.join(f.out, 'variance.json'), JSON.stringify({ ...meta, environment: env, reports, bn }, null, 2));
  writeTextAtomic(path.join(f.out, 'variance.html'), varianceHtml(reports, meta, environmentLine(env), bnHtmlSections(bn)));
  process.stdout.write(`wrote ${path.join(f.out, 'variance.json')} and variance.html\n`);
  return 0;
}

/** What the run measured, as the report states it (paths relative, never absolute). */
interface VarianceMeta { model: string; dataset: string; checkpoint: string | null; batchSize: number; batches: number; draws: number; seed: number }

/** The variance unit of the terminal table, variance.html and the compare report (stats/variance.ts). */
export const VARIANCE_UNIT = 'variance = E‖g − g_QAT‖² summed over the layer\'s weight-gradient elements';

function formatTable(reports: VarianceReport[]): string {
  const header = ['recipe', 'layer', 'paths f/gi/gw', 'mean|g|', 'sampling var', 'quant var', 'quant/sampling', 'bias@1', `bias@K`];
  const rows = reports.flatMap((r) => r.rows.map((row) => [
    r.recipe, row.layer, `${row.paths.forward}/${row.paths.gradInput}/${row.paths.gradWeight}`,
    fmtNum(row.meanAbsGrad), row.samplingVar === null ? '–' : row.samplingVar.toExponential(2), row.quantVar.toExponential(2),
    row.ratio === null ? '–' : fmtNum(row.ratio), row.bias[0].bias.toExponential(2), row.bias[row.bias.length - 1].bias.toExponential(2),
  ]));
  return `${textTable(header, rows, 3)}\n(${VARIANCE_UNIT}; bias@K: K = ${reports[0]?.draws}; with unbiased quantizers it is ≈ bias@1/√K)\n`;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

function varianceHtml(reports: VarianceReport[], meta: VarianceMeta, env: string, extra: ReportSection[]): string {
  const sections: ReportSection[] = [{
    heading: 'Quantization vs sampling variance per layer',
    text: `Quantization variance E‖g_FQT − g_QAT‖² on a fixed batch, and minibatch sampling variance of the QAT gradient (log scale; ${VARIANCE_UNIT}).`,
    charts: [quantVarChart(reports, 'sampling', COLORS)],
  }];
  for (const [i, r] of reports.entries()) {
    sections.push({
      heading: `Bias of ${r.recipe} against ${r.qatRecipe}`,
      text: '‖mean of k FQT gradients − QAT gradient‖ per layer (solid) and √(quantVar/k), what an unbiased estimator gives (dashed).',
      charts: [{
        type: 'line',
        data: {
          labels: r.rows[0]?.bias.map((b) => b.k) ?? [],
          datasets: r.rows.flatMap((row, li) => [
            { label: row.layer, data: row.bias.map((b) => b.bias), borderColor: COLORS[li % COLORS.length], fill: false },
            { label: `${row.layer} (1/√k)`, data: row.bias.map((b) => b.expected), borderColor: COLORS[li % COLORS.length], borderDash: [4, 4], fill: false, pointRadius: 0 },
          ]),
        },
        options: { plugins: { legend: { display: i === 0 && r.rows.length <= 8 } }, scales: { y: { type: 'logarithmic' }, x: { title: { display: true, text: 'draws k' } } } },
      }],
      table: {
        columns: ['layer', 'paths f/gi/gw', 'mean |g|', 'sampling var', 'quant var', 'quant/sampling'],
        rows: r.rows.map((x) => [x.layer, `${x.paths.forward}/${x.paths.gradInput}/${x.paths.gradWeight}`, x.meanAbsGrad, x.samplingVar, x.quantVar, x.ratio]),
      },
    });
  }
  sections.push(...extra);
  const subtitle = `${meta.checkpoint ? `weights ${meta.checkpoint}` : 'randomly initialised weights'}; ${meta.batches} batches of ${meta.batchSize}, ` +
    `${meta.draws} draws, seed ${meta.seed}`;
  return renderReport({ title: `fqt variance — ${meta.model} on ${meta.dataset}`, subtitle, environment: [env], sections });
}
