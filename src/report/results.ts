/**
 * Results of a comparison: the runs saved under a directory, read back from disk (run.json,
 * metrics.jsonl, status.json) and aggregated per recipe over seeds. `fqt compare` and `fqt report`
 * both build their results.json / results.csv / report.html from this, so a report rebuilt from saved
 * runs is identical to the one written after training.
 *
 * Layouts understood by `loadResults(dir)`:
 *   dir/compare.json + dir/runs/<label>-s<seed>/   written by `fqt compare` (the manifest fixes the order)
 *   dir/runs/<x>/run.json                          runs without a manifest (recipe and seed from run.json)
 *   dir/run.json                                   one `fqt train` run directory
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TrainConfig } from '../train/config.js';
import type { EpochMetrics } from '../train/metrics.js';
import type { GemmPath } from '../quant/gemm/plan.js';
import type { Recipe } from '../quant/recipe.js';
import { environmentLine, type Environment } from '../train/environment.js';
import { FqtError } from '../tensor/errors.js';

/** OUT/compare.json: what `fqt compare` was asked to run. */
export interface CompareManifest {
  format: 'fqt-compare';
  version: 1;
  /** Recipes as given on the command line (preset name or JSON file) and their labels. */
  recipes: { name: string; label: string }[];
  seeds: number[];
  /** The shared training configuration (its `recipe` and `seed` are set per run). */
  config: TrainConfig;
}

/** OUT/runs/<run>/status.json, written by `fqt compare` around each run. */
export interface RunStatusFile {
  status: 'running' | 'done' | 'failed';
  message: string | null;
  startedAt: string;
  finishedAt: string | null;
  /** Wall-clock seconds of the last attempt (including data loading and evaluation). */
  wallSeconds: number | null;
}

export type RunStatus = 'done' | 'failed' | 'incomplete' | 'missing';

export interface LayerPaths {
  layer: string;
  forward: GemmPath;
  gradInput: GemmPath;
  gradWeight: GemmPath;
}

export interface RunResult {
  recipe: string;
  seed: number;
  /** Relative to the results directory. */
  dir: string;
  status: RunStatus;
  message: string | null;
  /** Completed epochs; the metrics below are those of the last one (null when none completed). */
  epochs: number;
  train_loss: number | null;
  train_acc: number | null;
  test_loss: number | null;
  test_acc: number | null;
  /** Training time per optimizer step over all completed epochs (total seconds / total steps). */
  ms_per_step: number | null;
  images_per_s: number | null;
  train_seconds: number | null;
  history: EpochMetrics[];
  gemmPaths: LayerPaths[] | null;
}

export interface Stat {
  mean: number;
  std: number | null;
  min: number;
  max: number;
  n: number;
}

export interface RecipeSummary {
  recipe: string;
  done: number;
  failed: number;
  /** Test accuracy of the finished runs (fraction in [0, 1]). */
  testAcc: Stat | null;
  testLoss: Stat | null;
  /**
   * Test accuracy minus fp32's in percentage points, paired by seed: the mean over the seeds where both finished of
   * (acc − acc_fp32) (null without an fp32 recipe or a common seed).
   */
  gapToFp32: number | null;
  /** Sample standard deviation (n − 1) of those paired differences (null for fewer than 2 seeds). */
  gapToFp32Std: number | null;
  /** Seeds paired. */
  gapSeeds: number;
  msPerStep: Stat | null;
  /** GEMM path per layer (from the first run that has run.json). */
  gemmPaths: LayerPaths[] | null;
}

export interface Results {
  format: 'fqt-compare-results';
  version: 1;
  recipes: string[];
  seeds: number[];
  config: TrainConfig | null;
  /** Where the runs were trained (run.json), one line per distinct environment with its dates. */
  environments: string[];
  runs: RunResult[];
  summary: RecipeSummary[];
}

