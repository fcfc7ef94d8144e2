// A Hugging Face Hub on loopback for tests: the requests @huggingface/hub and our downloader make
// (revision → commit, paths-info, tree, resolve with Range and a CDN redirect for LFS files), with
// gated repositories, error codes as the Hub sends them, throttled and corrupted transfers, and a log
// of every request. Hashes are computed here, independently of the code under test: sha256 for LFS
// files, the git blob sha1 ("blob <size>\0" + bytes) otherwise.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeFile {
  content: Buffer;
  lfs: boolean;
}

export interface FakeRepo {
  type: 'model' | 'dataset';
  /** owner/name */
  id: string;
  commit: string;
  /** branch → commit (main → commit by default) */
  refs?: Record<string, string>;
  files: Record<string, FakeFile>;
  /** Requires `Authorization: Bearer <token>`. */
  gatedToken?: string;
}

export interface ServeOptions {
  /** Paths (repo-relative) whose bytes are sent slowly: chunk bytes every delay ms. */
  throttle?: { paths: string[]; chunk: number; delayMs: number };
  /** Paths whose bytes are sent with one byte flipped. */
  corrupt?: string[];
}

export interface LoggedRequest {
  method: string;
  url: string;
  range?: string;
  authorization?: string;
}

export const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
export const gitSha1 = (b: Buffer) => createHash('sha1').update(`blob ${b.length}\0`).update(b).digest('hex');
export const etagOf = (f: FakeFile) => (f.lfs ? sha256(f.content) : gitSha1(f.content));

