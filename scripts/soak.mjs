#!/usr/bin/env node
// Soak test of kill-and-resume (issue 18; not part of npm test): `npm run soak -- --kills N [--seed S]`.
// Trains a tiny model (mlp on the synthetic set, 3 epochs, a checkpoint every 50 ms) as chains of runs: each run
// of a chain is killed at a random moment with SIGKILL or SIGINT (half each) and continued with --resume until it
// finishes; chains follow each other until N kills were delivered. Every finished chain must end with exactly the
// metrics of an uninterrupted run, leave no temporary file or lock, and every checkpoint in it must load with finite
// weights. Prints the counts as one JSON line; exits 1 if anything is off.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = path.join(root, 'bin', 'fqt.js');
const { loadCheckpoint } = await import(path.join(root, 'dist', 'src', 'train', 'checkpoint.js'));

const argv = process.argv.slice(2);
const flag = (name, dflt) => { const i = argv.indexOf(`--${name}`); return i >= 0 ? Number(argv[i + 1]) : dflt; };
const kills = flag('kills', 10), seed = flag('seed', 1);
if (!Number.isInteger(kills) || kills < 1) { console.error('soak: --kills must be a positive integer'); process.exit(1); }

let state = seed >>> 0 || 1; // xorshift32: the kill schedule is reproducible from --seed
const random = () => { state ^= state << 13; state >>>= 0; state ^= state >>> 17; state ^= state << 5; state >>>= 0; return state / 2 ** 32; };

const ARGS = ['train', '--model', 'mlp', '--dataset', 'synthetic', '--epochs', '3', '--batch-size', '16', '--lr', '0.05', '--seed', '7',
  '--quiet', '--checkpoint-seconds', '0.05'];
const env = { ...process.env, FQT_QUIET: '1' };
const work = mkdtempSync(path.join(os.tmpdir(), 'fqt-soak-'));

const metrics = (dir) => readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n')
  .map((l) => { const m = JSON.parse(l); return JSON.stringify([m.epoch, m.train_loss, m.train_acc, m.test_loss, m.test_acc, m.lr]); });

const t0 = performance.now();
const ref = path.join(work, 'reference');
const r = spawnSync(process.execPath, [bin, ...ARGS, '--out', ref], { env, encoding: 'utf8' });
if (r.status !== 0) { console.error(`soak: the reference run failed: ${r.stderr}`); process.exit(1); }
const runSeconds = (performance.now() - t0) / 1000;
const expected = metrics(ref);

/**
 * One run of a chain, killed with `signal` `delay` seconds after its run directory exists (so that every kill is
 * followed by a resume) unless it ends first.
 */
function attempt(out, resume, signal, delay) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...ARGS, '--out', out, ...(resume ? ['--resume'] : [])], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '', timer = null, done = false;
    child.stderr.on('data', (d) => { stderr += d; });
    const arm = () => {
      if (done || !signal) return;
      if (existsSync(out)) timer = setTimeout(() => child.kill(signal), delay * 1000);
      else setTimeout(arm, 2);
    };
    arm();
    child.on('exit', (code, sig) => { done = true; if (timer) clearTimeout(timer); resolve({ code, sig, stderr }); });
  });
}

/** Names of temporary files, locks and stale-lock leftovers under `dir`. */
function strays(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (/^\.tmp-|\.tmp-\d+$|^\.lock/.test(name)) out.push(p);
    else if (statSync(p).isDirectory()) out.push(...strays(p));
  }
  return out;
}

const counts = { kills: 0, sigkill: 0, sigint: 0, gracefulExits: 0, resumes: 0, chains: 0, identical: 0, strayFiles: 0,
  checkpointsLoaded: 0, corruptCheckpoints: 0, errors: 0 };
const problems = [];
while (counts.kills < kills) {
  const out = path.join(work, `chain-${counts.chains}`);
  counts.chains++;
  for (let run = 0; ; run++) {
    const signal = counts.kills < kills ? (random() < 0.5 ? 'SIGKILL' : 'SIGINT') : null;
    // A kill can land anywhere after the run directory exists: data loading, a step, a checkpoint write, the evaluation.
    const delay = random() * runSeconds;
    const resume = run > 0;
    if (resume) counts.resumes++;
    const res = await attempt(out, resume, signal, delay);
    if (res.code === 0) break;
    if (res.sig === 'SIGKILL' || res.sig === 'SIGINT' || res.code === 130) {
      counts.kills++;
      counts[signal === 'SIGKILL' ? 'sigkill' : 'sigint']++;
      if (res.code === 130) counts.gracefulExits++;
      continue;
    }
    counts.errors++;
    problems.push(`${out} run ${run}: exit ${res.code} ${res.sig ?? ''}: ${res.stderr.trim()}`);
    if (counts.errors > 3) break;
  }
  if (counts.errors > 3) break;
  if (existsSync(path.join(out, 'metrics.jsonl')) && JSON.stringify(metrics(out)) === JSON.stringify(expected)) counts.identical++;
  else problems.push(`${out}: final metrics differ from the uninterrupted run`);
  const s = strays(out);
  counts.strayFiles += s.length;
  if (s.length) problems.push(`${out}: stray files ${s.join(', ')}`);
  const ckpts = path.join(out, 'checkpoints');
  for (const d of existsSync(ckpts) ? readdirSync(ckpts).filter((n) => n.startsWith('ckpt-')) : []) {
    try {
      const ck = loadCheckpoint(path.join(ckpts, d));
      for (const [name, t] of ck.model) if (!t.data.every(Number.isFinite)) throw new Error(`${name} is not finite`);
      counts.checkpointsLoaded++;
    } catch (err) {
      counts.corruptCheckpoints++;
      problems.push(`${path.join(ckpts, d)}: ${err.message}`);
    }
  }
  rmSync(out, { recursive: true, force: true });
}
console.log(JSON.stringify({ ...counts, seconds: Math.round((performance.now() - t0) / 1000) }));
for (const p of problems) console.error(`soak: ${p}`);
rmSync(work, { recursive: true, force: true });
process.exit(problems.length === 0 && counts.identical === counts.chains ? 0 : 1);
