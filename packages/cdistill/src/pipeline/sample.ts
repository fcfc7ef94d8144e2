// Stage 4, `cdistill sample` and `cdistill grid`: the student in 1..8 consistency steps.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';

import { perBatchNoise } from '../sampling/noise.js';
import { studentSample } from '../sampling/sample.js';
import { writeJsonAtomic } from '../util/fs.js';
import { tile, writeImage, writeRgbImage } from './images.js';
import { loadStudent, type Student } from './student.js';

export interface SampleOptions {
  checkpoint: string;
  prompts: string[];
  steps: number;
  seed: number;
  out: string;
  device: string;
  ema?: boolean;
  /** For students with a guidance embedding: the w to feed it (default: the w it was distilled at). */
  embeddedGuidance?: number;
  /** Explicit sigma list instead of karras(steps) (e.g. a schedule that ends higher). */
  sigmas?: number[];
}

export function checkSteps(steps: number): void {
  if (!Number.isInteger(steps) || steps < 1 || steps > 8)
    throw new Error(`--steps must be an integer from 1 to 8, got ${steps}`);
}

/** Latents → [B, 3, H, W] images for prompts at `steps`, one noise stream seeded `seed` for the batch. */
export function sampleImages(
  s: Student,
  prompts: string[],
  steps: number,
  seed: number,
  o: { embeddedGuidance?: number; sigmas?: number[] } = {},
): torch.Tensor {
  return torch.tidy(() => {
    const y = s.model.encodePrompts(prompts);
    const latents = studentSample(s.model, s.student, y, perBatchNoise(seed, prompts.length), {
      steps,
      sigmas: o.sigmas,
      embeddedGuidance: s.embedded ? (o.embeddedGuidance ?? s.guidance) : undefined,
      boundaryCondition: s.config.boundaryCondition,
    });
    return s.model.decodeImages(latents);
  });
}

export async function sample(o: SampleOptions, print: (l: string) => void): Promise<string[]> {
  checkSteps(o.steps);
  o.prompts.forEach((p, i) => {
    if (p.trim() === '') throw new Error(`sample: prompt ${i} is empty`);
  });
  const s = loadStudent(o.checkpoint, { device: o.device, useEma: o.ema });
  try {
    const images = sampleImages(s, o.prompts, o.steps, o.seed, o);
    const single = o.prompts.length === 1 && o.out.endsWith('.png');
    if (!single) mkdirSync(o.out, { recursive: true });
    const paths = o.prompts.map((_, i) => (single ? o.out : join(o.out, `${String(i).padStart(4, '0')}.png`)));
    for (let i = 0; i < paths.length; i++)
      await writeImage(
        paths[i]!,
        torch.tidy(() => images.select(0, i)),
      );
    images.dispose();
    print(`sample: ${paths.length} image(s) at ${o.steps} step(s) → ${single ? o.out : `${o.out}/`}`);
    return paths;
  } finally {
    s.dispose();
  }
}

/** The steps-comparison figure: one row per prompt, one column per step count, same noise per row. */
export async function grid(
  o: Omit<SampleOptions, 'steps'> & { stepsList: number[]; scale?: number },
  print: (l: string) => void,
): Promise<void> {
  o.stepsList.forEach(checkSteps);
  const s = loadStudent(o.checkpoint, { device: o.device, useEma: o.ema });
  try {
    const rows = o.prompts.map((p, i) =>
      torch.tidy(() => torch.cat(o.stepsList.map((steps) => sampleImages(s, [p], steps, o.seed + i, o)))),
    );
    const all = torch.cat(rows);
    await writeRgbImage(o.out, tile(all, o.stepsList.length), o.scale ?? 1);
    writeJsonAtomic(o.out.replace(/\.png$/, '.json'), {
      prompts: o.prompts,
      steps: o.stepsList,
      seed: o.seed,
      checkpoint: s.checkpoint,
    });
    for (const t of [...rows, all]) t.dispose();
    print(`grid: ${o.prompts.length} prompts × steps [${o.stepsList.join(', ')}] → ${o.out}`);
  } finally {
    s.dispose();
  }
}