export interface FakeHub {
  url: string;
  requests: LoggedRequest[];
  options: ServeOptions;
  close(): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function entry(path: string, f: FakeFile) {
  const oid = gitSha1(
    f.lfs
      ? Buffer.from(
          `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256(f.content)}\nsize ${f.content.length}\n`,
        )
      : f.content,
  );
  return {
    type: 'file',
    path,
    oid,
    size: f.lfs ? 134 : f.content.length,
    ...(f.lfs ? { lfs: { oid: sha256(f.content), size: f.content.length, pointerSize: 134 } } : {}),
  };
}

/** Sends `body` (from byte `from`), as fast as possible or throttled, optionally corrupted. */
function sendBytes(
  res: ServerResponse,
  body: Buffer,
  from: number,
  slow: ServeOptions['throttle'] | undefined,
  corrupt: boolean,
): void {
  let data = body.subarray(from);
  if (corrupt) {
    data = Buffer.from(data);
    data[data.length >> 1]! ^= 0xff;
  }
  if (!slow) {
    res.end(data);
    return;
  }
  let at = 0;
  const tick = () => {
    if (res.destroyed) return;
    if (at >= data.length) {
      res.end();
      return;
    }
    res.write(data.subarray(at, at + slow.chunk));
    at += slow.chunk;
    setTimeout(tick, slow.delayMs);
  };
  tick();
}

export async function startFakeHub(repos: FakeRepo[], options: ServeOptions = {}): Promise<FakeHub> {
  const requests: LoggedRequest[] = [];
  const state = { options };
  const byKey = new Map(repos.map((r) => [`${r.type}:${r.id}`, r]));
  const blobs = new Map<string, { repo: FakeRepo; path: string; file: FakeFile }>();
  for (const r of repos)
    for (const [p, f] of Object.entries(r.files))
      if (f.lfs) blobs.set(sha256(f.content), { repo: r, path: p, file: f });

  const commitOf = (r: FakeRepo, rev: string) => (rev === r.commit ? r.commit : { main: r.commit, ...r.refs }[rev]);
  const denied = (r: FakeRepo, req: IncomingMessage) =>
    r.gatedToken !== undefined && req.headers.authorization !== `Bearer ${r.gatedToken}`;

  const serveFile = (req: IncomingMessage, res: ServerResponse, r: FakeRepo, commit: string, path: string) => {
    const f = r.files[path];
    if (!f)
      return json(res, 404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound', 'X-Repo-Commit': commit });
    if (f.lfs) {
      res.writeHead(302, {
        Location: `/cdn/${sha256(f.content)}`,
        'X-Linked-Etag': `"${sha256(f.content)}"`,
        'X-Linked-Size': String(f.content.length),
        'X-Repo-Commit': commit,
        ETag: `"${entry(path, f).oid}"`,
      });
      res.end();
      return;
    }
    return sendRange(req, res, path, f.content, { ETag: `"${gitSha1(f.content)}"`, 'X-Repo-Commit': commit });
  };

  const sendRange = (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    body: Buffer,
    headers: Record<string, string>,
  ) => {
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = m ? Number(m[1]) : 0;
    const slow = state.options.throttle?.paths.includes(path) ? state.options.throttle : undefined;
    const corrupt = state.options.corrupt?.includes(path) ?? false;
    if (m)
      res.writeHead(206, {
        ...headers,
        'Content-Length': String(body.length - from),
        'Content-Range': `bytes ${from}-${body.length - 1}/${body.length}`,
        'Accept-Ranges': 'bytes',
      });
    else res.writeHead(200, { ...headers, 'Content-Length': String(body.length), 'Accept-Ranges': 'bytes' });
    sendBytes(res, body, from, slow, corrupt);
  };

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push({
      method: req.method ?? '',
      url: url.pathname + url.search,
      ...(req.headers.range ? { range: req.headers.range } : {}),
      ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}),
    });
    const body: Buffer[] = [];
    req.on('data', (c: Buffer) => body.push(c));
    req.on('end', () => {
      const seg = url.pathname.split('/').slice(1).map(decodeURIComponent);
      // CDN: /cdn/<sha256>
      if (seg[0] === 'cdn') {
        const b = blobs.get(seg[1] ?? '');
        if (!b) return json(res, 404, { error: 'no such blob' });
        return sendRange(req, res, b.path, b.file.content, { ETag: `"${seg[1]}"` });
      }
      // API: /api/{models|datasets}/{owner}/{name}/{revision|paths-info|tree}/{rev}[/{path}]
      if (seg[0] === 'api') {
        const type = seg[1] === 'datasets' ? 'dataset' : 'model';
        const r = byKey.get(`${type}:${seg[2]}/${seg[3]}`);
        if (!r) return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
        if (denied(r, req))
          return json(
            res,
            401,
            {
              error: `Access to ${type} ${r.id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
            },
            { 'X-Error-Code': 'GatedRepo' },
          );
        const commit = commitOf(r, seg[5] ?? '');
        if (!commit)
          return json(res, 404, { error: `Invalid rev id: ${seg[5]}` }, { 'X-Error-Code': 'RevisionNotFound' });
        switch (seg[4]) {
          case 'revision':
            return json(res, 200, {
              _id: `id-${r.id}`,
              id: r.id,
              sha: commit,
              private: false,
              gated: r.gatedToken ? 'manual' : false,
              downloads: 0,
              likes: 0,
              lastModified: '2026-01-01T00:00:00.000Z',
            });
          case 'paths-info': {
            const { paths } = JSON.parse(Buffer.concat(body).toString('utf8')) as { paths: string[] };
            const out = paths.flatMap((p) =>
              r.files[p]
                ? [entry(p, r.files[p])]
                : Object.keys(r.files).some((k) => k.startsWith(`${p}/`))
                  ? [{ type: 'directory', path: p, oid: '0'.repeat(40), size: 0 }]
                  : [],
            );
            return json(res, 200, out);
          }
          case 'tree': {
            const prefix = seg.slice(6).join('/');
            const out = Object.entries(r.files)
              .filter(([p]) => !prefix || p.startsWith(`${prefix}/`))
              .map(([p, f]) => entry(p, f));
            return json(res, 200, out);
          }
        }
        return json(res, 404, { error: 'unknown API' });
      }
      // resolve: /[datasets/]{owner}/{name}/resolve/{rev}/{path}
      const isDataset = seg[0] === 'datasets';
      const s = isDataset ? seg.slice(1) : seg;
      const r = byKey.get(`${isDataset ? 'dataset' : 'model'}:${s[0]}/${s[1]}`);
      if (!r || s[2] !== 'resolve')
        return json(res, 404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
      if (denied(r, req)) return json(res, 401, { error: 'restricted' }, { 'X-Error-Code': 'GatedRepo' });
      const commit = commitOf(r, s[3] ?? '');
      if (!commit) return json(res, 404, { error: 'Invalid rev id' }, { 'X-Error-Code': 'RevisionNotFound' });
      return serveFile(req, res, r, commit, s.slice(4).join('/'));
    });
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get options() {
      return state.options;
    },
    set options(o: ServeOptions) {
      state.options = o;
    },
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
