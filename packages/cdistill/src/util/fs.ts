// Files written so that a crash never leaves a half-written file under its final name.
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

import { io } from '@cdistill/torch';

/** Writes `data` under a temporary name in the same folder (io.tempPathFor), fsyncs and renames it into place. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = io.tempPathFor(path);
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Keeps only the lines of a JSON-lines training log whose `step` is ≤ `step`: a resumed run rewrites
 * what came after its checkpoint. A line that does not parse (torn by a kill mid-write) is dropped.
 */
export function truncateStepLog(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => {
      if (l.trim() === '') return false;
      try {
        const v: unknown = JSON.parse(l);
        return (
          typeof v === 'object' &&
          v !== null &&
          typeof (v as { step?: unknown }).step === 'number' &&
          (v as { step: number }).step <= step
        );
      } catch {
        return false;
      }
    });
  writeFileAtomic(path, kept.length ? `${kept.join('\n')}\n` : '');
}
