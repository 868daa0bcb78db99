/**
 * Rendezvous: before gloo can connect its pairs, every rank needs the address blobs the others created for it
 * (native/distributed/distributed.cc). The methods follow PyTorch's init_method URLs:
 *   env://              MASTER_ADDR and MASTER_PORT (torchrun's variables): rank 0 serves, the others connect
 *   tcp://HOST:PORT     the same with the address given
 *   file:///DIR         a directory every rank can read and write (a shared file system); it must hold no files
 *                       of an earlier job (each rank refuses to overwrite its own file); rank 0 removes the
 *                       files once the group is connected
 * Each rank also sends its "job" — the options that must agree across ranks (model, batch size, seed, …) — and the
 * rendezvous fails with one line naming the first option in which a rank differs from rank 0.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FqtError } from '../tensor/errors.js';

export type InitMethod = { kind: 'tcp'; host: string; port: number } | { kind: 'file'; dir: string };

/** What one rank tells the others. */
export interface PeerInfo {
  rank: number;
  size: number;
  hostname: string;
  /** Options that must be equal on every rank. */
  job: Record<string, unknown>;
  /** Base64 address blob of this rank's pair with each rank ('' for itself). */
  blobs: string[];
}

const LOOPBACK = /^(127\.|localhost$|::1$)/;

/** Parse an init method URL; env:// reads MASTER_ADDR / MASTER_PORT from `env`. */
export function parseInitMethod(url: string, env: NodeJS.ProcessEnv = process.env): InitMethod {
  if (url === 'env://') {
    const host = env.MASTER_ADDR, port = env.MASTER_PORT;
    if (!host || !port) throw new FqtError(`rendezvous env:// needs MASTER_ADDR and MASTER_PORT in the environment (got MASTER_ADDR=${host ?? '(unset)'}, MASTER_PORT=${port ?? '(unset)'})`);
    return { kind: 'tcp', host, port: parsePort(port, 'MASTER_PORT') };
  }
  const tcp = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d+)\/?$/.exec(url);
  if (tcp) return { kind: 'tcp', host: tcp[1].replace(/^\[|\]$/g, ''), port: parsePort(tcp[2], url) };
  const file = /^file:\/\/(\/.*)$/.exec(url);
  if (file) return { kind: 'file', dir: file[1] };
  throw new FqtError(`rendezvous '${url}' is not env://, tcp://HOST:PORT or file:///DIR`);
}

function parsePort(s: string, what: string): number {
  const p = Number(s);
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new FqtError(`${what}: port must be an integer in [1, 65535], got '${s}'`);
  return p;
}

/** The first job option in which `other` differs from `ref`, as a sentence, or null. */
export function jobDifference(ref: PeerInfo, other: PeerInfo): string | null {
  if (other.size !== ref.size) return `rank ${other.rank} has WORLD_SIZE ${other.size}, rank ${ref.rank} has ${ref.size}`;
  for (const key of new Set([...Object.keys(ref.job), ...Object.keys(other.job)])) {
    const a = JSON.stringify(ref.job[key]), b = JSON.stringify(other.job[key]);
    if (a !== b) return `rank ${other.rank} was started with ${key} = ${b ?? 'nothing'}, rank ${ref.rank} with ${a ?? 'nothing'}`;
  }
  return null;
}

/** Check a complete set of peers (one per rank, same job); returns them in rank order. */
function checkPeers(peers: PeerInfo[], size: number): PeerInfo[] {
  const byRank: PeerInfo[] = [];
  for (const p of peers) {
    if (!Number.isInteger(p.rank) || p.rank < 0 || p.rank >= size) throw new FqtError(`rendezvous: a process claims rank ${p.rank}, outside [0, ${size})`);
    if (byRank[p.rank]) throw new FqtError(`rendezvous: two processes claim rank ${p.rank} (check RANK of every worker)`);
    byRank[p.rank] = p;
  }
  for (const p of byRank) {
    const diff = jobDifference(byRank[0], p);
    if (diff) throw new FqtError(`rendezvous: ${diff}; every worker needs the same training options`);
  }
  return byRank;
}

/** The address gloo binds: GLOO_SOCKET_IFNAME's, else the one this host uses to reach the rendezvous host. */
export async function localAddress(init: InitMethod, rank: number, deadline: number): Promise<string> {
  const iface = process.env.GLOO_SOCKET_IFNAME;
  if (iface) {
    const a = os.networkInterfaces()[iface]?.find((x) => x.family === 'IPv4') ?? os.networkInterfaces()[iface]?.[0];
    if (!a) throw new FqtError(`GLOO_SOCKET_IFNAME=${iface}: no such network interface (have: ${Object.keys(os.networkInterfaces()).join(', ')})`);
    return a.address;
  }
  if (init.kind === 'tcp' && LOOPBACK.test(init.host)) return init.host === 'localhost' ? '127.0.0.1' : init.host;
  if (init.kind === 'tcp' && rank > 0) {
    const s = await connectRetry(init, deadline);
    const a = s.localAddress ?? '127.0.0.1';
    s.destroy();
    return a.replace(/^::ffff:/, '');
  }
  if (init.kind === 'tcp') return init.host;
  const external = Object.values(os.networkInterfaces()).flat().find((x) => x && !x.internal && x.family === 'IPv4');
  return external?.address ?? '127.0.0.1';
}

/** Exchange PeerInfo with every rank; resolves with all of them in rank order (this rank's included). */
export async function exchange(init: InitMethod, me: PeerInfo, deadline: number): Promise<PeerInfo[]> {
  if (init.kind === 'file') return exchangeFiles(init.dir, me, deadline);
  return me.rank === 0 ? serve(init, me, deadline) : join(init, me, deadline);
}

