/**
 * Where a number was measured: fqt version, Node version, backend, native ISA tier and threads, date, and the git
 * commit of the fqt checkout when it is one. Recorded in run.json and shown in every report (HTML and terminal),
 * so a result can be traced to the code and machine tier that produced it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { backend } from '../backend/index.js';
import { nativeInfo } from '../backend/native.js';

export interface Environment {
  fqt: string;
  node: string;
  backend: string;
  /** Active native ISA tier (null on the reference backend). */
  isa: string | null;
  threads: number;
  /** ISO 8601. */
  date: string;
  /** Short git commit of the fqt checkout (null for an installed package). */
  commit: string | null;
}

/** The package root (…/dist/src/train → …). */
const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

let commit: string | null | undefined;

/** The checkout's commit, only when the package root itself is a git checkout (not a package inside a user's repo). */
function gitCommit(): string | null {
  if (commit !== undefined) return commit;
  commit = null;
  if (existsSync(path.join(PACKAGE_ROOT, '.git'))) {
    const r = spawnSync('git', ['-C', PACKAGE_ROOT, 'rev-parse', '--short=12', 'HEAD'], { encoding: 'utf8', timeout: 5000 });
    if (r.status === 0) commit = r.stdout.trim() || null;
  }
  return commit;
}

export function environment(): Environment {
  const b = backend();
  const native = b.name === 'ref' ? null : nativeInfo();
  return {
    fqt: packageVersion(), node: process.version, backend: b.name, isa: native?.active ?? null, threads: native?.threads ?? 1,
    date: new Date().toISOString(), commit: gitCommit(),
  };
}

/** "fqt 0.1.0 · node v20.20.2 · backend native (avx2, 2 threads) · 2025-…Z · commit 0fe31c0a1b2c". */
export function environmentLine(e: Environment): string {
  const b = e.isa ? `${e.backend} (${e.isa}, ${e.threads} thread${e.threads === 1 ? '' : 's'})` : `${e.backend} (${e.threads} thread${e.threads === 1 ? '' : 's'})`;
  return `fqt ${e.fqt} · node ${e.node} · backend ${b} · ${e.date}${e.commit ? ` · commit ${e.commit}` : ''}`;
}

/** A path as reports show it: relative to the working directory when inside it, else its last two segments. */
export function displayPath(p: string): string {
  const rel = path.relative(process.cwd(), p);
  if (rel === '') return '.';
  if (!rel.startsWith('..') && !path.isAbsolute(rel)) return rel;
  return path.join('…', ...p.split(path.sep).filter(Boolean).slice(-2));
}
