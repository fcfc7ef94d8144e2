// The teacher's dataset on disk (DATA_DIR):
//   images/NNNNNN.png                        one image per prompt index
//   captions.json                            {"NNNNNN.png": prompt} (captions-shard-I-of-N.json per shard)
//   latents/shard-FFFFFF-CCCC.safetensors    latents [b,C,H,W] f32, text [b,1,L,D], index [b] int64
//   generate.json                            the settings that made it
// An index is done once its latents shard exists (written last, atomically): that is what resume reads.
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';
import { z } from 'zod';

import { readJsonWith } from '../util/json.js';

/** captions.json: image file name → the prompt it was made from. */
const CaptionsSchema = z.record(z.string({ invalid_type_error: 'caption must be a string' }));

export const imageName = (index: number) => `${String(index).padStart(6, '0')}.png`;
export const shardName = (first: number, count: number) =>
  `shard-${String(first).padStart(6, '0')}-${String(count).padStart(4, '0')}.safetensors`;

export interface LatentRecord {
  file: string;
  row: number;
}

/**
 * Every (index → shard row) under DATA_DIR/latents, reading only the small `index` tensors. A shard that
 * cannot be read (truncated, damaged) is moved aside to <name>.broken, reported through `onBroken`, and its
 * indices count as not done: `generate` makes them again. Without `onBroken` a broken shard is an error.
 */
export function scanLatentShards(dataDir: string, onBroken?: (message: string) => void): Map<number, LatentRecord> {
  const dir = join(dataDir, 'latents');
  const out = new Map<number, LatentRecord>();
  if (!existsSync(dir)) return out;
  for (const f of readdirSync(dir)
    .filter((n) => /^shard-\d+-\d+\.safetensors$/.test(n))
    .sort()) {
    const file = join(dir, f);
    let indices: number[];
    try {
      const idx = torch.io.loadSafetensors(file, { select: (n) => n === 'index' }).get('index');
      if (idx === undefined) throw new Error(`${file}: no 'index' tensor`);
      indices = idx.toArray();
      idx.dispose();
      const header = torch.io.readSafetensorsHeader(file);
      for (const name of ['latents', 'text'])
        if (!header.entries.some((e) => e.name === name)) throw new Error(`${file}: no '${name}' tensor`);
    } catch (e) {
      if (!onBroken) throw e;
      renameSync(file, `${file}.broken`);
      onBroken(`${(e as Error).message}; moved aside to ${f}.broken, its images will be made again`);
      continue;
    }
    for (const [row, v] of indices.entries()) out.set(v, { file, row });
  }
  return out;
}

/** The captions of a data folder: captions.json, or the union of captions-shard-*.json. */
export function readCaptions(dataDir: string): Map<string, string> {
  const files = existsSync(join(dataDir, 'captions.json'))
    ? ['captions.json']
    : existsSync(dataDir)
      ? readdirSync(dataDir)
          .filter((f) => /^captions-shard-\d+-of-\d+\.json$/.test(f))
          .sort()
      : [];
  const out = new Map<string, string>();
  for (const f of files)
    for (const [k, v] of Object.entries(readJsonWith(CaptionsSchema, join(dataDir, f), 'captions file'))) out.set(k, v);
  return out;
}

export function ensureDirs(dataDir: string): void {
  mkdirSync(join(dataDir, 'images'), { recursive: true });
  mkdirSync(join(dataDir, 'latents'), { recursive: true });
}
