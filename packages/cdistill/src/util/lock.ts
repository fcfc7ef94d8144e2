// Exclusive locks on output folders and cache entries, so two runs never write the same place at once:
// a lock file created with O_EXCL holding the holder's pid, host and start time. A lock left by a dead
// process on this host (kill -9, a crash) is taken over, saying so once; a live holder, or one on another
// host (which we cannot check), makes the second run fail at once with a message naming both.
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname } from 'node:path';

import * as torch from '@cdistill/torch';
import { z } from 'zod';

interface Holder {
  pid: number;
  host: string;
  started: string;
  command: string;
}

const alive = torch.io.processAlive;

/** What a lock file holds; older or partial files may lack the descriptive fields. */
const HolderSchema = z.object({
  pid: z.number(),
  host: z.string(),
  started: z.string().default('?'),
  command: z.string().default('?'),
});

function readHolder(file: string): Holder | undefined {
  try {
    const h = HolderSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    return h.success ? h.data : undefined;
  } catch {
    return undefined; // torn or empty: its writer died between create and write
  }
}

export class LockedError extends Error {}

export interface Lock {
  readonly file: string;
  release(): void;
}

const held = new Set<string>();
process.on('exit', () => {
  for (const f of held) rmSync(f, { force: true });
});

/**
 * Takes the lock file `file` for `what` (named in messages: "data folder /x"). Throws LockedError when a
 * live process holds it; takes over a stale one (dead pid on this host, or an unreadable file) after
 * `onStale` is told. Released by release() or when this process exits normally.
 */
export function acquireLock(
  file: string,
  what: string,
  onStale: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
): Lock {
  mkdirSync(dirname(file), { recursive: true });
  const me: Holder = {
    pid: process.pid,
    host: hostname(),
    started: new Date().toISOString(),
    command: process.argv.slice(1).join(' '),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const h = readHolder(file);
      if (h && h.pid === process.pid && h.host === me.host && held.has(file))
        throw new LockedError(`${what} is already locked by this process (${file})`);
      if (h && (h.host !== me.host || alive(h.pid))) {
        throw new LockedError(
          `${what} is in use by another run: pid ${h.pid} on ${h.host}, since ${h.started} (${h.command}); wait for it to finish, or use another folder. Lock file: ${file}`,
        );
      }
      onStale(
        `${what}: taking over a stale lock (${h ? `pid ${h.pid} on ${h.host} is gone` : 'unreadable lock file'}): ${file}`,
      );
      rmSync(file, { force: true });
      continue;
    }
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
    held.add(file);
    return {
      file,
      release() {
        if (!held.delete(file)) return;
        const h = readHolder(file);
        if (h?.pid === process.pid && h.host === me.host) rmSync(file, { force: true });
      },
    };
  }
  throw new LockedError(`${what}: could not take the lock ${file} (another run keeps taking it)`);
}

/** Runs `fn` holding the lock; released afterwards whatever happens. */
export async function withLock<T>(file: string, what: string, fn: () => Promise<T> | T): Promise<T> {
  const lock = acquireLock(file, what);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
