// The Hugging Face environment, read as Python's huggingface_hub reads it, so a cache filled from Python
// is found and reused: HF_HUB_CACHE (or HUGGINGFACE_HUB_CACHE) → $HF_HOME/hub → $XDG_CACHE_HOME/huggingface/hub
// → ~/.cache/huggingface/hub; HF_TOKEN, else the token file ($HF_TOKEN_PATH, default $HF_HOME/token);
// HF_ENDPOINT for mirrors; HF_HUB_OFFLINE=1 for the cache only.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface HubEnv {
  endpoint: string;
  token: string | undefined;
  offline: boolean;
  cacheDir: string;
}

const truthy = (v: string | undefined) =>
  v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());

export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  const hfHome = env.HF_HOME ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
  const cacheDir = env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? join(hfHome, 'hub');
  let token = env.HF_TOKEN?.trim() || env.HUGGING_FACE_HUB_TOKEN?.trim() || undefined;
  if (token === undefined) {
    const file = env.HF_TOKEN_PATH ?? join(hfHome, 'token');
    if (existsSync(file)) token = readFileSync(file, 'utf8').trim() || undefined;
  }
  return {
    endpoint: (env.HF_ENDPOINT ?? 'https://huggingface.co').replace(/\/+$/, ''),
    token,
    offline: truthy(env.HF_HUB_OFFLINE) || truthy(env.TRANSFORMERS_OFFLINE),
    cacheDir,
  };
}
