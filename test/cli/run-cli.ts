/** Runs the real `fqt` launcher in a child process (as a user would) and captures its output. */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const BIN = path.join(ROOT, 'bin', 'fqt.js');

export function runFqt(args: string[], env: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8', env: { ...process.env, FQT_QUIET: '1', ...env }, cwd: ROOT, timeout: 120_000,
  });
}
