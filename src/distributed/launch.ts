/**
 * Worker processes, with torchrun's environment conventions:
 *   - a process with WORLD_SIZE > 1 in its environment is one worker: RANK (0 … WORLD_SIZE − 1), MASTER_ADDR and
 *     MASTER_PORT (for env:// rendezvous: rank 0 listens there, so it must be free), LOCAL_RANK optional; any
 *     scheduler can start workers this way, on one host or many;
 *   - `launchWorkers` starts N such workers of the same command on this machine (`fqt train --workers N`): ranks
 *     NODE_RANK·N … NODE_RANK·N + N − 1 of NNODES·N (NNODES = 1 and MASTER_ADDR = 127.0.0.1 by default, a free
 *     MASTER_PORT), FQT_THREADS = cores / N unless set. Rank 0 keeps the terminal (progress, result); the other
 *     workers' error output is shown prefixed by their rank. When a worker fails, the others are stopped and the
 *     launcher exits with the failed worker's code. Ctrl-C stops every worker after the same step (the trainer
 *     agrees on it in the step's all-reduce), rank 0 writes a checkpoint, and the launcher exits with 130.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FqtError } from '../tensor/errors.js';

export interface WorkerEnv {
  rank: number;
  size: number;
}

function intVar(env: NodeJS.ProcessEnv, name: string, min: number): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new FqtError(`environment variable ${name} must be an integer ≥ ${min}, got '${v}'`);
  return n;
}

/** This process's place in a group (RANK / WORLD_SIZE), or null when it is not a worker (no WORLD_SIZE, or 1). */
export function workerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv | null {
  const size = intVar(env, 'WORLD_SIZE', 1);
  if (size === undefined || size === 1) return null;
  const rank = intVar(env, 'RANK', 0);
  if (rank === undefined) throw new FqtError(`WORLD_SIZE=${size} is set but RANK is not: every worker needs its RANK (0 … ${size - 1})`);
  if (rank >= size) throw new FqtError(`RANK=${rank} is outside [0, ${size}) (WORLD_SIZE=${size})`);
  return { rank, size };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Set by launchWorkers in each worker's environment: the --workers count that started it. */
export const LAUNCHED = 'FQT_LAUNCHED_WORKERS';

/** bin/fqt.js of this package (this file is dist/src/distributed/launch.js). */
const FQT_BIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bin', 'fqt.js');

/** Pipe a worker's stderr to ours, each line prefixed by its rank. */
function prefixLines(child: ChildProcess, rank: number): void {
  let buf = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    buf += chunk;
    const lines = buf.split('\n');
    buf = lines.pop() ?? '';
    for (const l of lines) process.stderr.write(`[rank ${rank}] ${l}\n`);
  });
  child.stderr?.on('end', () => { if (buf) process.stderr.write(`[rank ${rank}] ${buf}\n`); });
}

/**
 * Start `workers` processes of `node script <args>` on this machine (default script: `fqt`; the args keep --workers,
 * so a worker's resume hint is the user's command); resolves with the first non-zero exit code, or 0.
 */
export async function launchWorkers(args: string[], workers: number, env: NodeJS.ProcessEnv = process.env, script = FQT_BIN): Promise<number> {
  const nodes = intVar(env, 'NNODES', 1) ?? 1, nodeRank = intVar(env, 'NODE_RANK', 0) ?? 0;
  if (nodeRank >= nodes) throw new FqtError(`NODE_RANK=${nodeRank} is outside [0, ${nodes}) (NNODES=${nodes})`);
  if (nodes > 1 && (!env.MASTER_ADDR || !env.MASTER_PORT)) throw new FqtError(`NNODES=${nodes}: set MASTER_ADDR and MASTER_PORT (rank 0's host and a free port) on every node`);
  const common = {
    MASTER_ADDR: env.MASTER_ADDR ?? '127.0.0.1', MASTER_PORT: env.MASTER_PORT ?? String(await freePort()),
    WORLD_SIZE: String(nodes * workers), LOCAL_WORLD_SIZE: String(workers),
    FQT_THREADS: env.FQT_THREADS ?? String(Math.max(1, Math.floor(os.availableParallelism() / workers))),
  };
  const children = Array.from({ length: workers }, (_, local) => {
    const rank = nodeRank * workers + local;
    const child = spawn(process.execPath, [script, ...args], {
      env: { ...env, ...common, RANK: String(rank), LOCAL_RANK: String(local), [LAUNCHED]: String(workers) },
      stdio: rank === 0 ? 'inherit' : ['ignore', 'ignore', 'pipe'],
    });
    if (rank !== 0) prefixLines(child, rank);
    return { rank, child };
  });
  // Ctrl-C reaches every process of the terminal's foreground group, the workers included: the launcher only stays
  // alive for it (forwarding it would be the second signal, which ends a worker at once). SIGTERM usually targets
  // the launcher alone: it is forwarded.
  const ignore = (): void => undefined;
  const forward = (): void => { for (const { child } of children) child.kill('SIGTERM'); };
  process.on('SIGINT', ignore);
  process.on('SIGTERM', forward);
  try {
    let failed = false;
    const codes = await Promise.all(children.map(({ rank, child }) => new Promise<number>((resolve) => {
      child.on('exit', (code, signal) => {
        const c = code ?? 1;
        // 130 / 143: stopped by a signal after a checkpoint (every worker was signalled and stops at the same step).
        if (c !== 0 && c !== 130 && c !== 143 && !failed) {
          failed = true;
          process.stderr.write(`fqt: worker rank ${rank} ${signal ? `was killed by ${signal}` : `exited with code ${c}`}; stopping the others\n`);
          for (const o of children) if (o.child.exitCode === null && o.child.signalCode === null) o.child.kill('SIGTERM');
        }
        resolve(c);
      });
    })));
    return codes.find((c) => c !== 0) ?? 0;
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGTERM', forward);
  }
}