function timeoutError(init: InitMethod, what: string): FqtError {
  const where = init.kind === 'tcp' ? `${init.host}:${init.port}` : init.dir;
  return new FqtError(`rendezvous at ${where} timed out: ${what} (raise --dist-timeout, or check that every worker started with the same address and WORLD_SIZE)`);
}

function sendLine(s: net.Socket, o: unknown): void {
  s.write(`${JSON.stringify(o)}\n`);
}

/** Calls onLine for each newline-terminated line the socket receives. */
function onLines(s: net.Socket, onLine: (line: string) => void): void {
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (chunk: string) => {
    buf += chunk;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      onLine(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

/** Rank 0: accept size − 1 peers, then send everyone the full list (or the error). */
function serve(init: Extract<InitMethod, { kind: 'tcp' }>, me: PeerInfo, deadline: number): Promise<PeerInfo[]> {
  return new Promise((resolve, reject) => {
    const peers: PeerInfo[] = [me];
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      onLines(s, (line) => {
        try { peers.push(JSON.parse(line) as PeerInfo); } catch { return; }
        if (peers.length === me.size) finish();
      });
    });
    const timer = setTimeout(() => fail(timeoutError(init, `${peers.length} of ${me.size} ranks joined (missing: ${missing(peers, me.size)})`)), Math.max(0, deadline - Date.now()));
    const done = (): void => { clearTimeout(timer); server.close(); };
    const fail = (err: Error): void => {
      for (const s of sockets) { sendLine(s, { error: err.message }); s.end(); }
      done();
      reject(err);
    };
    const finish = (): void => {
      let all: PeerInfo[];
      try { all = checkPeers(peers, me.size); } catch (err) { fail(err as Error); return; }
      for (const s of sockets) { sendLine(s, { peers: all }); s.end(); }
      done();
      resolve(all);
    };
    server.on('error', (err: NodeJS.ErrnoException) => fail(new FqtError(err.code === 'EADDRINUSE'
      ? `rendezvous: port ${init.port} is in use on ${init.host} (another job? choose another MASTER_PORT)` : `rendezvous: cannot listen on ${init.host}:${init.port} (${err.message})`)));
    server.listen(init.port, LOOPBACK.test(init.host) ? init.host : undefined);
    if (me.size === 1) finish();
  });
}

function missing(peers: PeerInfo[], size: number): string {
  const have = new Set(peers.map((p) => p.rank));
  return Array.from({ length: size }, (_, r) => r).filter((r) => !have.has(r)).join(', ') || 'none';
}

/** Connect to the rendezvous, retrying while rank 0 is not listening yet. */
function connectRetry(init: Extract<InitMethod, { kind: 'tcp' }>, deadline: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = net.connect(init.port, init.host);
      s.once('connect', () => { s.removeAllListeners('error'); resolve(s); });
      s.once('error', (err: NodeJS.ErrnoException) => {
        s.destroy();
        if (Date.now() + 100 > deadline) reject(timeoutError(init, `rank 0 is not listening (${err.code ?? err.message})`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

async function join(init: Extract<InitMethod, { kind: 'tcp' }>, me: PeerInfo, deadline: number): Promise<PeerInfo[]> {
  const s = await connectRetry(init, deadline);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { s.destroy(); reject(timeoutError(init, 'rank 0 did not answer with every rank\'s address')); }, Math.max(0, deadline - Date.now()));
    let answered = false;
    onLines(s, (line) => {
      answered = true;
      clearTimeout(timer);
      s.end();
      const reply = JSON.parse(line) as { peers?: PeerInfo[]; error?: string };
      if (reply.error !== undefined || !reply.peers) reject(new FqtError(reply.error ?? 'rendezvous: empty answer from rank 0'));
      else resolve(reply.peers);
    });
    s.on('error', (err) => { clearTimeout(timer); reject(new FqtError(`rendezvous: connection to rank 0 failed (${err.message})`)); });
    s.on('close', () => { if (!answered) { clearTimeout(timer); reject(new FqtError('rendezvous: rank 0 closed the connection without an answer (did it fail? see its output)')); } });
    sendLine(s, me);
  });
}

const rankFile = (dir: string, rank: number): string => path.join(dir, `rank-${rank}.json`);

async function exchangeFiles(dir: string, me: PeerInfo, deadline: number): Promise<PeerInfo[]> {
  mkdirSync(dir, { recursive: true });
  const mine = rankFile(dir, me.rank);
  if (existsSync(mine)) throw new FqtError(`rendezvous: ${mine} already exists (left by an earlier job, or two workers claim rank ${me.rank}): use an empty directory`);
  writeFileSync(`${mine}.tmp`, JSON.stringify(me));
  renameSync(`${mine}.tmp`, mine);
  for (;;) {
    const present = Array.from({ length: me.size }, (_, r) => existsSync(rankFile(dir, r)));
    if (present.every(Boolean)) break;
    if (Date.now() > deadline) {
      throw timeoutError({ kind: 'file', dir }, `ranks ${present.flatMap((p, r) => (p ? [] : [r])).join(', ')} did not write their file`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return checkPeers(Array.from({ length: me.size }, (_, r) => JSON.parse(readFileSync(rankFile(dir, r), 'utf8')) as PeerInfo), me.size);
}

/** Rank 0, once every rank is connected: remove the rendezvous files so that the directory can serve again. */
export function cleanRendezvous(init: InitMethod, size: number): void {
  if (init.kind !== 'file') return;
  for (let r = 0; r < size; r++) rmSync(rankFile(init.dir, r), { force: true });
}
