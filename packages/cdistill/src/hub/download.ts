// Downloads from the Hugging Face Hub into the standard cache (cache.ts). The Hub's metadata API is
// reached through @huggingface/hub (revision → commit, file sizes and hashes, folder listings). The
// transfer itself is ours, because that library's downloadFileToCacheDir (2.17) cannot do what a 5 GB
// checkpoint needs: it does not resume a partial file, does not check the hash, names snapshots by the
// file's last commit rather than the revision's (so files Python downloaded are not found) and writes no
// refs/, and it reads neither HF_ENDPOINT, HF_TOKEN nor HF_HUB_OFFLINE.
//
// One file: revision → commit (refs/<revision> is written as Python does); if snapshots/<commit>/<path>
// exists, it is reused with no transfer; else GET …/resolve/<commit>/<path> into blobs/<etag>.incomplete,
// resuming with a Range request from what a killed run left; the bytes are hashed as they arrive and the
// blob is renamed into place only when the hash equals the one the Hub reports (sha256 for LFS files,
// the git blob sha1 otherwise); then the snapshot link.
import { createHash, type Hash } from 'node:crypto';
import {
  closeSync,
  createReadStream,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  renameSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';

import { datasetInfo, HubApiError, listFiles, modelInfo, pathsInfo } from '@huggingface/hub';

import { acquireLock } from '../util/lock.js';
import { progress } from '../util/progress.js';
import {
  cachedCommit,
  cachedSnapshotFile,
  COMMIT_RE,
  linkSnapshot,
  present,
  repoCache,
  writeRef,
  type RepoCache,
} from './cache.js';
import { hubEnv, type HubEnv } from './env.js';
import { formatRef, isHubUri, parseHubUri, repoPage, type HubRef } from './uri.js';

export interface DownloadOptions {
  env?: HubEnv;
  /** One line per file fetched or reused. */
  print?: (line: string) => void;
  /** No progress bar (tests, nested calls). */
  quiet?: boolean;
}

/** One file of a repository at one commit, as the Hub describes it. */
interface RemoteFile {
  path: string;
  /** sha256 (LFS) or git blob sha1: the blob's name and the hash the bytes must have. */
  etag: string;
  size: number;
  lfs: boolean;
}

export class HubError extends Error {}

/** The X-Error-Code of the last response a library call saw (HubApiError keeps the status and body, not the headers). */
let lastErrorCode: string | null = null;
const recordingFetch: typeof fetch = async (input, init) => {
  const r = await fetch(input, init);
  lastErrorCode = r.headers.get('x-error-code');
  return r;
};

function repoParams(ref: HubRef, env: HubEnv) {
  return {
    repo: { type: ref.type, name: ref.repo } as const,
    hubUrl: env.endpoint,
    fetch: recordingFetch,
    ...(env.token ? { accessToken: env.token } : {}),
  };
}

/** Our message for a failed Hub request: what was asked, and what to do about it. */
function explain(
  ref: HubRef,
  env: HubEnv,
  status: number | undefined,
  code: string | null | undefined,
  cause: unknown,
): HubError {
  const what = formatRef(ref);
  if (status === 401 || status === 403 || code === 'GatedRepo') {
    const tokenNote = env.token ? 'HF_TOKEN is set, but that token has no access' : 'HF_TOKEN is not set';
    return new HubError(
      `${what}: access denied (HTTP ${status}): ${ref.repo} is gated or private. Accept its terms at ${repoPage(env.endpoint, ref)} ` +
        `while logged in, then set HF_TOKEN to a token of that account (${tokenNote})`,
    );
  }
  if (status === 404) {
    if (code === 'EntryNotFound')
      return new HubError(`${what}: no file ${ref.path} in ${ref.type} ${ref.repo} at revision ${ref.revision}`);
    if (code === 'RevisionNotFound')
      return new HubError(`${what}: ${ref.type} ${ref.repo} has no revision ${ref.revision}`);
    return new HubError(
      `${what}: no ${ref.type} repository ${ref.repo} with revision ${ref.revision} at ${env.endpoint}${env.token ? '' : ' (or it is private: set HF_TOKEN)'}`,
    );
  }
  if (status !== undefined)
    return new HubError(`${what}: the Hub answered HTTP ${status} (${(cause as Error).message})`);
  const why = (cause as { cause?: { code?: string; message?: string } }).cause?.code ?? (cause as Error).message;
  return new HubError(
    `${what}: cannot reach ${env.endpoint} (${why}); set HF_HUB_OFFLINE=1 to use only what is cached`,
  );
}

async function api<T>(ref: HubRef, env: HubEnv, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    if (e instanceof HubError) throw e;
    if (e instanceof HubApiError) throw explain(ref, env, e.statusCode, lastErrorCode, e);
    throw explain(ref, env, undefined, undefined, e);
  }
}

