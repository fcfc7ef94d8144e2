// Stage 5, `cdistill bench`: PartiPrompts through the student (and with --teacher, the teacher):
// the first N prompts of the `Prompt` column, batches of B, seed = base + i for the batch starting
// at prompt i (upstream generate(seed) per batch). Writes NNNN.png, prompts.txt and summary.json;
// with --metrics also metrics.json (CLIP score, CLIP-feature FD/KID student vs teacher).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';

import { readTsvColumn } from '../data/tsv.js';
import { fileSha256, type TextToImageModel } from '../models/load.js';
import { perBatchNoise } from '../sampling/noise.js';
import { studentSample, teacherSample } from '../sampling/sample.js';
import { writeJsonAtomic } from '../util/fs.js';
import { withLock } from '../util/lock.js';
import { progress } from '../util/progress.js';
import { writeImage } from './images.js';
import { loadStudent, type Student } from './student.js';
import { partPath } from '../models/manifest.js';
import { DEFAULT_CLIP, resolveClip } from '../models/clip/clip-source.js';
import { benchMetrics, type BenchSetting } from './bench-metrics.js';
import { InceptionFeaturizer } from './inception-features.js';

export interface BenchOptions {
  checkpoint: string;
  tsv: string;
  n: number;
  steps: number;
  batch: number;
  seed: number;
  out: string;
  device: string;
  teacher: boolean;
  teacherSteps: number;
  teacherGuidance: number;
  ema?: boolean;
  /** After the images: CLIP score per setting and FD/KID of the student vs the teacher (bench-metrics.ts). */
  metrics?: boolean;
  clip?: string;
  metricsBatch?: number;
  /** With metrics: FID Inception weights, for FID/KID on Inception features too. */
  inception?: string;
}

interface StageTimes {
  text_encode: number;
  sampling: number;
  vae_decode: number;
}

const now = (device: string) => {
  if (device.startsWith('cuda')) torch.cuda.synchronize();
  return performance.now();
};

async function runBench(
  label: string,
  model: TextToImageModel,
  prompts: string[],
  o: BenchOptions,
  dir: string,
  sampleLatents: (y: torch.Tensor, seed: number, batch: number) => torch.Tensor,
  extra: Record<string, unknown>,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const times: StageTimes = { text_encode: 0, sampling: 0, vae_decode: 0 };
  const bar = progress(label, prompts.length, 'img');
  const lines: string[] = [];
  for (let i = 0; i < prompts.length; i += o.batch) {
    const chunk = prompts.slice(i, i + o.batch);
    const t0 = now(o.device);
    const y = model.encodePrompts(chunk);
    const t1 = now(o.device);
    const latents = sampleLatents(y, o.seed + i, chunk.length);
    const t2 = now(o.device);
    const images = model.decodeImages(latents);
    const t3 = now(o.device);
    times.text_encode += t1 - t0;
    times.sampling += t2 - t1;
    times.vae_decode += t3 - t2;
    for (let k = 0; k < chunk.length; k++) {
      const name = `${String(i + k).padStart(4, '0')}.png`;
      await writeImage(
        join(dir, name),
        torch.tidy(() => images.select(0, k)),
      );
      lines.push(`${name}\t${(chunk[k]!).replace(/[\t\n\r]/g, ' ')}`);
    }
    for (const t of [y, latents, images]) t.dispose();
    bar.update(Math.min(prompts.length, i + o.batch));
  }
  bar.stop();
  writeFileSync(join(dir, 'prompts.txt'), `${lines.join('\n')}\n`);
  const perStage = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, v / prompts.length]));
  writeJsonAtomic(join(dir, 'summary.json'), {
    timings: { per_image_ms: Object.values(times).reduce((a, b) => a + b, 0) / prompts.length, per_stage_ms: perStage },
    images: prompts.length,
    batch: o.batch,
    seed: o.seed,
    device: o.device,
    ...extra,
  });
}

export async function bench(o: BenchOptions, print: (l: string) => void): Promise<void> {
  mkdirSync(o.out, { recursive: true });
  return withLock(join(o.out, '.bench.lock'), `bench folder ${o.out}`, () => lockedBench(o, print));
}

