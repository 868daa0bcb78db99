/**
 * `fqt compare`: train every (recipe, seed) in turn into OUT/runs/<label>-s<seed>, then write
 * OUT/results.json, OUT/results.csv and OUT/report.html. Repeating the command skips finished runs and
 * resumes an interrupted one from its checkpoint (the trainer's exact resume). A run that fails (e.g.
 * diverges) is recorded as failed with its message, the others still run, and the exit code is 2.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseCommand, type FlagSpecs, type Parsed } from './args.js';
import { cliReporters } from './progress.js';
import { TRAIN_FLAGS, trainConfigFromFlags } from './train.js';
import { VARIANCE_FLAGS, writeReport } from './report.js';
import { formatSummary, loadRun, pct, readManifest, readRunJson, runDirName, type CompareManifest, type RunStatusFile } from '../report/results.js';
import { loadDataset } from '../data/registry.js';
import { resolveRecipe, type Recipe } from '../quant/index.js';
import { latestCheckpointPath } from '../train/checkpoint.js';
import { validateConfig, type TrainConfig } from '../train/config.js';
import { StepLog } from '../train/step-log.js';
import { writeTextAtomic } from '../train/atomic.js';
import { train } from '../train/trainer.js';
import { TrainingInterrupted } from '../train/signals.js';
import { check, FqtError } from '../tensor/errors.js';

// The training flags of `fqt train`, minus the ones compare sets per run.
const { recipe: _recipe, seed: _seed, out: _out, resume: _resume, help: _help, ...SHARED_TRAIN_FLAGS } = TRAIN_FLAGS;

export const COMPARE_FLAGS = {
  recipes: { type: 'string', help: 'comma-separated recipes: presets or JSON files', default: 'fp32,psq4,bhq4' },
  seeds: { type: 'string', help: 'comma-separated seeds, one run per recipe and seed', default: '1' },
  ...SHARED_TRAIN_FLAGS,
  out: { type: 'string', help: 'output directory: runs/<recipe>-s<seed>/, results.json, results.csv, report.html', default: 'runs/compare' },
  ...VARIANCE_FLAGS,
  help: { type: 'bool', help: 'show this help', default: false },
} satisfies FlagSpecs;

const SUMMARY = 'train several recipes × seeds, then write a comparison report (resumable)';

export function parseSeeds(raw: string): number[] {
  const parts = raw.split(',').map((s) => s.trim());
  const seeds = parts.map((s) => {
    const v = Number(s);
    if (s === '' || !Number.isInteger(v) || v < 0 || v >= 2 ** 32) {
      throw new FqtError(`--seeds: '${s}' is not a seed (give comma-separated integers in [0, 2^32), e.g. 1,2,3)`);
    }
    return v;
  });
  const dup = seeds.find((s, i) => seeds.indexOf(s) !== i);
  check(dup === undefined, () => `--seeds: seed ${dup} is given twice`);
  return seeds;
}

/** A recipe of --recipes: as given (preset or file), its label, and its value (null: fp32), resolved once here. */
export interface PlannedRecipe { name: string; label: string; recipe: Recipe | null }

export function parseRecipes(raw: string): PlannedRecipe[] {
  const names = raw.split(',').map((s) => s.trim());
  check(names.every((n) => n !== ''), () => `--recipes: empty entry in '${raw}' (give comma-separated presets or JSON files)`);
  const out = names.map((name): PlannedRecipe => {
    try {
      const recipe = name === 'fp32' ? null : resolveRecipe(name);
      return { name, label: recipe ? recipe.label : 'fp32', recipe };
    } catch (err) {
      if (err instanceof FqtError) throw new FqtError(`--recipes: ${err.message}`);
      throw err;
    }
  });
  const dup = out.find((r, i) => out.findIndex((x) => x.label === r.label) !== i);
  check(dup === undefined, () => `--recipes: two recipes have the label '${dup!.label}' (their run directories would collide)`);
  return out;
}

/** The first key whose value differs, or null (JSON comparison; absent keys compare as absent). */
function configDifference(a: TrainConfig, b: TrainConfig): string | null {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]) as Set<keyof TrainConfig>;
  for (const k of keys) {
    if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return `${k} = ${JSON.stringify(a[k])}, not ${JSON.stringify(b[k])}`;
  }
  return null;
}

/** Atomic (tmp + rename): a kill while writing never leaves a truncated status that blocks the next attempt. */
function writeStatus(runDir: string, s: RunStatusFile): void {
  writeTextAtomic(path.join(runDir, 'status.json'), JSON.stringify(s, null, 2) + '\n');
}

/**
 * One training config per (recipe, seed), built exactly as `fqt train --recipe R --seed S` builds it, so a
 * recipe's own training defaults (the 1-bit presets train with Adam at lr 1e-3) apply unless a flag overrides them.
 */
