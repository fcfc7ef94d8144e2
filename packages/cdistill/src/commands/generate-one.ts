// `cdistill generate-one`: text → tokenizer → text encoder → MicroDiT Heun with CFG → VAE decode → PNG.
import * as torch from '@cdistill/torch';

import { downloadModel } from '../models/download.js';
import { loadModel } from '../models/load.js';
import { imageFormatOf, writeImage } from '../pipeline/images.js';
import { perBatchNoise } from '../sampling/noise.js';
import type { OdeSolver } from '../diffusion/edm.js';
import { teacherSample } from '../sampling/sample.js';

export interface GenerateOneOptions {
  model: string;
  prompt: string;
  out: string;
  steps?: number;
  guidance?: number;
  seed: number;
  device: string;
  dtype: torch.DType;
  solver: OdeSolver;
}

export async function generateOne(o: GenerateOneOptions, print: (l: string) => void): Promise<void> {
  if (o.prompt.trim() === '') throw new Error('generate-one: --prompt is empty');
  imageFormatOf(o.out); // an unknown extension is refused before any work
  await downloadModel(o.model, { print });
  const model = loadModel(o.model, { device: o.device, dtype: o.dtype });
  try {
    const steps = o.steps ?? model.defaults.steps;
    const guidance = o.guidance ?? model.defaults.guidance;
    const t0 = performance.now();
    const image = torch.tidy(() => {
      const y = model.encodePrompts([o.prompt]);
      const latents = teacherSample(model, y, perBatchNoise(o.seed, 1), { steps, guidance, solver: o.solver });
      return model.decodeImages(latents).select(0, 0);
    });
    await writeImage(o.out, image);
    print(
      `${o.out}: ${model.imageSize}×${model.imageSize}, ${steps} ${o.solver} steps, guidance ${guidance}, seed ${o.seed}, ${((performance.now() - t0) / 1000).toFixed(2)} s`,
    );
  } finally {
    model.dispose();
  }
}
