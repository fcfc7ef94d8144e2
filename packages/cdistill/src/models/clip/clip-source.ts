// Where a CLIP model for the metrics comes from: a folder laid out as OpenCLIP's Hub repositories are
// (`open_clip_config.json` beside `open_clip_model.safetensors` or `open_clip_pytorch_model.bin`),
// or the same files in a Hub repository named `hf://<owner>/<repo>` (downloaded into the cache once).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { hubFile, HubError, type DownloadOptions } from '../../hub/download.js';
import { isHubUri, parseHubUri } from '../../hub/uri.js';
import { loadOpenClipConfig } from './open-clip-config.js';
import type { ClipModelConfig } from './vision-config.js';

export const OPEN_CLIP_CONFIG = 'open_clip_config.json';
/** Weight files in the order they are preferred: safetensors needs no unpickling. */
export const OPEN_CLIP_WEIGHTS = ['open_clip_model.safetensors', 'open_clip_pytorch_model.bin'] as const;
/** The CLIP of MicroDiT's text encoder, the one the issue's quality targets are stated in. */
export const DEFAULT_CLIP = 'hf://apple/DFN5B-CLIP-ViT-H-14-378';

export interface ClipSource {
  spec: string;
  config: ClipModelConfig;
  weights: string;
}

function localSource(spec: string): ClipSource {
  if (!existsSync(spec) || !statSync(spec).isDirectory())
    throw new Error(`${spec}: not a CLIP folder (${OPEN_CLIP_CONFIG} + weights) nor an hf:// repository`);
  const configPath = join(spec, OPEN_CLIP_CONFIG);
  if (!existsSync(configPath)) throw new Error(`${spec}: no ${OPEN_CLIP_CONFIG} in this folder`);
  const weights = OPEN_CLIP_WEIGHTS.map((f) => join(spec, f)).find((p) => existsSync(p));
  if (weights === undefined) throw new Error(`${spec}: no ${OPEN_CLIP_WEIGHTS.join(' or ')} in this folder`);
  return { spec, config: loadOpenClipConfig(configPath), weights };
}

export async function resolveClip(spec: string, o: DownloadOptions = {}): Promise<ClipSource> {
  if (!isHubUri(spec)) return localSource(spec);
  const ref = parseHubUri(spec);
  const at = (file: string) => parseHubUri(`hf://${ref.repo}/${ref.path ? `${ref.path}/` : ''}${file}@${ref.revision}`);
  const config = loadOpenClipConfig(await hubFile(at(OPEN_CLIP_CONFIG), o));
  const [preferred, fallback] = OPEN_CLIP_WEIGHTS;
  try {
    return { spec, config, weights: await hubFile(at(preferred), o) };
  } catch (e) {
    // Only an absent file moves on to the other name; network or permission errors are the user's to see.
    if (!(e instanceof HubError && /: no file |not in the cache/.test(e.message))) throw e;
  }
  return { spec, config, weights: await hubFile(at(fallback), o) };
}
