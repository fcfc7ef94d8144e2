// The demo's headline pictures (world/, shown first in the report): a few open captions, each with
// several samples, as the world draws them (ground truth), then teacher@30, the undistilled student at 1
// step, the distilled student at 1 and 4 steps, and the bundled (longer distilled) student at 1 and 4
// steps when the demo scored it, for the same prompts and noise.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';

import { tile, writeRgbImage } from '../pipeline/images.js';
import { writeJsonAtomic } from '../util/fs.js';
import { mulberry32 } from '../util/prng.js';
import { renderToTensor, sampleScene, type PromptSample } from '../worlds/shapes/index.js';
import type { EvalSet } from './evaluate.js';

/** The samplers pictured, in order, after the ground truth (those without images are left out). */
export const PICTURED: readonly string[] = [
  'teacher_heun30',
  'undistilled_1',
  'student_1',
  'student_4',
  'bundled_student_1',
  'bundled_student_4',
];
const PROMPTS_SHOWN = 4;
/** A tile border no scene uses (white and black are backgrounds). */
const GAP_RGB: [number, number, number] = [64, 64, 160];

export async function writeDemoPictures(
  dir: string,
  prompts: readonly PromptSample[],
  set: EvalSet,
  images: ReadonlyMap<string, torch.Tensor>,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const p = prompts.length;
  const shownPrompts = Math.min(PROMPTS_SHOWN, p);
  const samples = set.prompts.length / p;
  // Row k = prompt k, column s = its sample s: entry s·P + k of the evaluation set.
  const entries = Array.from({ length: shownPrompts * samples }, (_, i) => (i % samples) * p + Math.floor(i / samples));
  const rng = mulberry32(3);
  const truth = renderToTensor(entries.map((e) => sampleScene(rng, set.specs[e]!)));
  await writeRgbImage(
    join(dir, '1-ground-truth.png'),
    torch.tidy(() => tile(truth.add(1).div(2), samples, 2, GAP_RGB)),
    3,
  );
  truth.dispose();
  for (const [k, name] of PICTURED.entries()) {
    const imgs = images.get(name);
    if (!imgs) continue;
    const picked = torch.tidy(() => imgs.indexSelect(0, torch.tensor(entries, { dtype: 'int64' })));
    await writeRgbImage(
      join(dir, `${k + 2}-${name}.png`),
      torch.tidy(() => tile(picked, samples, 2, GAP_RGB)),
      3,
    );
    picked.dispose();
  }
  writeJsonAtomic(
    join(dir, 'prompts.json'),
    prompts.slice(0, shownPrompts).map((q) => q.prompt),
  );
}
