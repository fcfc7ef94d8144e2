// The cache layout of Python's huggingface_hub, written and read the same way:
//   <cache>/models--<owner>--<name>/            (datasets--… for datasets)
//     refs/<revision>                           the commit hash a branch or tag pointed at
//     blobs/<etag>                              file contents, named by their hash: the sha256 for LFS
//                                               files, the git blob sha1 otherwise
//     blobs/<etag>.incomplete                   a download in progress (resumed from where it stopped)
//     snapshots/<commit>/<path>                 relative symlink to ../../blobs/<etag> (deeper for nested paths)
// A snapshot link is made only after its blob is complete and verified, so nothing that looks complete
// is ever partial.
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

import { writeFileAtomic } from '../util/fs.js';
import type { HubRef } from './uri.js';

export const COMMIT_RE = /^[0-9a-f]{40}$/;

export function repoFolderName(ref: Pick<HubRef, 'type' | 'repo'>): string {
  return `${ref.type}s--${ref.repo.replace('/', '--')}`;
}

export interface RepoCache {
  dir: string;
  blob(etag: string): string;
  snapshot(commit: string, path: string): string;
  ref(revision: string): string;
  lock(etag: string): string;
}

export function repoCache(cacheDir: string, ref: Pick<HubRef, 'type' | 'repo'>): RepoCache {
  const name = repoFolderName(ref);
  const dir = join(cacheDir, name);
  return {
    dir,
    blob: (etag) => join(dir, 'blobs', etag),
    snapshot: (commit, path) => join(dir, 'snapshots', commit, path),
    ref: (revision) => join(dir, 'refs', revision),
    // huggingface_hub keeps its lock files here too (it locks with flock; ours are pid files, see util/lock.ts)
    lock: (etag) => join(cacheDir, '.locks', name, `${etag}.lock`),
  };
}

/** The commit a revision means in the cache: itself when it is a commit hash, else what refs/<revision> says. */
export function cachedCommit(c: RepoCache, revision: string): string | undefined {
  if (COMMIT_RE.test(revision)) return revision;
  const f = c.ref(revision);
  return existsSync(f) ? readFileSync(f, 'utf8').trim() : undefined;
}

export function writeRef(c: RepoCache, revision: string, commit: string): void {
  if (COMMIT_RE.test(revision)) return;
  writeFileAtomic(c.ref(revision), commit);
}

/** Whether `path` exists and, if it is a symlink, points at something that exists. */
export function present(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Points snapshots/<commit>/<path> at blobs/<etag> with a relative symlink, replacing what was there atomically. */
export function linkSnapshot(c: RepoCache, commit: string, path: string, etag: string): string {
  const link = c.snapshot(commit, path);
  mkdirSync(dirname(link), { recursive: true });
  const target = relative(dirname(link), c.blob(etag));
  const tmp = `${link}.tmp-link-${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(target, tmp);
  renameSync(tmp, link);
  return link;
}

/** Whether the cache holds a file at snapshots/<commit>/<path> whose blob is complete. */
export function cachedSnapshotFile(c: RepoCache, commit: string, path: string): string | undefined {
  const p = c.snapshot(commit, path);
  try {
    if (lstatSync(p).isSymbolicLink() || statSync(p).isFile()) return present(p) ? p : undefined;
  } catch {
    return undefined;
  }
  return undefined;
}
