// `cdistill download <model>` and the first step of every command taking --model: fetch the model's
// hf:// parts into the Hugging Face cache (nothing happens for parts already there, or local ones).
import { hubFile, hubFolder, type DownloadOptions } from '../hub/download.js';
import { parseHubUri } from '../hub/uri.js';
import { hubParts, readManifest } from './manifest.js';

/** Downloads what `spec` (a built-in name or a manifest) names on the Hub; returns the local paths by manifest key. */
export async function downloadModel(spec: string, o: DownloadOptions = {}): Promise<Map<string, string>> {
  const { manifest } = readManifest(spec);
  const out = new Map<string, string>();
  for (const part of hubParts(manifest)) {
    const ref = parseHubUri(part.uri);
    out.set(part.key, part.folderFiles ? await hubFolder(ref, part.folderFiles, o) : await hubFile(ref, o));
  }
  return out;
}
