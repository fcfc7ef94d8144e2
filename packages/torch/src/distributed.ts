// Collectives across processes on libtorch's c10d (native/distributed.cc): a Store for the rendezvous
// (TCPStore, or FileStore on a shared filesystem) and a ProcessGroup (Gloo for cpu, NCCL for cuda) with
// broadcast, all-reduce and barrier over whole tensor lists, bucketed natively.
//
// Every call blocks the JS thread until the collective has finished, failed or timed out: a training
// loop has nothing else to do meanwhile. A collective that fails becomes a DistributedError naming this
// rank and, as far as can be told, the rank that was lost: a rank on this machine whose process is gone
// is named for sure; otherwise the ranks that do not answer through the store within a few seconds are.
// The group is unusable afterwards.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';

import { tensor } from './factories.js';
import { native, type GroupHandle, type StoreHandle } from './native.js';
import type { Tensor } from './tensor.js';

/** DDP's default bucket size (bucket_cap_mb = 25). */
export const DEFAULT_BUCKET_BYTES = 25 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 600_000;
/** How long a failed rank waits for the others to answer through the store before naming them. */
const ROLL_CALL_MS = 10_000;
/** How long a local peer whose connection closed may take to be seen as exited. */
const LOCAL_EXIT_MS = 2_000;

const stripNativeName = (m: string) => m.replace(/^dist\w+: /, '');

/** Which backends this addon was built with (Gloo needs its headers at build time, NCCL a CUDA build). */
export function backends(): { gloo: boolean; nccl: boolean } {
  return native.distBackends();
}

export interface TcpStoreOptions {
  host: string;
  /** 0 (with isServer) binds any free port; `port` then says which. */
  port: number;
  /** Runs the store's server in this process (rank 0, or a launcher); the others connect to it. */
  isServer: boolean;
  /** How long a client keeps trying to connect, and how long a wait for a key lasts. */
  timeoutMs?: number;
}

export class Store {
  private constructor(
    /** @internal */ readonly _s: StoreHandle,
    /** For messages: tcp://host:port or file://path. */
    readonly address: string,
  ) {}

  static tcp(o: TcpStoreOptions): Store {
    const where = `tcp://${o.host}:${o.port}`;
    let s: StoreHandle;
    try {
      s = native.distTcpStore(o.host, o.port, o.isServer, o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    } catch (e) {
      const why = stripNativeName((e as Error).message);
      throw new Error(`${o.isServer ? 'cannot serve' : 'cannot reach'} the store at ${where}: ${why}`);
    }
    return new Store(s, `tcp://${o.host}:${native.distStorePort(s)}`);
  }

  /** A store in one file that every rank can reach (a shared filesystem); for tests and single hosts. */
  static file(path: string, worldSize: number): Store {
    return new Store(native.distFileStore(path, worldSize), `file://${path}`);
  }

  /** The TCP port (the one bound, when 0 was asked for); undefined for a file store. */
  get port(): number | undefined {
    const p = native.distStorePort(this._s);
    return p < 0 ? undefined : p;
  }
  set(key: string, value: string): void {
    native.distStoreSet(this._s, key, value);
  }
  /** Waits (up to the store's timeout) for the key. */
  get(key: string): string {
    return native.distStoreGet(this._s, key);
  }
  add(key: string, n: number): number {
    return native.distStoreAdd(this._s, key, n);
  }
  /** Whether every key is set now. */
  has(...keys: string[]): boolean {
    return native.distStoreCheck(this._s, keys);
  }
  /** Returns once every key is set; throws after `timeoutMs`. */
  wait(keys: string[], timeoutMs: number): void {
    native.distStoreWait(this._s, keys, timeoutMs);
  }
}

export type ReduceOp = 'sum' | 'mean' | 'max' | 'min';
const REDUCE_CODES: Record<ReduceOp, number> = { sum: 0, mean: 1, max: 2, min: 3 };

export interface ProcessGroupOptions {
  store: Store;
  rank: number;
  worldSize: number;
  /** This rank's device: cpu → Gloo, cuda:N → NCCL on device N. */
  device: string;
  /** Bound on joining and on every collective (default 10 min); a lost peer ends a collective sooner. */
  timeoutMs?: number;
  /** Namespace of this group's keys in the store (a launcher's store may serve several attempts). */
  prefix?: string;
  /** Who serves the store, for messages ('rank 0' by default). */
  storeHost?: string;
}

export interface CollectiveOptions {
  bucketBytes?: number;
  timeoutMs?: number;
  /** What the collective is for, in error messages ("the gradients of step 12"). */
  what?: string;
}

interface Member {
  host: string;
  pid: number;
}

/** A collective (or the rendezvous) failed; `lost` are the ranks found gone or silent. */
export class DistributedError extends Error {
  constructor(
    message: string,
    readonly rank: number,
    readonly lost: number[],
  ) {
    super(message);
    this.name = 'DistributedError';
  }
}

export class ProcessGroup {
  readonly rank: number;
  readonly worldSize: number;
  readonly device: string;
  readonly backend: 'gloo' | 'nccl';
  readonly timeoutMs: number;
  private readonly g: GroupHandle;
  private readonly members: Member[];
  private failed = false;
  private destroyed = false;