export function planRuns(f: Parsed<typeof COMPARE_FLAGS>, recipes: PlannedRecipe[], seeds: number[]):
  { label: string; seed: number; rel: string; config: TrainConfig; recipe: Recipe | null }[] {
  return recipes.flatMap((r) => seeds.map((seed) => ({
    label: r.label, seed, rel: path.join('runs', runDirName(r.label, seed)), recipe: r.recipe,
    config: trainConfigFromFlags({ ...f, recipe: r.name, seed, out: f.out, resume: false }, r.recipe),
  })));
}

/**
 * Writes OUT/compare.json after checking that no run directory or earlier comparison in OUT was trained with
 * another configuration (they are never silently mixed into the results).
 */
function writeManifest(out: string, plan: ReturnType<typeof planRuns>, manifest: CompareManifest): void {
  for (const p of plan) {
    const saved = readRunJson(path.join(out, p.rel));
    const diff = saved && configDifference(saved.config, p.config);
    if (diff) throw new FqtError(`${path.join(out, p.rel)} was trained with ${diff}; use another --out (or delete that run)`);
  }
  delete manifest.config.recipe;
  const previous = readManifest(out);
  if (previous) {
    const diff = configDifference({ ...previous.config, seed: 0 }, { ...manifest.config, seed: 0 });
    if (diff) throw new FqtError(`${out} holds a comparison trained with ${diff}; use another --out`);
  }
  mkdirSync(out, { recursive: true });
  writeTextAtomic(path.join(out, 'compare.json'), JSON.stringify(manifest, null, 2) + '\n');
}

export function compareCommand(argv: string[]): number {
  const f = parseCommand('compare', SUMMARY, COMPARE_FLAGS, argv);
  if (!f) return 0;
  const recipes = parseRecipes(f.recipes);
  const seeds = parseSeeds(f.seeds);
  const out = f.out;
  const base = trainConfigFromFlags({ ...f, recipe: 'fp32', seed: seeds[0], out, resume: false }, null);
  validateConfig(base);
  // Fail before any training when the data set cannot be loaded (every run would fail the same way).
  loadDataset(base.dataset, { dataDir: base.dataDir });

  const plan = planRuns(f, recipes, seeds);
  writeManifest(out, plan, { format: 'fqt-compare', version: 1, recipes: recipes.map(({ name, label }) => ({ name, label })), seeds, config: { ...base, seed: seeds[0] } });

  const log = (line: string): void => { process.stderr.write(`${line}\n`); };
  let failed = 0;
  for (const [i, p] of plan.entries()) {
    const runDir = path.join(out, p.rel);
    const tag = `[${i + 1}/${plan.length}] ${p.label} seed ${p.seed}`;
    const before = loadRun(out, p.rel, p.label, p.seed);
    if (before.status === 'done') {
      log(`${tag}: finished earlier (test acc ${pct(before.test_acc)}%), skipped`);
      continue;
    }
    const resume = latestCheckpointPath(path.join(runDir, 'checkpoints')) !== null;
    log(`${tag}: ${resume ? 'resuming' : 'training'} → ${runDir}`);
    const started = new Date();
    const t0 = performance.now();
    const status = (s: RunStatusFile['status'], message: string | null): RunStatusFile => ({
      status: s, message, startedAt: started.toISOString(), finishedAt: s === 'running' ? null : new Date().toISOString(),
      wallSeconds: s === 'running' ? null : (performance.now() - t0) / 1000,
    });
    let steps: StepLog | null = null;
    try {
      mkdirSync(runDir, { recursive: true });
      writeStatus(runDir, status('running', null));
      steps = new StepLog(runDir);
      const stepLog = steps;
      const result = train(p.config, {
        recipe: p.recipe, out: runDir, resume, checkpointSeconds: f['checkpoint-seconds'], ...cliReporters(f.quiet),
        onStep: (e, b, loss) => stepLog.record(e, b, loss),
        onEpoch: () => stepLog.flush(),
      });
      steps.flush();
      writeStatus(runDir, status('done', null));
      const final = result.final!;
      log(`${tag}: done, test acc ${pct(final.test_acc)}%, ${final.ms_per_step.toFixed(1)} ms/step, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    } catch (err) {
      if (err instanceof TrainingInterrupted) throw err; // Ctrl-C stops the whole comparison, not one run
      failed++;
      steps?.flush();
      const message = err instanceof FqtError ? err.message : `internal error: ${(err as Error)?.message ?? String(err)}`;
      writeStatus(runDir, status('failed', message));
      log(`${tag}: FAILED: ${message}`);
    }
  }

  const results = writeReport(out, f, (s) => log(`fqt compare: ${s}`));
  process.stdout.write(formatSummary(results));
  process.stdout.write(`wrote ${path.join(out, 'report.html')}, results.json and results.csv\n`);
  if (failed) {
    log(`fqt compare: ${failed} of ${plan.length} runs failed (see ${path.join(out, 'results.csv')})`);
    return 2;
  }
  return 0;
}
