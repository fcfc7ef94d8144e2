// Stage 2, `cdistill generate`: the teacher makes one image per prompt (30 Heun steps, CFG 5, seed
// 2024 by default), batched. Image i's noise comes from seed + i alone, so results do not depend on
// batch size or sharding; a killed run continues where it stopped; `--shard i/n` splits the work.
import { existsSync, linkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import sharp from 'sharp';
import * as torch from '@cdistill/torch';
import { z } from 'zod';

import { downloadModel } from '../models/download.js';
import { loadModel, type TextToImageModel } from '../models/load.js';
import { perImageNoise, imageSeed } from '../sampling/noise.js';
import type { OdeSolver } from '../diffusion/edm.js';
import { teacherSample } from '../sampling/sample.js';
import { writeJsonAtomic } from '../util/fs.js';
import { readJsonWith } from '../util/json.js';
import { withLock } from '../util/lock.js';
import { progress } from '../util/progress.js';
import { writeImage } from './images.js';
import { ensureDirs, imageName, scanLatentShards, shardName } from '../data/teacher-dataset.js';

export interface GenerateOptions {
  model: string;
  prompts: string[];
  out: string;
  steps?: number;
  guidance?: number;
  seed: number;
  batch: number;
  shard: { index: number; count: number };
  device: string;
  dtype: torch.DType;
  solver: OdeSolver;
  /** Storage dtype of the cached text embeddings. */
  textDtype: torch.DType;
  /** Stop after this many batches (tests of resume; a real run leaves it undefined). */
  maxBatches?: number;
}

/** What fixes the images: a rerun into the same folder must use the same values. */
interface GenerateSettings {
  model: string;
  steps: number;
  guidance: number;
  seed: number;
  solver: OdeSolver;
  prompts: number;
}

export function parseShard(spec: string): { index: number; count: number } {
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) throw new Error(`--shard must be i/n with 0 ≤ i < n, got '${spec}'`);
  return { index, count };
}

const GenerateSettingsSchema = z
  .object({
    model: z.string(),
    steps: z.number(),
    guidance: z.number(),
    seed: z.number(),
    solver: z.enum(['heun', 'euler']),
    prompts: z.number(),
  })
  .strict();

/**
 * generate.json records what fixes the images; every run into the folder (every shard) must agree with it.
 * It is created with link(2), which fails if the file exists, so of two runs starting at once exactly one
 * writes it and the other compares against it.
 */