  private constructor(o: ProcessGroupOptions, g: GroupHandle, members: Member[]) {
    this.rank = o.rank;
    this.worldSize = o.worldSize;
    this.device = o.device;
    this.backend = o.device.startsWith('cuda') ? 'nccl' : 'gloo';
    this.timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.g = g;
    this.members = members;
    this.store = o.store;
    this.prefix = o.prefix ?? 'cdistill/';
    this.storeHost = o.storeHost ?? 'rank 0';
  }
  private readonly store: Store;
  private readonly prefix: string;
  private readonly storeHost: string;

  /**
   * Joins the group: announces this rank (host, pid) in the store, waits for every other rank (naming
   * the ones missing at the timeout), then builds the backend. Every rank must call it.
   */
  static init(o: ProcessGroupOptions): ProcessGroup {
    const { rank, worldSize } = o;
    if (!Number.isInteger(worldSize) || worldSize < 1)
      throw new Error(`the world size must be a positive integer, got ${worldSize}`);
    if (!Number.isInteger(rank) || rank < 0 || rank >= worldSize)
      throw new Error(`rank ${rank} is not in 0..${worldSize - 1} (world size ${worldSize})`);
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const prefix = o.prefix ?? 'cdistill/';
    const backend = o.device.startsWith('cuda') ? 'nccl' : 'gloo';
    const have = backends();
    if (!have[backend])
      throw new Error(
        backend === 'gloo'
          ? 'this addon was built without Gloo (no gloo headers at build time): apt-get install libgloo-dev, then node packages/torch/scripts/build-native.mjs'
          : 'this addon was built without NCCL (a CPU libtorch, or no nccl.h and CUDA headers at build time)',
      );
    const key = (r: number) => `${prefix}member/${r}`;
    const who = `rank ${rank} of ${worldSize}`;
    try {
      o.store.set(key(rank), JSON.stringify({ host: hostname(), pid: process.pid } satisfies Member));
    } catch (e) {
      throw new DistributedError(
        `${who}: the store at ${o.store.address} failed: ${stripNativeName((e as Error).message)}`,
        rank,
        [],
      );
    }
    const all = Array.from({ length: worldSize }, (_, r) => key(r));
    try {
      o.store.wait(all, timeoutMs);
    } catch (e) {
      const missing = all.flatMap((k, r) => (safeHas(o.store, k) ? [] : [r]));
      if (missing.length === 0) throw e;
      throw new DistributedError(
        `${who}: ${missing.length === 1 ? 'rank' : 'ranks'} ${missing.join(', ')} did not join within ${timeoutMs / 1000} s (store at ${o.store.address})`,
        rank,
        missing,
      );
    }
    const members = all.map((k) => JSON.parse(o.store.get(k)) as Member);
    let g: GroupHandle;
    try {
      g = native.distGroupNew(o.store._s, `${prefix}pg/`, backend, rank, worldSize, timeoutMs, o.device);
    } catch (e) {
      throw new DistributedError(
        `${who}: creating the ${backend} group failed: ${stripNativeName((e as Error).message)}`,
        rank,
        [],
      );
    }
    return new ProcessGroup(o, g, members);
  }

  /** Every rank's tensors become `root`'s, in place (initial weights, EMA copies, RNG state). */
  broadcast(tensors: Tensor[], o: CollectiveOptions & { root?: number } = {}): void {
    this.run(o.what ?? 'broadcast', () =>
      native.distBroadcast(
        this.g,
        tensors.map((t) => t._h),
        o.root ?? 0,
        o.bucketBytes ?? DEFAULT_BUCKET_BYTES,
        o.timeoutMs,
      ),
    );
  }

  /** Each tensor becomes the reduction over ranks of its values, in place. */
  allReduce(tensors: Tensor[], o: CollectiveOptions & { op?: ReduceOp } = {}): void {
    this.run(o.what ?? 'all-reduce', () =>
      native.distAllReduce(
        this.g,
        tensors.map((t) => t._h),
        REDUCE_CODES[o.op ?? 'sum'],
        o.bucketBytes ?? DEFAULT_BUCKET_BYTES,
        o.timeoutMs,
      ),
    );
  }

  /** The reduction over ranks of a few numbers (computed in float64). */
  allReduceNumbers(values: number[], o: CollectiveOptions & { op?: ReduceOp } = {}): number[] {
    const t = tensor(Float64Array.from(values));
    try {
      const onDevice = this.device === 'cpu' ? t : t.to(this.device);
      this.allReduce([onDevice], o);
      const out = onDevice === t ? t.toArray() : onDevice.cpu().toArray();
      if (onDevice !== t) onDevice.dispose();
      return out as number[];
    } finally {
      t.dispose();
    }
  }

