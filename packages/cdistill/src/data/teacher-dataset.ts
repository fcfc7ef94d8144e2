// The teacher's dataset on disk (DATA_DIR):
//   images/NNNNNN.png                        one image per prompt index
//   captions.json                            {"NNNNNN.png": prompt} (captions-shard-I-of-N.json per shard)
//   latents/shard-FFFFFF-CCCC.safetensors    latents [b,C,H,W] f32, text [b,1,L,D], index [b] int64
//   generate.json                            the settings that made it
// An index is done once its latents shard exists (written last, atomically): that is what resume reads.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';

export const imageName = (index: number) => `${String(index).padStart(6, '0')}.png`;
export const shardName = (first: number, count: number) => `shard-${String(first).padStart(6, '0')}-${String(count).padStart(4, '0')}.safetensors`;

export interface LatentRecord {
  file: string;
  row: number;
}

/** Every (index → shard row) under DATA_DIR/latents, reading only the small `index` tensors. */
export function scanLatentShards(dataDir: string): Map<number, LatentRecord> {
  const dir = join(dataDir, 'latents');
  const out = new Map<number, LatentRecord>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir).filter((n) => /^shard-\d+-\d+\.safetensors$/.test(n)).sort()) {
    const file = join(dir, f);
    const idx = torch.io.loadSafetensors(file, { select: (n) => n === 'index' }).get('index');
    if (idx === undefined) throw new Error(`${file}: no 'index' tensor`);
    idx.toArray().forEach((v, row) => out.set(v, { file, row }));
    idx.dispose();
  }
  return out;
}

/** The captions of a data folder: captions.json, or the union of captions-shard-*.json. */
export function readCaptions(dataDir: string): Map<string, string> {
  const files = existsSync(join(dataDir, 'captions.json'))
    ? ['captions.json']
    : existsSync(dataDir)
      ? readdirSync(dataDir).filter((f) => /^captions-shard-\d+-of-\d+\.json$/.test(f)).sort()
      : [];
  const out = new Map<string, string>();
  for (const f of files) {
    const path = join(dataDir, f);
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new Error(`${path}: not valid JSON: ${(e as Error).message}`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${path}: expected an object of file name → caption`);
    for (const [k, v] of Object.entries(raw)) {
      if (typeof v !== 'string') throw new Error(`${path}: "${k}": caption must be a string`);
      out.set(k, v);
    }
  }
  return out;
}

export function ensureDirs(dataDir: string): void {
  mkdirSync(join(dataDir, 'images'), { recursive: true });
  mkdirSync(join(dataDir, 'latents'), { recursive: true });
}
