// `cdistill train --nproc N`: a launcher for one machine, as `torchrun --nproc-per-node N` is. It runs
// this same command line N times (without --nproc), each child with the torchrun environment of its
// rank and a free port for rank 0's store, prefixes every output line with the rank, and when one rank
// fails, gives the others a moment to stop on their own (their collectives fail at once and say which
// rank was lost), then kills whatever is left. Its exit status is the first failure's.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createServer } from 'node:net';

export interface LocalLaunchOptions {
  nproc: number;
  /** The script and arguments each rank runs (node is process.execPath). */
  argv: string[];
  /** How long the other ranks may take to stop by themselves after one failed (default 15 s). */
  graceMs?: number;
  out?: (text: string) => void;
  err?: (text: string) => void;
}

/** A TCP port free right now on loopback (bound, read, released: rank 0 binds it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Writes each complete line of a stream with a prefix (a last line without newline at its end). */
function prefixLines(stream: NodeJS.ReadableStream, prefix: string, write: (t: string) => void): void {
  let buf = '';
  stream.setEncoding('utf8');
  stream.on('data', (d: string) => {
    buf += d;
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) write(`${prefix}${l}\n`);
  });
  stream.on('end', () => {
    if (buf) write(`${prefix}${buf}\n`);
  });
}

export async function launchLocalRanks(o: LocalLaunchOptions): Promise<number> {
  const out = o.out ?? ((t) => process.stdout.write(t));
  const err = o.err ?? ((t) => process.stderr.write(t));
  const port = await freePort();
  // As torchrun does: N ranks on one machine would each start a thread per core and fight over them.
  const threads = String(Math.max(1, Math.floor(availableParallelism() / o.nproc)));
  const children: ChildProcess[] = [];
  let firstFailure: number | undefined;
  let killTimer: NodeJS.Timeout | undefined;
  const stopOthers = () => {
    killTimer ??= setTimeout(() => {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }, o.graceMs ?? 15_000);
  };
  const exits = Array.from({ length: o.nproc }, (_, rank) => {
    const child = spawn(process.execPath, o.argv, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        RANK: String(rank),
        WORLD_SIZE: String(o.nproc),
        LOCAL_RANK: String(rank),
        LOCAL_WORLD_SIZE: String(o.nproc),
        MASTER_ADDR: '127.0.0.1',
        MASTER_PORT: String(port),
        OMP_NUM_THREADS: process.env.OMP_NUM_THREADS ?? threads,
      },
    });
    children.push(child);
    prefixLines(child.stdout!, `[rank ${rank}] `, out);
    prefixLines(child.stderr!, `[rank ${rank}] `, err);
    return new Promise<void>((resolve) => {
      child.on('exit', (code, signal) => {
        if (code !== 0) {
          const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
          const first = firstFailure === undefined;
          firstFailure ??= code ?? 1;
          err(
            `train --nproc: rank ${rank} (pid ${child.pid}) ${how}${first && o.nproc > 1 ? `; stopping the other ranks (they are killed in ${(o.graceMs ?? 15_000) / 1000} s if still running)` : ''}\n`,
          );
          stopOthers();
        }
        resolve();
      });
    });
  });
  // The launcher itself interrupted: its ranks go with it.
  const forward = (sig: NodeJS.Signals) => {
    for (const c of children) c.kill(sig);
  };
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  try {
    await Promise.all(exits);
  } finally {
    if (killTimer) clearTimeout(killTimer);
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
  }
  return firstFailure ?? 0;
}

/** `args` without `--name v` / `--name=v` (what each rank must not see again: it would launch again). */
export function withoutOption(args: readonly string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name) i += 1;
    else if (!args[i]!.startsWith(`${name}=`)) out.push(args[i]!);
  }
  return out;
}