function checkSettings(dataDir: string, s: GenerateSettings): void {
  const path = join(dataDir, 'generate.json');
  if (!existsSync(path)) {
    const tmp = torch.io.tempPathFor(path);
    writeFileSync(tmp, `${JSON.stringify(s, null, 2)}\n`);
    try {
      linkSync(tmp, path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  const prev = readJsonWith(GenerateSettingsSchema, path, 'generate settings');
  const diff = (Object.keys(s) as (keyof GenerateSettings)[]).filter((k) => prev[k] !== s[k]);
  if (diff.length > 0) {
    throw new Error(
      `${path}: this folder was generated with different settings (${diff.map((k) => `${k}: ${prev[k]} → ${s[k]}`).join(', ')}); ` +
        'use a new --out folder or the same settings',
    );
  }
}

/** Whether an image file decodes completely at the expected size (a truncated or damaged PNG does not). */
async function imageIsWhole(path: string, side: number): Promise<boolean> {
  try {
    const { info } = await sharp(path, { failOn: 'truncated' }).raw().toBuffer({ resolveWithObject: true });
    return info.width === side && info.height === side;
  } catch {
    return false;
  }
}

export async function generateDataset(
  o: GenerateOptions,
  print: (l: string) => void,
): Promise<{ generated: number; total: number }> {
  if (o.prompts.length === 0) throw new Error('generate: no prompts');
  o.prompts.forEach((p, i) => {
    if (p.trim() === '') throw new Error(`generate: prompt ${i} is empty`);
  });
  ensureDirs(o.out);
  // One lock per shard: shards of one plan run at once into one folder; the same shard twice does not.
  const shardLabel = o.shard.count === 1 ? '' : ` (shard ${o.shard.index}/${o.shard.count})`;
  return withLock(
    join(o.out, `.generate-shard-${o.shard.index}-of-${o.shard.count}.lock`),
    `data folder ${o.out}${shardLabel}`,
    async () => {
      for (const d of [o.out, join(o.out, 'images'), join(o.out, 'latents')]) {
        const gone = torch.io.removeStaleTempFiles(d);
        if (gone.length)
          print(
            `generate: removed ${gone.length} temporary file${gone.length === 1 ? '' : 's'} left by a killed run in ${d}`,
          );
      }
      await downloadModel(o.model, { print });
      const model = loadModel(o.model, { device: o.device, dtype: o.dtype });
      try {
        const steps = o.steps ?? model.defaults.steps;
        const guidance = o.guidance ?? model.defaults.guidance;
        checkSettings(o.out, {
          model: model.name,
          steps,
          guidance,
          seed: o.seed,
          solver: o.solver,
          prompts: o.prompts.length,
        });
        const mine = o.prompts.map((_, i) => i).filter((i) => i % o.shard.count === o.shard.index);
        const done = scanLatentShards(o.out, (m) => print(`generate: ${m}`));
        // What exists is verified, not trusted: a shard row without a whole image is redone.
        const broken: number[] = [];
        for (const i of mine)
          if (done.has(i) && !(await imageIsWhole(join(o.out, 'images', imageName(i)), model.imageSize)))
            broken.push(i);
        if (broken.length)
          print(
            `generate: ${broken.length} image${broken.length === 1 ? ' is' : 's are'} missing or damaged (${broken.slice(0, 5).map(imageName).join(', ')}${broken.length > 5 ? ', …' : ''}): making ${broken.length === 1 ? 'it' : 'them'} again`,
          );
        const todo = mine.filter((i) => !done.has(i) || broken.includes(i));
        const captionsFile =
          o.shard.count === 1 ? 'captions.json' : `captions-shard-${o.shard.index}-of-${o.shard.count}.json`;
        const captions = readCaptionsOf(o.out, captionsFile);
        // A kill between a batch's shard and its captions write leaves done indices without a caption:
        // every done index gets its caption again, so the rerun's captions file is whole.
        const uncaptioned = mine.filter((i) => done.has(i) && !broken.includes(i) && !(imageName(i) in captions));
        for (const i of uncaptioned) captions[imageName(i)] = o.prompts[i]!;
        if (uncaptioned.length) writeJsonAtomic(join(o.out, captionsFile), captions);
        print(
          `generate: ${mine.length} prompts in this shard, ${mine.length - todo.length} already done, ${todo.length} to go (${steps} ${o.solver} steps, CFG ${guidance}, seed ${o.seed})`,
        );
        const bar = progress('generate', mine.length, 'img', mine.length - todo.length);
        let batches = 0;
        for (let start = 0; start < todo.length; start += o.batch) {
          if (o.maxBatches !== undefined && batches >= o.maxBatches) break;
          const indices = todo.slice(start, start + o.batch);
          await generateBatch(model, o, indices, steps, guidance);
          for (const i of indices) captions[imageName(i)] = o.prompts[i]!;
          writeJsonAtomic(join(o.out, captionsFile), captions);
          batches += 1;
          bar.update(mine.length - todo.length + start + indices.length);
        }
        bar.stop();
        return { generated: Math.min(todo.length, batches * o.batch), total: mine.length };
      } finally {
        model.dispose();
      }
    },
  );
}

/** This run's own captions file (one per shard), to be extended batch by batch. */
function readCaptionsOf(dir: string, file: string): Record<string, string> {
  const path = join(dir, file);
  return existsSync(path) ? readJsonWith(z.record(z.string()), path, 'captions file') : {};
}

async function generateBatch(
  model: TextToImageModel,
  o: GenerateOptions,
  indices: number[],
  steps: number,
  guidance: number,
): Promise<void> {
  const prompts = indices.map((i) => o.prompts[i]!);
  const { latents, text, images } = torch.tidy(() => {
    const y = model.encodePrompts(prompts);
    const noise = perImageNoise(indices.map((i) => imageSeed(o.seed, i)));
    const latents = teacherSample(model, y, noise, { steps, guidance, solver: o.solver });
    return {
      latents: latents.cpu(),
      text: y.toOptions({ dtype: o.textDtype, device: 'cpu' }),
      images: model.decodeImages(latents),
    };
  });
  // Images first, the shard last: an index counts as done only once its shard exists.
  for (let k = 0; k < indices.length; k++) {
    await writeImage(
      join(o.out, 'images', imageName(indices[k]!)),
      torch.tidy(() => images.select(0, k)),
    );
  }
  torch.io.saveSafetensors(
    join(o.out, 'latents', shardName(indices[0]!, indices.length)),
    { latents, text, index: torch.tensor(indices, { dtype: 'int64' }) },
    { model: model.name, steps: String(steps), guidance: String(guidance), seed: String(o.seed) },
  );
  for (const t of [latents, text, images]) t.dispose();
}
