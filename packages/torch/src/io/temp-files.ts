// Names of files being written: every writer of this project writes to a temporary name in the target's
// folder and renames it into place. The temporary name is hidden (a leading dot), does not end in the
// final extension (so `*.png` and `shard-*.safetensors` globs never pick one up), and records the
// writer's host and pid, so a later run can tell the leftovers of a dead writer (kill -9 mid-write)
// from a file another live process is still writing.
import { readdirSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';

const HOST = hostname().replace(/[^A-Za-z0-9_-]/g, '_');
const TEMP_RE = /^\..+\.tmp-([A-Za-z0-9_-]+)-(\d+)$/;

/** `<dir>/.<name>.tmp-<host>-<pid>` for `<dir>/<name>`. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${HOST}-${process.pid}`);
}

/** Whether a process with this pid exists on this host (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files in `dir` left by dead writers on this host (not recursive); returns their
 * names. Files of live writers, and of writers on other hosts (which cannot be checked), stay.
 */
export function removeStaleTempFiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const m = TEMP_RE.exec(name);
    if (!m || m[1] !== HOST || processAlive(Number(m[2]))) continue;
    rmSync(join(dir, name), { force: true, recursive: true });
    removed.push(name);
  }
  return removed;
}