export const RUN_CSV_COLUMNS = ['recipe', 'seed', 'status', 'epochs', 'train_loss', 'train_acc', 'test_loss', 'test_acc',
  'ms_per_step', 'images_per_s', 'train_seconds', 'message'] as const;

export function runDirName(label: string, seed: number): string {
  return `${label}-s${seed}`;
}

/** A JSON file, or an FqtError naming it (the errno code, or the parse error). */
export function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new FqtError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

export function readManifest(dir: string): CompareManifest | null {
  const file = path.join(dir, 'compare.json');
  if (!existsSync(file)) return null;
  const m = readJson<CompareManifest>(file);
  if (m.format !== 'fqt-compare' || m.version !== 1) throw new FqtError(`${file} is not an fqt compare manifest (format ${String(m.format)}, version ${String(m.version)})`);
  return m;
}

interface RunJson { config: TrainConfig; recipe: string; recipeData?: Recipe; environment?: Environment; stepsPerEpoch?: number; gemmPaths: { name: string; gemms: Record<'forward' | 'gradInput' | 'gradWeight', { path: GemmPath }> }[] | null }

export function readRunJson(runDir: string): RunJson | null {
  const file = path.join(runDir, 'run.json');
  return existsSync(file) ? readJson<RunJson>(file) : null;
}

export function readStatus(runDir: string): RunStatusFile | null {
  const file = path.join(runDir, 'status.json');
  return existsSync(file) ? readJson<RunStatusFile>(file) : null;
}

export function readHistory(runDir: string): EpochMetrics[] {
  const file = path.join(runDir, 'metrics.jsonl');
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as EpochMetrics);
}

/** One run as found on disk. `recipe`/`seed` name it even when nothing was written yet ('missing'). */
export function loadRun(root: string, rel: string, recipe: string, seed: number): RunResult {
  const dir = path.join(root, rel);
  const run = readRunJson(dir);
  const status = readStatus(dir);
  const history = readHistory(dir);
  const last = history.length ? history[history.length - 1] : null;
  let state: RunStatus;
  if (status?.status === 'failed') state = 'failed';
  else if (run && history.length >= run.config.epochs && status?.status !== 'running') state = 'done';
  else state = run || history.length ? 'incomplete' : 'missing';
  const seconds = history.reduce((s, m) => s + m.seconds, 0);
  const steps = history.reduce((s, m) => s + (m.ms_per_step > 0 ? (1000 * m.seconds) / m.ms_per_step : 0), 0);
  return {
    recipe, seed, dir: rel, status: state, message: status?.message ?? null, epochs: history.length,
    train_loss: last?.train_loss ?? null, train_acc: last?.train_acc ?? null, test_loss: last?.test_loss ?? null, test_acc: last?.test_acc ?? null,
    ms_per_step: steps > 0 ? (1000 * seconds) / steps : null,
    images_per_s: last ? history.reduce((s, m) => s + m.images_per_s * m.seconds, 0) / Math.max(1e-12, seconds) : null,
    train_seconds: last ? seconds : null,
    history,
    gemmPaths: run?.gemmPaths?.map((l) => ({ layer: l.name, forward: l.gemms.forward.path, gradInput: l.gemms.gradInput.path, gradWeight: l.gemms.gradWeight.path })) ?? null,
  };
}

export function stat(values: readonly number[]): Stat | null {
  const n = values.length;
  if (n === 0) return null;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  // Sample standard deviation over seeds (n − 1); undefined for one seed.
  const std = n >= 2 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, std, min: Math.min(...values), max: Math.max(...values), n };
}