  /**
   * Replaces each parameter's gradient by its mean over ranks (data parallelism, after backward),
   * and returns `scalars` summed over ranks (sent with the first, small message). A gradient that
   * exists on some ranks only counts as zeros where it is missing; none anywhere stays none.
   */
  allReduceGrads(params: Tensor[], scalars: number[] = [], o: CollectiveOptions = {}): number[] {
    const s = tensor(Float64Array.from(scalars));
    try {
      this.run(o.what ?? 'the all-reduce of gradients', () =>
        native.distAllReduceGrads(
          this.g,
          params.map((p) => p._h),
          scalars.length > 0 ? s._h : undefined,
          o.bucketBytes ?? DEFAULT_BUCKET_BYTES,
        ),
      );
      return s.toArray() as number[];
    } finally {
      s.dispose();
    }
  }

  /** Returns once every rank has called it (rank 0 finished writing a checkpoint, for instance). */
  barrier(o: Pick<CollectiveOptions, 'timeoutMs' | 'what'> = {}): void {
    this.run(o.what ?? 'barrier', () => native.distBarrier(this.g, o.timeoutMs));
  }

  /** Releases the backend (a clean end); the group cannot be used afterwards. */
  destroy(): void {
    native.distGroupDestroy(this.g);
    this.destroyed = true;
  }

  private run(what: string, body: () => void): void {
    if (this.destroyed) throw new Error(`rank ${this.rank}: ${what}: this process group was destroyed`);
    if (this.failed)
      throw new DistributedError(`rank ${this.rank}: ${what}: this process group failed earlier`, this.rank, []);
    try {
      body();
    } catch (e) {
      const why = stripNativeName((e as Error).message);
      // A bad argument is refused before anything is sent: the group stays usable, nobody is lost.
      if (native.distGroupFailure(this.g) === '') throw new Error(`rank ${this.rank}: ${what}: ${why}`);
      this.failed = true;
      const { lost, text } = this.findLost(why);
      throw new DistributedError(
        `rank ${this.rank} of ${this.worldSize}: ${what} failed: ${why}. ${text}`,
        this.rank,
        lost,
      );
    }
  }

  /** Which ranks are gone: local ones by their process, the rest by a roll call through the store. */
  private findLost(why: string): { lost: number[]; text: string } {
    const here = hostname();
    const others = this.members.map((m, r) => ({ ...m, r })).filter((m) => m.r !== this.rank);
    // A peer's sockets close while its process is still exiting (the kernel closes its files before
    // it becomes a zombie), so a dead local peer may look alive for a moment: look again for a while.
    const local = others.filter((m) => m.host === here);
    let dead = local.filter((m) => !processAlive(m.pid));
    for (let waited = 0; dead.length === 0 && local.length > 0 && waited < LOCAL_EXIT_MS; waited += 50) {
      sleepMs(50);
      dead = local.filter((m) => !processAlive(m.pid));
    }
    if (dead.length > 0)
      return {
        lost: dead.map((m) => m.r),
        text: dead.map((m) => `Lost: rank ${m.r} (pid ${m.pid} on ${m.host}) has exited.`).join(' '),
      };
    const key = (r: number) => `${this.prefix}alive-after-failure/${r}`;
    try {
      this.store.set(key(this.rank), why);
      const deadline = Date.now() + Math.min(ROLL_CALL_MS, this.timeoutMs);
      const silent: number[] = [];
      for (const m of others) {
        const left = deadline - Date.now();
        try {
          this.store.wait([key(m.r)], Math.max(1, left));
        } catch {
          silent.push(m.r);
        }
      }
      if (silent.length === 0) return { lost: [], text: 'Every other rank is still reachable through the store.' };
      return {
        lost: silent,
        text: `Lost: ${silent.map((r) => `rank ${r} (pid ${this.members[r]!.pid} on ${this.members[r]!.host})`).join(', ')}: no answer through the store within ${Math.min(ROLL_CALL_MS, this.timeoutMs) / 1000} s.`,
      };
    } catch {
      return {
        lost: this.storeHost === 'rank 0' && this.rank !== 0 ? [0] : [],
        text: `Lost: the store at ${this.store.address} (served by ${this.storeHost}) is unreachable${this.storeHost === 'rank 0' ? `, so rank 0 (pid ${this.members[0]!.pid} on ${this.members[0]!.host}) is gone` : ''}.`,
      };
    }
  }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function safeHas(store: Store, key: string): boolean {
  try {
    return store.has(key);
  } catch {
    return false;
  }
}

/** Whether a process of this machine is alive: it exists and is not a zombie (exited, not yet reaped). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}