async function lockedBench(o: BenchOptions, print: (l: string) => void): Promise<void> {
  const { values: prompts } = readTsvColumn(o.tsv, 'Prompt', { n: o.n });
  if (prompts.length === 0) throw new Error(`${o.tsv}: no prompts in column Prompt (a header and no rows)`);
  const clip = o.clip ?? DEFAULT_CLIP;
  // Find (or download) the CLIP before any image is made, so a wrong name fails in seconds, not hours.
  if (o.metrics) await resolveClip(clip);
  // The same for the Inception weights: loading them once here (about a second for the published
  // 91 MB file) checks the path, the format and every key before hours of sampling, not after.
  if (o.metrics && o.inception !== undefined)
    InceptionFeaturizer.load(o.inception, { device: 'cpu', batch: 1 }).dispose();
  const settings = benchSettings(o);
  const s: Student = loadStudent(o.checkpoint, { device: o.device, useEma: o.ema });
  try {
    const dit = s.model.manifest.dit.weights;
    const hashes = {
      teacher_dit: dit === null ? 'random' : fileSha256(partPath(s.model.dir, dit)),
      student: fileSha256(join(s.checkpoint, o.ema ? 'ema.safetensors' : 'student.safetensors')),
    };
    await runBench(
      'bench student',
      s.model,
      prompts,
      o,
      o.out,
      (y, seed, b) =>
        studentSample(s.model, s.student, y, perBatchNoise(seed, b), {
          steps: o.steps,
          embeddedGuidance: s.embedded ? s.guidance : undefined,
          boundaryCondition: s.config.boundaryCondition,
        }),
      { sampler: 'consistency', steps: o.steps, checkpoint: s.checkpoint, model_hashes: hashes },
    );
    print(`bench: ${prompts.length} student images at ${o.steps} steps → ${o.out}/`);
    if (o.teacher) {
      const teacherDir = `${o.out.replace(/\/$/, '')}-teacher`;
      await runBench(
        'bench teacher',
        s.model,
        prompts,
        o,
        teacherDir,
        (y, seed, b) =>
          teacherSample(s.model, y, perBatchNoise(seed, b), { steps: o.teacherSteps, guidance: o.teacherGuidance }),
        {
          sampler: 'heun',
          steps: o.teacherSteps,
          guidance: o.teacherGuidance,
          model_hashes: { teacher_dit: hashes.teacher_dit },
        },
      );
      print(
        `bench: ${prompts.length} teacher images (${o.teacherSteps} Heun steps, CFG ${o.teacherGuidance}) → ${teacherDir}/`,
      );
    }
  } finally {
    s.dispose();
  }
  // After the diffusion model is freed: the real CLIP (ViT-H) is as large again.
  if (o.metrics) await runMetrics(o, print, settings);
}

/** The folders a bench run writes, named by sampler and steps. */
function benchSettings(o: BenchOptions): BenchSetting[] {
  const settings: BenchSetting[] = [{ name: `student ${o.steps} steps`, dir: o.out, role: 'student' }];
  if (o.teacher) {
    const dir = `${o.out.replace(/\/$/, '')}-teacher`;
    settings.push({ name: `teacher ${o.teacherSteps} steps`, dir, role: 'teacher' });
  }
  return settings;
}

async function runMetrics(o: BenchOptions, print: (l: string) => void, settings: BenchSetting[]): Promise<void> {
  const m = {
    clip: o.clip ?? DEFAULT_CLIP,
    inception: o.inception,
    device: o.device,
    batch: o.metricsBatch ?? 16,
    seed: o.seed,
  };
  await benchMetrics(settings, o.out, m, print);
}

/** The metrics of a bench run whose images exist (the pipeline's rerun after a run without them). */
export async function benchMetricsOnly(o: BenchOptions, print: (l: string) => void): Promise<void> {
  return withLock(join(o.out, '.bench.lock'), `bench folder ${o.out}`, () => runMetrics(o, print, benchSettings(o)));
}
