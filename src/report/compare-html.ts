/**
 * The HTML report of a comparison: final table, learning curves per recipe (mean line and min–max band
 * over seeds), time per step, GEMM path of every layer, failed runs, and optionally the per-layer
 * gradient variance of each recipe's final model (METHODS §1.7).
 */
import path from 'node:path';
import { bandChart, renderReport, type BandSeries, type ChartConfig, type ReportSection } from './html.js';
import { readRunJson, summaryTable, type Results, type RunResult } from './results.js';
import { readStepLosses } from '../train/step-log.js';
import type { VarianceReport } from '../stats/variance.js';

export const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf', '#e377c2', '#7f7f7f', '#bcbd22'];

type Point = { x: number; mean: number; lo: number; hi: number };

/** Mean, min and max over the values present at each x (seeds that reached that point). */
function aggregate(perRun: Map<number, number>[]): Point[] {
  const xs = [...new Set(perRun.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  return xs.map((x) => {
    const v = perRun.flatMap((m) => (m.has(x) ? [m.get(x)!] : []));
    return { x, mean: v.reduce((a, b) => a + b, 0) / v.length, lo: Math.min(...v), hi: Math.max(...v) };
  });
}

function byRecipe(r: Results): [string, RunResult[], string][] {
  return r.recipes.map((recipe, i) => [recipe, r.runs.filter((x) => x.recipe === recipe), COLORS[i % COLORS.length]]);
}

function epochSeries(r: Results, metric: 'train_loss' | 'test_loss' | 'test_acc' | 'train_acc', scale = 1): BandSeries[] {
  return byRecipe(r).map(([label, runs, color]) => ({
    label, color, points: aggregate(runs.map((run) => new Map(run.history.map((m) => [m.epoch, scale * m[metric]])))),
  })).filter((s) => s.points.length > 0);
}

/** Per-step training loss, averaged into at most ~120 buckets per run so long runs stay light. */
function stepSeries(r: Results, root: string): BandSeries[] {
  const logs = r.runs.map((run) => {
    const spe = readRunJson(path.join(root, run.dir))?.stepsPerEpoch ?? 0;
    return { run, spe, losses: spe > 0 ? readStepLosses(path.join(root, run.dir), spe) : [] };
  });
  const maxStep = Math.max(0, ...logs.flatMap((l) => l.losses.map((s) => s.step + 1)));
  if (maxStep === 0) return [];
  const bucket = Math.max(1, Math.ceil(maxStep / 120));
  return byRecipe(r).map(([label, , color]) => ({
    label, color,
    points: aggregate(logs.filter((l) => l.run.recipe === label && l.losses.length).map(({ spe, losses }) => {
      const sums = new Map<number, [number, number]>();
      for (const { step, loss } of losses) {
        const b = Math.floor(step / bucket);
        const s = sums.get(b) ?? [0, 0];
        sums.set(b, [s[0] + loss, s[1] + 1]);
      }
      // x: the bucket's centre in epochs.
      return new Map([...sums.entries()].map(([b, [sum, n]]) => [(b * bucket + Math.min(bucket, maxStep - b * bucket) / 2) / spe, sum / n]));
    })),
  })).filter((s) => s.points.length > 0);
}

function gemmTable(r: Results): ReportSection['table'] | undefined {
  const withPaths = r.summary.filter((s) => s.gemmPaths);
  if (!withPaths.length) return undefined;
  const layers = withPaths[0].gemmPaths!.map((p) => p.layer);
  return {
    columns: ['layer', ...withPaths.map((s) => s.recipe)],
    rows: layers.map((layer) => [layer, ...withPaths.map((s) => {
      const p = s.gemmPaths!.find((x) => x.layer === layer);
      return p ? `${p.forward} / ${p.gradInput} / ${p.gradWeight}` : '–';
    })]),
  };
}

/** Each recipe's quantization variance per layer as bars beside the first report's sampling variance (log scale). */
export function quantVarChart(reports: readonly VarianceReport[], samplingLabel: string, colors: readonly string[] = COLORS): ChartConfig {
  return {
    type: 'bar',
    data: {
      labels: reports[0]?.rows.map((x) => x.layer) ?? [],
      datasets: [
        ...reports.map((v, i) => ({ label: `${v.recipe} quantization`, data: v.rows.map((x) => x.quantVar), backgroundColor: colors[i % colors.length] })),
        { label: samplingLabel, data: reports[0]?.rows.map((x) => x.samplingVar) ?? [], backgroundColor: '#999' },
      ],
    },
    options: { scales: { y: { type: 'logarithmic', title: { display: true, text: 'variance ‖g − g_QAT‖² (summed)' } } } },
  };
}

function varianceSection(reports: readonly VarianceReport[]): ReportSection {
  return {
    heading: 'Gradient variance per layer (final models)',
    text: `Quantization variance E‖g_FQT − g_QAT‖² of each recipe on its own final model (first seed), against minibatch ` +
      `sampling variance (METHODS §1.7); ${reports[0]?.draws ?? 0} draws, ${reports[0]?.batches ?? 0} batches. Log scale; both are E‖·‖² summed over ` +
      'the layer\'s weight-gradient elements, the unit of fqt variance.',
    charts: [quantVarChart(reports, `sampling (QAT, ${reports[0]?.recipe ?? ''} model)`)],
    table: {
      columns: ['recipe', 'layer', 'quant var', 'sampling var', 'quant/sampling'],
      rows: reports.flatMap((v) => v.rows.map((x) => [v.recipe, x.layer, x.quantVar, x.samplingVar, x.ratio])),
    },
  };
}

export function compareHtml(r: Results, root: string, variance: readonly VarianceReport[] | null = null): string {
  const c = r.config;
  const subtitle = c
    ? `${c.model} on ${c.dataset}${c.trainLimit ? ` (first ${c.trainLimit} train` : ''}${c.trainLimit && c.testLimit ? ` / ${c.testLimit} test)` : c.trainLimit ? ')' : ''}, ` +
      `${c.epochs} epoch${c.epochs === 1 ? '' : 's'}, ${c.optimizer} lr ${c.lr} ${c.schedule}, batch ${c.batchSize}; seeds ${r.seeds.join(', ')}`
    : `seeds ${r.seeds.join(', ')}`;
  const table = summaryTable(r);
  const sections: ReportSection[] = [{
    heading: 'Final results',
    text: 'Test accuracy of the last epoch, mean ± sample standard deviation over the finished seeds; the gap to fp32 is the mean ± sample ' +
      'standard deviation of the per-seed differences (pp) over the seeds both finished; ms/step is training time ' +
      'per optimizer step (all epochs); integer GEMMs counts int8, int8-blocked and the bit paths (b1, bitplane, bitplane-blocked) out of the three GEMMs of every layer.',
    table,
  }];
  const curves: ChartConfig[] = [
    bandChart(epochSeries(r, 'test_acc', 100), { xTitle: 'epoch', yTitle: 'test accuracy %', title: 'Test accuracy', xStep: 1 }),
    bandChart(epochSeries(r, 'test_loss'), { xTitle: 'epoch', yTitle: 'test loss', title: 'Test loss', xStep: 1 }),
    bandChart(epochSeries(r, 'train_loss'), { xTitle: 'epoch', yTitle: 'train loss (epoch mean)', title: 'Training loss per epoch', xStep: 1 }),
  ];
  const steps = stepSeries(r, root);
  if (steps.length) curves.push(bandChart(steps, { xTitle: 'epoch', yTitle: 'train loss', title: 'Training loss per step (bucket means)' }));
  sections.push({ heading: 'Learning curves', text: 'Lines: mean over seeds; shaded: min–max over the seeds that reached each point.', charts: curves });
  const timed = r.summary.filter((s) => s.msPerStep);
  if (timed.length) {
    sections.push({
      heading: 'Time per training step',
      charts: [{
        type: 'bar',
        data: { labels: timed.map((s) => s.recipe), datasets: [{ label: 'ms/step (mean over seeds)', data: timed.map((s) => s.msPerStep!.mean), backgroundColor: timed.map((s) => COLORS[r.recipes.indexOf(s.recipe) % COLORS.length]) }] },
        options: { scales: { y: { beginAtZero: true, title: { display: true, text: 'ms/step' } } } },
      }],
    });
  }
  const gt = gemmTable(r);
  if (gt) sections.push({ heading: 'GEMM paths per layer (forward / grad-input / grad-weight)', text: 'fp32-dequant multiplies quantized values in fp32; int8, int8-blocked, b1, bitplane and bitplane-blocked are integer GEMMs.', table: gt });
  const bad = r.runs.filter((x) => x.status !== 'done');
  if (bad.length) {
    sections.push({ heading: 'Runs not finished', table: { columns: ['run', 'status', 'epochs', 'message'], rows: bad.map((x) => [x.dir, x.status, x.epochs, x.message ?? '']) } });
  }
  if (variance?.length) sections.push(varianceSection(variance));
  return renderReport({ title: `fqt compare — ${r.recipes.join(' vs ')}`, subtitle, environment: r.environments.map((l) => `trained on ${l}`), sections });
}