export function summarize(recipes: readonly string[], runs: readonly RunResult[]): RecipeSummary[] {
  const rows = recipes.map((recipe): RecipeSummary => {
    const mine = runs.filter((r) => r.recipe === recipe);
    const done = mine.filter((r) => r.status === 'done');
    return {
      recipe,
      done: done.length,
      failed: mine.filter((r) => r.status === 'failed').length,
      testAcc: stat(done.map((r) => r.test_acc!)),
      testLoss: stat(done.map((r) => r.test_loss!)),
      gapToFp32: null,
      gapToFp32Std: null,
      gapSeeds: 0,
      msPerStep: stat(done.filter((r) => r.ms_per_step !== null).map((r) => r.ms_per_step!)),
      gemmPaths: mine.find((r) => r.gemmPaths !== null)?.gemmPaths ?? null,
    };
  });
  const accBySeed = (recipe: string) => new Map(runs.filter((x) => x.recipe === recipe && x.status === 'done').map((x) => [x.seed, x.test_acc!]));
  const fp32 = accBySeed('fp32');
  if (!recipes.includes('fp32') || fp32.size === 0) return rows;
  for (const r of rows) {
    const mine = accBySeed(r.recipe);
    const gap = stat([...mine].filter(([seed]) => fp32.has(seed)).map(([seed, acc]) => 100 * (acc - fp32.get(seed)!)));
    if (gap) Object.assign(r, { gapToFp32: gap.mean, gapToFp32Std: gap.std, gapSeeds: gap.n });
  }
  return rows;
}

