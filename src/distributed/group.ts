/**
 * A process group: N processes (ranks 0 … N−1) connected by gloo over TCP, with blocking collectives. `join`
 * performs the rendezvous (distributed/rendezvous.ts) and connects every pair; a failure anywhere — a worker killed, a
 * connection reset, a peer that stops answering for `timeoutSeconds` — is an FqtError naming this rank and the
 * operation, raised by the collective that noticed it.
 */
import os from 'node:os';
import { FqtError } from '../tensor/errors.js';
import { distAddon, type NativeGroup } from './native.js';
import { cleanRendezvous, exchange, localAddress, parseInitMethod } from './rendezvous.js';
import { ringBytesSent } from './ring.js';

export interface JoinOptions {
  rank: number;
  size: number;
  /** Rendezvous: 'env://' (MASTER_ADDR, MASTER_PORT; the default), 'tcp://HOST:PORT' or 'file:///DIR'. */
  init?: string;
  /** How long the rendezvous, a connection or one collective may wait for a peer (default 300 s). */
  timeoutSeconds?: number;
  /** Options that must agree on every rank (the rendezvous names the first that differs). */
  job?: Record<string, unknown>;
}

export const DEFAULT_DIST_TIMEOUT_SECONDS = 300;

export class ProcessGroup {
  /** Bytes this rank has sent in all-reduces so far (gloo's ring schedule, distributed/ring.ts). */
  allreduceBytesSent = 0;

  private constructor(private native: NativeGroup | null, readonly rank: number, readonly size: number, readonly timeoutSeconds: number) {}

  /** Join the group: rendezvous, connect every pair, barrier. */
  static async join(o: JoinOptions): Promise<ProcessGroup> {
    if (!Number.isInteger(o.size) || o.size < 1) throw new FqtError(`the group size (WORLD_SIZE) must be a positive integer, got ${o.size}`);
    if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.size) throw new FqtError(`the rank (RANK) must be an integer in [0, ${o.size}), got ${o.rank}`);
    const timeoutSeconds = o.timeoutSeconds ?? DEFAULT_DIST_TIMEOUT_SECONDS;
    if (!(timeoutSeconds > 0)) throw new FqtError(`the distributed timeout must be positive, got ${timeoutSeconds} s`);
    const addon = distAddon();
    const init = parseInitMethod(o.init ?? 'env://');
    const deadline = Date.now() + timeoutSeconds * 1000;
    const host = await localAddress(init, o.rank, deadline);
    let native: NativeGroup;
    try {
      native = new addon.Group(o.rank, o.size, host, Math.round(timeoutSeconds * 1000));
    } catch (err) {
      throw new FqtError(`rank ${o.rank}: gloo cannot listen on ${host} (${glooMessage(err)}); set GLOO_SOCKET_IFNAME to the network interface to use`);
    }
    const blobs = native.addresses().map((b) => Buffer.from(b).toString('base64'));
    let peers;
    try {
      peers = await exchange(init, { rank: o.rank, size: o.size, hostname: os.hostname(), job: o.job ?? {}, blobs }, deadline);
    } catch (err) {
      native.close();
      throw err;
    }
    const localRank = peers.slice(0, o.rank).filter((p) => p.hostname === os.hostname()).length;
    const g = new ProcessGroup(native, o.rank, o.size, timeoutSeconds);
    g.call('connecting to its peers', (n) => n.connect(peers.map((p) => Buffer.from(p.blobs[o.rank], 'base64')), localRank));
    g.barrier();
    if (o.rank === 0) cleanRendezvous(init, o.size);
    return g;
  }

  /** x ← elementwise sum of x over the ranks (gloo ring all-reduce, float32). Every rank gets the same bits. */
  allreduceSum(x: Float32Array): void {
    this.call('all-reduce', (n) => n.allreduceF32(x));
    this.allreduceBytesSent += ringBytesSent(x.length, 4, this.size, this.rank);
  }

  /**
   * gloo's ring all-reduce over opaque blocks of `blockBytes` bytes (distributed/coded-allreduce.ts): whenever the ring
   * reduces blocks [first, first + count) received from a peer, their bytes are in `scratch` and `reduce` must write
   * the reduced blocks into `buf`.
   */
  allreduceBlocks(buf: Uint8Array, blockBytes: number, scratch: Uint8Array, reduce: (first: number, count: number) => void): void {
    this.call('all-reduce', (n) => n.allreduceBlocks(buf, blockBytes, scratch, reduce));
    this.allreduceBytesSent += ringBytesSent(buf.length / blockBytes, blockBytes, this.size, this.rank);
  }

  /** Rank `root`'s bytes to every rank (the lengths must agree; see broadcastBytes for a variable length). */
  broadcast(bytes: Uint8Array, root: number): void {
    this.call('broadcast', (n) => n.broadcast(bytes, root));
  }

  /** Rank `root`'s byte string (of any length) to every rank; the others pass null. */
  broadcastBytes(bytes: Uint8Array | null, root: number): Uint8Array {
    const len = new Uint8Array(new Float64Array([bytes?.length ?? 0]).buffer);
    this.broadcast(len, root);
    const out = this.rank === root && bytes ? bytes : new Uint8Array(new Float64Array(len.buffer)[0]);
    this.broadcast(out, root);
    return out;
  }

  barrier(): void {
    this.call('barrier', (n) => n.barrier());
  }

  /** Close every connection (idempotent); the peers' next collective fails. */
  close(): void {
    this.native?.close();
    this.native = null;
  }

  private call(what: string, f: (n: NativeGroup) => void): void {
    if (!this.native) throw new FqtError(`rank ${this.rank}: ${what} on a closed process group`);
    try {
      f(this.native);
    } catch (err) {
      if (err instanceof FqtError || (err as { code?: string }).code !== 'FQT_DIST_IO') throw err;
      throw new FqtError(`rank ${this.rank} of ${this.size}: ${what} failed: ${glooMessage(err)} — a worker died, was killed ` +
        `or did not answer within ${this.timeoutSeconds} s (see the other workers' output)`);
    }
  }
}

/** gloo's message without its source location prefix ("[…/pair.cc:598] Connection closed by peer …"). */
function glooMessage(err: unknown): string {
  return ((err as Error).message ?? String(err)).replace(/^\[[^\]]*\]\s*/, '');
}
