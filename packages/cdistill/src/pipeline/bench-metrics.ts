// `bench --metrics`: quality numbers for a finished bench folder (and its teacher folder), from CLIP
// features of the images on disk: CLIP score of each image against its prompt and the mean, and the
// Fréchet distance and KID between the student's and the teacher's image features for the same
// prompts; with FID Inception weights, also FID and KID on the Inception's features. Written to <bench>/metrics.json ({"eval": {setting: {metric: number}}}, as the report reads
// it) and as `clip_score` into each folder's summary.json.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import type * as torch from '@cdistill/torch';
import { z } from 'zod';

import { clipScores, mean } from '../metrics/clip-score.js';
import { frechetDistance } from '../metrics/frechet.js';
import { kernelDistance } from '../metrics/kid.js';
import { writeJsonAtomic } from '../util/fs.js';
import { readJsonWith } from '../util/json.js';
import { ClipFeaturizer } from './clip-features.js';
import { InceptionFeaturizer } from './inception-features.js';

export interface BenchMetricsOptions {
  /** CLIP folder or hf:// repository. */
  clip: string;
  /** FID Inception weights (pt_inception-2015-12-05-6726825d.pth): adds FID/KID on Inception features. */
  inception?: string;
  device: string;
  batch: number;
  /** Seeds KID's subsets. */
  seed: number;
  quiet?: boolean;
}

export interface BenchSetting {
  /** e.g. "student 4 steps", "teacher 30 steps" */
  name: string;
  dir: string;
  role: 'student' | 'teacher';
}

/** The images a bench folder holds, in prompt order (prompts.txt: file<TAB>prompt per line). */
export function benchImages(dir: string): { files: string[]; prompts: string[] } {
  const path = join(dir, 'prompts.txt');
  if (!existsSync(path)) throw new Error(`${dir}: no prompts.txt (not a bench folder)`);
  const files: string[] = [];
  const prompts: string[] = [];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const tab = line.indexOf('\t');
    if (tab <= 0) continue;
    files.push(join(dir, line.slice(0, tab)));
    prompts.push(line.slice(tab + 1));
  }
  return { files, prompts };
}

function addToSummary(dir: string, extra: Record<string, unknown>): void {
  const path = join(dir, 'summary.json');
  const summary = readJsonWith(z.record(z.unknown()), path, 'bench summary');
  writeJsonAtomic(path, { ...summary, ...extra });
}

export async function benchMetrics(
  settings: readonly BenchSetting[],
  out: string,
  o: BenchMetricsOptions,
  print: (l: string) => void,
): Promise<Record<string, unknown>> {
  const f = await ClipFeaturizer.load(o.clip, { device: o.device, batch: o.batch, quiet: o.quiet });
  const feats = new Map<string, torch.Tensor>();
  try {
    const evalOut: Record<string, Record<string, number>> = {};
    const perImage: Record<string, number[]> = {};
    for (const s of settings) {
      const { files, prompts } = benchImages(s.dir);
      const img = await f.imageFeatures(files, `CLIP features ${s.name}`);
      feats.set(s.name, img);
      const txt = await f.textFeatures(prompts);
      const scores = clipScores(img, txt);
      txt.dispose();
      perImage[s.name] = scores;
      evalOut[s.name] = { clip_score: mean(scores) };
      addToSummary(s.dir, { clip_score: mean(scores), clip_model: o.clip });
    }
    const teacher = settings.find((s) => s.role === 'teacher');
    if (teacher) {
      const t = feats.get(teacher.name)!;
      for (const s of settings.filter((x) => x.role === 'student')) {
        const st = feats.get(s.name)!;
        evalOut[s.name]!.fd_vs_teacher = frechetDistance(st, t);
        evalOut[s.name]!.kid_vs_teacher = kernelDistance(st, t, { seed: o.seed });
      }
    }
    if (teacher && o.inception !== undefined) await addInceptionDistances(settings, teacher, evalOut, o);
    const result = {
      clip_model: o.clip,
      ...(o.inception !== undefined ? { inception_weights: o.inception } : {}),
      features: {
        kind: 'CLIP image embedding (visual.proj output, not normalised)',
        dtype: f.dtype,
        device: o.device,
      },
      eval: evalOut,
      clip_scores: perImage,
    };
    writeJsonAtomic(join(out, 'metrics.json'), result);
    for (const [name, m] of Object.entries(evalOut))
      print(
        `metrics: ${name}: CLIP score ${m.clip_score!.toFixed(2)}${m.fd_vs_teacher !== undefined ? `, FD vs teacher ${m.fd_vs_teacher.toFixed(4)}, KID vs teacher ${m.kid_vs_teacher!.toFixed(5)}` : ''}${m.fd_inception_vs_teacher !== undefined ? `, Inception FID vs teacher ${m.fd_inception_vs_teacher.toFixed(4)}, KID ${m.kid_inception_vs_teacher!.toFixed(5)}` : ''}`,
      );
    return result;
  } finally {
    for (const t of feats.values()) t.dispose();
    f.dispose();
  }
}

/**
 * FID and KID of each student setting against the teacher on the FID Inception's features
 * (`fd_inception_vs_teacher`, `kid_inception_vs_teacher`: lower is better, as the report reads `fd…`/`kid…`).
 */
async function addInceptionDistances(
  settings: readonly BenchSetting[],
  teacher: BenchSetting,
  evalOut: Record<string, Record<string, number>>,
  o: BenchMetricsOptions,
): Promise<void> {
  const f = InceptionFeaturizer.load(o.inception!, { device: o.device, batch: o.batch, quiet: o.quiet });
  const t = await f.imageFeatures(benchImages(teacher.dir).files, `Inception features ${teacher.name}`);
  try {
    for (const s of settings.filter((x) => x.role === 'student')) {
      const st = await f.imageFeatures(benchImages(s.dir).files, `Inception features ${s.name}`);
      evalOut[s.name]!.fd_inception_vs_teacher = frechetDistance(st, t);
      evalOut[s.name]!.kid_inception_vs_teacher = kernelDistance(st, t, { seed: o.seed });
      st.dispose();
    }
  } finally {
    t.dispose();
    f.dispose();
  }
}
