// Training data in memory: clean latents x₀ and caption embeddings y for every example. From the
// teacher dataset's cached shards when present (no re-encoding), else from images + captions
// encoded once by the VAE (posterior mean) and the text encoder — the seed re-encodes every step.
import { existsSync } from 'node:fs';
import { isAbsolute, join, normalize, relative, resolve } from 'node:path';

import * as torch from '@cdistill/torch';

import type { TextToImageModel } from '../models/load.js';
import { imageName, readCaptions, scanLatentShards } from '../data/teacher-dataset.js';

type Tensor = torch.Tensor;

export interface TrainData {
  /** [M, C, H, W] float32, CPU */
  latents: Tensor;
  /** [M, 1, L, D], CPU */
  text: Tensor;
  /** prompt of each example (validation and reports) */
  captions: string[];
  size: number;
  dispose(): void;
}

/** Loads every cached shard (latents + text) in index order. */
export function loadCachedData(dataDir: string): TrainData | undefined {
  const records = scanLatentShards(dataDir);
  if (records.size === 0) return undefined;
  const captions = readCaptions(dataDir);
  const indices = [...records.keys()].sort((a, b) => a - b);
  const byFile = new Map<string, Map<string, Tensor>>();
  const rows = indices.map((i) => {
    const r = records.get(i)!;
    if (!byFile.has(r.file)) byFile.set(r.file, torch.io.loadSafetensors(r.file));
    const sd = byFile.get(r.file)!;
    return { latents: sd.get('latents')!.select(0, r.row), text: sd.get('text')!.select(0, r.row) };
  });
  const latents = torch.keep(torch.stack(rows.map((r) => r.latents)).to('float32'));
  const text = torch.keep(torch.stack(rows.map((r) => r.text)));
  for (const sd of byFile.values()) for (const t of sd.values()) t.dispose();
  const names = indices.map(imageName);
  return {
    latents,
    text,
    captions: names.map((n) => captions.get(n) ?? ''),
    size: indices.length,
    dispose: () => {
      latents.dispose();
      text.dispose();
    },
  };
}

/** A caption file's entry must name an image inside the data folder. */
export function resolveImage(dataDir: string, name: string, source: string): string {
  const root = resolve(dataDir);
  const candidates = [join(root, 'images', name), join(root, name)];
  for (const p of candidates) {
    const rel = relative(root, normalize(p));
    if (isAbsolute(name) || rel.startsWith('..'))
      throw new Error(`${source}: "${name}" points outside the data folder ${dataDir}`);
    if (existsSync(p)) return p;
  }
  throw new Error(`${source}: "${name}": no such image in ${join(dataDir, 'images')} or ${dataDir}`);
}

/** Encodes images (resized/cropped to the model's resolution) and captions once. */
export async function encodeImageData(model: TextToImageModel, dataDir: string, batch = 8): Promise<TrainData> {
  const captions = readCaptions(dataDir);
  if (captions.size === 0) throw new Error(`${dataDir}: no latents/ shards and no captions.json`);
  const entries = [...captions].sort(([a], [b]) => (a < b ? -1 : 1));
  const lat: Tensor[] = [];
  const txt: Tensor[] = [];
  for (let s = 0; s < entries.length; s += batch) {
    const chunk = entries.slice(s, s + batch);
    const imgs = await Promise.all(
      chunk.map(([name]) =>
        loadTrainingImage(resolveImage(dataDir, name, join(dataDir, 'captions.json')), model.imageSize),
      ),
    );
    torch.tidy(() => {
      const x = torch.stack(imgs).mul(2).sub(1).to(model.device).to(model.dtype);
      lat.push(
        torch.keep(torch.noGrad(() => model.codec.encodeMean(x)).toOptions({ dtype: 'float32', device: 'cpu' })),
      );
      txt.push(torch.keep(model.encodePrompts(chunk.map(([, c]) => c)).cpu()));
    });
    for (const t of imgs) t.dispose();
  }
  const latents = torch.keep(torch.cat(lat));
  const text = torch.keep(torch.cat(txt));
  for (const t of [...lat, ...txt]) t.dispose();
  return {
    latents,
    text,
    captions: entries.map(([, c]) => c),
    size: entries.length,
    dispose: () => {
      latents.dispose();
      text.dispose();
    },
  };
}

/** Resize the shorter side to `size` (Lanczos), centre-crop, [3, size, size] in [0, 1]. */
async function loadTrainingImage(path: string, size: number): Promise<Tensor> {
  const { default: sharp } = await import('sharp');
  const { data, info } = await sharp(path)
    .removeAlpha()
    .resize(size, size, { fit: 'cover', position: 'centre', kernel: 'lanczos3' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return torch.tidy(() =>
    torch
      .fromBytes(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 'uint8', [info.height, info.width, 3])
      .permute(2, 0, 1)
      .to('float32')
      .div(255),
  );
}

/**
 * An endless seeded stream of example indices: a fresh permutation each epoch (from seed + epoch),
 * so the position (epoch, offset) is the whole state needed to resume exactly.
 */
export class EpochSampler {
  private perm: number[] = [];
  constructor(
    readonly size: number,
    readonly seed: number,
    public epoch = 0,
    public offset = 0,
  ) {
    if (size < 1) throw new Error('EpochSampler: the dataset is empty');
    this.perm = this.permutation(epoch);
  }
  private permutation(epoch: number): number[] {
    return torch.tidy(() =>
      torch.randperm(this.size, { generator: new torch.Generator(this.seed * 100_003 + epoch) }).toArray(),
    );
  }
  next(n: number): number[] {
    const out: number[] = [];
    while (out.length < n) {
      if (this.offset >= this.size) {
        this.epoch += 1;
        this.offset = 0;
        this.perm = this.permutation(this.epoch);
      }
      out.push(this.perm[this.offset++]!);
    }
    return out;
  }
  state(): { epoch: number; offset: number } {
    return { epoch: this.epoch, offset: this.offset };
  }
}