/** The commit a revision points at now (a commit hash is taken as is). */
async function resolveCommit(ref: HubRef, env: HubEnv): Promise<string> {
  if (COMMIT_RE.test(ref.revision)) return ref.revision;
  const p = {
    name: ref.repo,
    revision: ref.revision,
    hubUrl: env.endpoint,
    fetch: recordingFetch,
    additionalFields: ['sha' as const],
    ...(env.token ? { accessToken: env.token } : {}),
  };
  const info = await api(ref, env, () => (ref.type === 'dataset' ? datasetInfo(p) : modelInfo(p)));
  const sha = (info as { sha?: unknown }).sha;
  if (typeof sha !== 'string' || !COMMIT_RE.test(sha))
    throw new HubError(`${formatRef(ref)}: the Hub gave no commit hash for revision ${ref.revision}`);
  return sha;
}

function remoteOf(e: { path: string; oid?: string; size: number; lfs?: { oid: string; size: number } }): RemoteFile {
  if (e.lfs) return { path: e.path, etag: e.lfs.oid, size: e.lfs.size, lfs: true };
  if (!e.oid) throw new HubError(`${e.path}: the Hub reported no hash for it`);
  return { path: e.path, etag: e.oid, size: e.size, lfs: false };
}

async function describeFile(ref: HubRef, env: HubEnv, commit: string): Promise<RemoteFile> {
  const info = await api(ref, env, () => pathsInfo({ ...repoParams(ref, env), paths: [ref.path], revision: commit }));
  const file = info.find((i) => i.path === ref.path && i.type === 'file');
  if (!file) {
    const dir = info.find((i) => i.path === ref.path);
    throw new HubError(
      `${formatRef(ref)}: ${dir ? 'is a folder, not a file' : `no file ${ref.path} in ${ref.type} ${ref.repo} at revision ${ref.revision} (commit ${commit})`}`,
    );
  }
  return remoteOf(file);
}

/** A hasher fed as Python names blobs: sha256 of the bytes (LFS), or sha1 of "blob <size>\0" + bytes (git). */
function blobHasher(f: RemoteFile): Hash {
  if (f.lfs) return createHash('sha256');
  return createHash('sha1').update(`blob ${f.size}\0`);
}

async function hashExisting(path: string, h: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
}

const MiB = 1024 * 1024;

/** GETs the file into blobs/<etag>.incomplete (resuming it), verifies size and hash, renames it into place. */
async function fetchBlob(
  ref: HubRef,
  env: HubEnv,
  c: RepoCache,
  commit: string,
  f: RemoteFile,
  quiet: boolean,
): Promise<void> {
  const blob = c.blob(f.etag);
  const partial = `${blob}.incomplete`;
  let have = existsSync(partial) ? statSync(partial).size : 0;
  if (have > f.size) {
    rmSync(partial, { force: true });
    have = 0;
  }
  const hash = blobHasher(f);
  if (have > 0) await hashExisting(partial, hash);
  const prefix = ref.type === 'dataset' ? 'datasets/' : '';
  const url = `${env.endpoint}/${prefix}${ref.repo}/resolve/${commit}/${f.path.split('/').map(encodeURIComponent).join('/')}`;
  const headers: Record<string, string> = { 'Accept-Encoding': 'identity' };
  if (env.token) headers.Authorization = `Bearer ${env.token}`;
  if (have > 0 && have < f.size) headers.Range = `bytes=${have}-`;
  let res: Response;
  try {
    res = await fetch(url, { headers, redirect: 'follow' });
  } catch (e) {
    throw explain({ ...ref, path: f.path }, env, undefined, undefined, e);
  }
  // An unread body holds the connection (and the process) open: whatever happens below, let it go.
  const dropBody = () => res.body?.cancel().catch(() => {});
  if (!res.ok) {
    await dropBody();
    throw explain(
      { ...ref, path: f.path },
      env,
      res.status,
      res.headers.get('x-error-code'),
      new Error(res.statusText),
    );
  }
  if (have > 0 && res.status !== 206) {
    // The server ignored the Range: start over.
    await dropBody();
    rmSync(partial, { force: true });
    return fetchBlob(ref, env, c, commit, f, quiet);
  }
  const bar = quiet ? undefined : progress(`download ${basename(f.path)}`, f.size, 'bytes', have);
  let fd: number;
  try {
    mkdirSync(dirname(partial), { recursive: true });
    fd = openSync(partial, have > 0 ? 'a' : 'w');
  } catch (e) {
    await dropBody();
    throw e;
  }
  let got = have;
  try {
    if (res.body) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        writeSync(fd, chunk);
        hash.update(chunk);
        got += chunk.byteLength;
        bar?.update(got);
      }
    }
    fsyncSync(fd);
  } catch (e) {
    await dropBody();
    throw e;
  } finally {
    closeSync(fd);
    bar?.stop();
  }
  const digest = hash.digest('hex');
  if (got !== f.size || digest !== f.etag) {
    rmSync(partial, { force: true });
    throw new HubError(
      `${formatRef({ ...ref, path: f.path })}: the downloaded bytes do not match what the Hub reports ` +
        `(${got !== f.size ? `${got} of ${f.size} bytes` : `${f.lfs ? 'sha256' : 'git sha1'} ${digest}, expected ${f.etag}`}); the partial file was removed, run again`,
    );
  }
  renameSync(partial, blob);
}