/** The (run dir, recipe, seed) triples under `dir`, in manifest order when there is one. */
function discover(dir: string): { manifest: CompareManifest | null; entries: { rel: string; recipe: string; seed: number }[] } {
  const manifest = readManifest(dir);
  if (manifest) {
    return {
      manifest,
      entries: manifest.recipes.flatMap((r) => manifest.seeds.map((seed) => ({ rel: path.join('runs', runDirName(r.label, seed)), recipe: r.label, seed }))),
    };
  }
  const runsDir = path.join(dir, 'runs');
  if (existsSync(runsDir)) {
    const entries = readdirSync(runsDir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort()
      .flatMap((name) => {
        const run = readRunJson(path.join(runsDir, name));
        return run ? [{ rel: path.join('runs', name), recipe: run.recipe, seed: run.config.seed }] : [];
      });
    if (entries.length) return { manifest: null, entries };
  }
  const single = readRunJson(dir);
  if (single) return { manifest: null, entries: [{ rel: '.', recipe: single.recipe, seed: single.config.seed }] };
  throw new FqtError(`${dir} holds no runs: expected compare.json (fqt compare), runs/*/run.json, or run.json (fqt train --out)`);
}

export function loadResults(dir: string): Results {
  if (!existsSync(dir)) throw new FqtError(`results directory ${dir} does not exist`);
  const { manifest, entries } = discover(dir);
  const runs = entries.map((e) => loadRun(dir, e.rel, e.recipe, e.seed));
  const recipes = [...new Set(entries.map((e) => e.recipe))];
  const seeds = [...new Set(entries.map((e) => e.seed))].sort((a, b) => a - b);
  const anyRun = entries.map((e) => readRunJson(path.join(dir, e.rel))).find((r) => r !== null);
  const config = manifest?.config ?? anyRun?.config ?? null;
  const environments = runEnvironments(entries.map((e) => readRunJson(path.join(dir, e.rel))?.environment));
  return { format: 'fqt-compare-results', version: 1, recipes, seeds, config, environments, runs, summary: summarize(recipes, runs) };
}

/** Distinct training environments with their date ranges (runs of fqt ≤ 0.1.0 recorded none). */
function runEnvironments(envs: (Environment | undefined)[]): string[] {
  const groups = new Map<string, { env: Environment; dates: string[] }>();
  for (const e of envs) {
    if (!e) continue;
    const key = JSON.stringify({ ...e, date: '' });
    const g = groups.get(key) ?? { env: e, dates: [] };
    g.dates.push(e.date);
    groups.set(key, g);
  }
  const lines = [...groups.values()].map(({ env, dates }) => {
    const sorted = dates.sort();
    return environmentLine({ ...env, date: sorted[0] === sorted[sorted.length - 1] ? sorted[0] : `${sorted[0]} to ${sorted[sorted.length - 1]}` });
  });
  return lines.length ? lines : ['not recorded (runs of fqt 0.1.0 and older)'];
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One row per run (RFC 4180 quoting). */
export function resultsCsv(r: Results): string {
  const lines = [RUN_CSV_COLUMNS.join(',')];
  for (const run of r.runs) lines.push(RUN_CSV_COLUMNS.map((c) => csvCell(run[c])).join(','));
  return lines.join('\n') + '\n';
}

/** Results as JSON; the per-epoch history stays in each run's metrics.jsonl. */
export function resultsJson(r: Results): string {
  return JSON.stringify({ ...r, runs: r.runs.map(({ history: _h, ...rest }) => rest) }, null, 2) + '\n';
}

export function pct(v: number | null | undefined, digits = 2): string {
  return v === null || v === undefined ? '–' : `${(100 * v).toFixed(digits)}`;
}

/** "97.12 ± 0.31" (percent) or "97.12" for one seed. */
export function accCell(s: Stat | null): string {
  if (!s) return '–';
  return s.std === null ? pct(s.mean) : `${pct(s.mean)} ± ${pct(s.std)}`;
}

/** Paths whose GEMM runs on integers or bits with an exact int32 sum (plan.ts; fp32-dequant is not integer). */
const INTEGER_PATHS = new Set<GemmPath>(['int8', 'int8-blocked', 'b1', 'bitplane', 'bitplane-blocked']);

/** Integer GEMMs out of all GEMMs. */
export function integerGemms(paths: LayerPaths[] | null): string {
  if (!paths) return '–';
  const all = paths.flatMap((p) => [p.forward, p.gradInput, p.gradWeight]);
  return `${all.filter((p) => INTEGER_PATHS.has(p)).length}/${all.length}`;
}

/** "+0.35 ± 0.12" (mean ± sample std of the per-seed differences), "+0.35" for one seed, '–' without a pair. */
function gapCell(s: RecipeSummary): string {
  if (s.gapToFp32 === null) return '–';
  const g = `${s.gapToFp32 >= 0 ? '+' : ''}${s.gapToFp32.toFixed(2)}`;
  return s.gapToFp32Std === null || s.recipe === 'fp32' ? g : `${g} ± ${s.gapToFp32Std.toFixed(2)}`;
}

/** The final table (rows of strings), shared by stdout and the HTML report. */
export function summaryTable(r: Results): { columns: string[]; rows: string[][] } {
  const hasFp32 = r.summary.some((s) => s.recipe === 'fp32' && s.testAcc);
  const columns = ['recipe', 'runs ok', 'test acc %', ...(hasFp32 ? ['gap to fp32 (pp, paired)'] : []), 'test loss', 'ms/step', 'integer GEMMs'];
  const rows = r.summary.map((s) => [
    s.recipe,
    `${s.done}/${r.runs.filter((x) => x.recipe === s.recipe).length}${s.failed ? ` (${s.failed} failed)` : ''}`,
    accCell(s.testAcc),
    ...(hasFp32 ? [gapCell(s)] : []),
    s.testLoss ? s.testLoss.mean.toFixed(4) : '–',
    s.msPerStep ? s.msPerStep.mean.toFixed(1) : '–',
    integerGemms(s.gemmPaths),
  ]);
  return { columns, rows };
}

/** A plain-text table, two spaces between columns: the first `left` columns padded right, the others padded left. */
export function textTable(columns: readonly string[], rows: readonly string[][], left = 1): string {
  const widths = columns.map((c, i) => Math.max(c.length, ...rows.map((row) => row[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i < left ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(columns), ...rows.map(line)].join('\n');
}

export function formatSummary(r: Results): string {
  const { columns, rows } = summaryTable(r);
  return `${textTable(columns, rows)}\ntrained on: ${r.environments.join('; ')}\n`;
}
