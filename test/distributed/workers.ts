/** Starting worker processes over loopback for the data-parallel tests (torchrun-style environment). */
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from '../../src/distributed/launch.js';
import { distUnavailableReason } from '../../src/distributed/native.js';
import { ROOT } from '../cli/run-cli.js';

/** Set when the gloo addon is missing: the multi-process tests are skipped with this reason. */
export const NO_GLOO = distUnavailableReason() ?? undefined;

export interface Exit {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

export interface Workers {
  children: ChildProcess[];
  exits: Promise<Exit[]>;
}

/** `size` processes of `node <args>` with RANK / WORLD_SIZE / MASTER_* set (args per rank when a function). */
export async function startWorkers(size: number, args: string[] | ((rank: number) => string[]), env: Record<string, string> = {}): Promise<Workers> {
  const port = await freePort();
  const children = Array.from({ length: size }, (_, rank) => spawn(process.execPath, typeof args === 'function' ? args(rank) : args, {
    cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, FQT_QUIET: '1', FQT_THREADS: '1', WORLD_SIZE: String(size), RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ...env },
  }));
  const exits = Promise.all(children.map((c, rank) => new Promise<Exit>((resolve) => {
    let stderr = '';
    c.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    c.on('close', (code, signal) => resolve({ rank, code, signal, stderr }));
  })));
  return { children, exits };
}
