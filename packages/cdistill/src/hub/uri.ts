// hf:// references, the way this project names files and folders on the Hugging Face Hub:
//   hf://<owner>/<repo>/<path>[@<revision>]            a model repository
//   hf://datasets/<owner>/<repo>/<path>[@<revision>]   a dataset repository
// <path> may name a file or a folder (or be empty: the repository root); the revision defaults to main.

export type RepoType = 'model' | 'dataset';

export interface HubRef {
  type: RepoType;
  /** owner/name */
  repo: string;
  /** Path inside the repository, '' for its root. */
  path: string;
  revision: string;
  /** The reference as written. */
  uri: string;
}

export const HUB_SCHEME = 'hf://';

export const isHubUri = (s: string): boolean => s.startsWith(HUB_SCHEME);

export function parseHubUri(uri: string): HubRef {
  if (!isHubUri(uri)) throw new Error(`${uri}: not an hf:// reference`);
  let rest = uri.slice(HUB_SCHEME.length);
  let revision = 'main';
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    revision = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (revision === '') throw new Error(`${uri}: empty revision after '@'`);
  }
  let type: RepoType = 'model';
  if (rest.startsWith('datasets/')) {
    type = 'dataset';
    rest = rest.slice('datasets/'.length);
  }
  const parts = rest.split('/');
  const [owner, name, ...path] = parts;
  if (!owner || !name) throw new Error(`${uri}: expected hf://[datasets/]<owner>/<repo>/<path>[@<revision>]`);
  if (path.some((p) => p === '..' || p === '.')) throw new Error(`${uri}: the path may not contain '.' or '..'`);
  return { type, repo: `${owner}/${name}`, path: path.filter((p) => p !== '').join('/'), revision, uri };
}

/** The repository's page on the Hub (for messages: where to accept a gated repository's terms). */
export function repoPage(endpoint: string, ref: Pick<HubRef, 'type' | 'repo'>): string {
  return `${endpoint}/${ref.type === 'dataset' ? 'datasets/' : ''}${ref.repo}`;
}

/** hf://owner/repo/path@revision, for messages. */
export function formatRef(ref: Pick<HubRef, 'type' | 'repo' | 'path' | 'revision'>): string {
  return `${HUB_SCHEME}${ref.type === 'dataset' ? 'datasets/' : ''}${ref.repo}${ref.path ? `/${ref.path}` : ''}@${ref.revision}`;
}