async function ensureFile(
  ref: HubRef,
  env: HubEnv,
  c: RepoCache,
  commit: string,
  f: RemoteFile,
  o: DownloadOptions,
): Promise<string> {
  const existing = cachedSnapshotFile(c, commit, f.path);
  if (existing) return existing;
  if (!present(c.blob(f.etag))) {
    const lock = acquireLock(c.lock(f.etag), `the cache entry of ${formatRef({ ...ref, path: f.path })}`);
    try {
      if (!present(c.blob(f.etag))) {
        o.print?.(
          `download: ${formatRef({ ...ref, path: f.path })} (${(f.size / MiB).toFixed(1)} MiB) → ${env.cacheDir}`,
        );
        await fetchBlob(ref, env, c, commit, f, o.quiet ?? false);
      }
    } finally {
      lock.release();
    }
  }
  return linkSnapshot(c, commit, f.path, f.etag);
}

/** Offline: the cached copy of a file or folder, or an error saying it is not there. */
function offlinePath(ref: HubRef, env: HubEnv): string {
  const c = repoCache(env.cacheDir, ref);
  const commit = cachedCommit(c, ref.revision);
  const p = commit === undefined ? undefined : c.snapshot(commit, ref.path);
  if (p === undefined || !present(p)) {
    throw new HubError(
      `${formatRef(ref)}: not in the cache ${env.cacheDir}, and HF_HUB_OFFLINE is set; download it once with network access`,
    );
  }
  return p;
}

/** A file of a Hub repository, downloaded into the cache if it is not there yet; returns its snapshot path. */
export async function hubFile(ref: HubRef, o: DownloadOptions = {}): Promise<string> {
  const env = o.env ?? hubEnv();
  if (env.offline) return offlinePath(ref, env);
  const c = repoCache(env.cacheDir, ref);
  const commit = await resolveCommit(ref, env);
  writeRef(c, ref.revision, commit);
  const cached = cachedSnapshotFile(c, commit, ref.path);
  if (cached) return cached;
  return ensureFile(ref, env, c, commit, await describeFile(ref, env, commit), o);
}

/**
 * A folder of a Hub repository in the cache; `only` limits it to these file names relative to the folder
 * (a diffusers VAE needs config.json and the safetensors weights, not the .bin and fp16 copies beside them).
 */
export async function hubFolder(
  ref: HubRef,
  only: readonly string[] | undefined,
  o: DownloadOptions = {},
): Promise<string> {
  const env = o.env ?? hubEnv();
  const c = repoCache(env.cacheDir, ref);
  const rel = (p: string) => (ref.path ? p.slice(ref.path.length + 1) : p);
  if (env.offline) {
    const dir = offlinePath(ref, env);
    for (const name of only ?? [])
      if (!present(`${dir}/${name}`))
        throw new HubError(`${formatRef(ref)}: ${name} is not in the cache, and HF_HUB_OFFLINE is set`);
    return dir;
  }
  const commit = await resolveCommit(ref, env);
  writeRef(c, ref.revision, commit);
  if (only?.every((n) => cachedSnapshotFile(c, commit, ref.path ? `${ref.path}/${n}` : n)))
    return c.snapshot(commit, ref.path);
  const entries: RemoteFile[] = [];
  await api(ref, env, async () => {
    for await (const e of listFiles({
      ...repoParams(ref, env),
      revision: commit,
      recursive: true,
      ...(ref.path ? { path: ref.path } : {}),
    })) {
      if (e.type === 'file' && (!only || only.includes(rel(e.path)))) entries.push(remoteOf(e));
    }
  });
  const missing = (only ?? []).filter((n) => !entries.some((e) => rel(e.path) === n));
  if (missing.length)
    throw new HubError(`${formatRef(ref)}: no ${missing.join(', ')} in this folder (commit ${commit})`);
  if (entries.length === 0) throw new HubError(`${formatRef(ref)}: no files in this folder (commit ${commit})`);
  for (const f of entries) await ensureFile(ref, env, c, commit, f, o);
  return c.snapshot(commit, ref.path);
}

/** The cached path of an hf:// file or folder without any network access, or undefined when absent. */
export function cachedHubPath(ref: HubRef, env: HubEnv = hubEnv()): string | undefined {
  const c = repoCache(env.cacheDir, ref);
  const commit = cachedCommit(c, ref.revision);
  if (commit === undefined) return undefined;
  const p = c.snapshot(commit, ref.path);
  return present(p) ? p : undefined;
}

/** A local path for a path or an hf:// file reference (downloaded first if needed). */
export async function localFile(pathOrUri: string, o: DownloadOptions = {}): Promise<string> {
  return isHubUri(pathOrUri) ? hubFile(parseHubUri(pathOrUri), o) : pathOrUri;
}
