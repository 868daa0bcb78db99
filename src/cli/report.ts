/**
 * `fqt report DIR`: rebuild DIR/report.html, results.json and results.csv from saved runs without
 * training (a `fqt compare --out` directory, a directory of runs, or one `fqt train --out` directory).
 * `writeReport` is also how `fqt compare` writes them, so both produce the same files.
 */
import { existsSync } from 'node:fs';
import { writeTextAtomic } from '../train/atomic.js';
import path from 'node:path';
import { parseCommand, type FlagSpecs, type Parsed } from './args.js';
import { compareHtml } from '../report/compare-html.js';
import { formatSummary, loadResults, readJson, readRunJson, resultsCsv, resultsJson, type Results } from '../report/results.js';
import { measureRunVariance } from './run-variance.js';
import { resolveRecipe } from '../quant/presets.js';
import type { VarianceReport } from '../stats/variance.js';

export const VARIANCE_FILE = 'variance.json';

export const VARIANCE_FLAGS = {
  variance: { type: 'bool', help: 'measure per-layer gradient variance of each recipe\'s final model (first finished seed)', default: false },
  'variance-batches': { type: 'int', help: 'with --variance: minibatches (≥ 2 give the sampling variance)', default: 3, min: 2 },
  'variance-draws': { type: 'int', help: 'with --variance: FQT backward passes on the fixed batch', default: 8, min: 2 },
} satisfies FlagSpecs;

export const REPORT_FLAGS = {
  ...VARIANCE_FLAGS,
  quiet: { type: 'bool', help: 'do not print the summary table', default: false },
  help: { type: 'bool', help: 'show this help', default: false },
} satisfies FlagSpecs;

/** DIR: an `fqt compare --out` or `fqt train --out` directory. */
export const REPORT_ARGS = { names: ['DIR'], what: 'one directory (an fqt compare --out or fqt train --out directory)' } as const;

interface VarianceFile { batches: number; draws: number; reports: VarianceReport[] }

/**
 * Gradient variance of every quantized recipe's first finished run, saved in DIR/variance.json
 * (fp32 has no gradient quantizer and is skipped).
 */
function measureVariances(dir: string, r: Results, batches: number, draws: number, log: (s: string) => void): VarianceReport[] {
  const reports: VarianceReport[] = [];
  for (const recipe of r.recipes) {
    const run = r.runs.find((x) => x.recipe === recipe && x.status === 'done');
    const runDir = run ? path.join(dir, run.dir) : null;
    const saved = runDir ? readRunJson(runDir) : null;
    if (!runDir || !saved) { log(`variance: ${recipe}: no finished run, skipped`); continue; }
    if (saved.config.recipe === undefined) continue;
    // The recipe the run trained with, as run.json recorded it (run directories of fqt ≤ 0.1.0 only name it).
    const value = saved.recipeData ?? resolveRecipe(saved.config.recipe);
    log(`variance: ${recipe} (${run!.dir}): ${draws} draws on ${batches} batches…`);
    reports.push(measureRunVariance(runDir, saved.config, value, { batches, draws }));
  }
  const file: VarianceFile = { batches, draws, reports };
  writeTextAtomic(path.join(dir, VARIANCE_FILE), JSON.stringify(file, null, 2) + '\n');
  return reports;
}

function savedVariances(dir: string): VarianceReport[] | null {
  const file = path.join(dir, VARIANCE_FILE);
  return existsSync(file) ? readJson<VarianceFile>(file).reports : null;
}

/** Write results.json, results.csv and report.html into `dir`; the variance is measured now with --variance, else the saved one. */
export function writeReport(dir: string, f: Parsed<typeof VARIANCE_FLAGS>, log: (s: string) => void): Results {
  const measured = f.variance ? measureVariances(dir, loadResults(dir), f['variance-batches'], f['variance-draws'], log) : null;
  const r = loadResults(dir);
  writeTextAtomic(path.join(dir, 'results.json'), resultsJson(r));
  writeTextAtomic(path.join(dir, 'results.csv'), resultsCsv(r));
  writeTextAtomic(path.join(dir, 'report.html'), compareHtml(r, dir, measured ?? savedVariances(dir)));
  return r;
}

export function reportCommand(argv: string[]): number {
  const f = parseCommand('report', 'rebuild report.html, results.json and results.csv from saved runs (no training)', REPORT_FLAGS, argv, REPORT_ARGS);
  if (!f) return 0;
  const dir = f._[0];
  const r = writeReport(dir, f, (s) => process.stderr.write(`fqt report: ${s}\n`));
  if (!f.quiet) process.stdout.write(formatSummary(r));
  process.stdout.write(`wrote ${path.join(dir, 'report.html')}, results.json and results.csv (${r.runs.length} runs)\n`);
  return 0;
}
