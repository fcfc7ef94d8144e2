// The embedded default's evaluation: every sampler on the same held-out prompts with the same noise,
// images read back by the world's attribute detector. Accuracy per attribute and overall, ms per
// image, and the agreement (PSNR) of each few-step sampler with the teacher's 30-step image.
import * as torch from '@cdistill/torch';

import type { TextToImageModel } from '../models/load.js';
import type { DiT } from '../models/microdit/index.js';
import { perImageNoise } from '../sampling/noise.js';
import { decodeImages, encodePrompts, studentSample, teacherSample } from '../sampling/sample.js';
import { imagesFromTensor, isHeldOut, scoreImages, type Scene } from '../worlds/shapes/index.js';

export interface SamplerEval {
  all: number;
  shape: number;
  color: number;
  position: number;
  size: number;
  background: number;
  ms_per_image: number;
  /** all-attributes accuracy on the held-out attribute combinations only */
  all_heldout_combos: number;
  /** mean PSNR (dB) against teacher_heun30's image from the same noise */
  psnr_vs_teacher30?: number;
}

export type SamplerName = 'teacher_heun30' | 'teacher_heun4' | 'teacher_euler4' | 'student_1' | 'student_2' | 'student_4' | 'student_8';

export interface EvalSet {
  prompts: string[];
  scenes: Scene[];
  seeds: number[];
}

type Sampler = (y: torch.Tensor, seeds: number[]) => torch.Tensor;

export function samplers(teacher: TextToImageModel, student: DiT, guidance: number): [SamplerName, Sampler][] {
  const t = (steps: number, solver: 'heun' | 'euler'): Sampler => (y, seeds) => teacherSample(teacher, y, perImageNoise(seeds), { steps, guidance, solver });
  const s = (steps: number): Sampler => (y, seeds) => studentSample(teacher, student, y, perImageNoise(seeds), { steps });
  return [
    ['teacher_heun30', t(30, 'heun')],
    ['teacher_heun4', t(4, 'heun')],
    ['teacher_euler4', t(4, 'euler')],
    ['student_1', s(1)],
    ['student_2', s(2)],
    ['student_4', s(4)],
    ['student_8', s(8)],
  ];
}

/** Mean over images of 10·log10(1 / MSE) for images in [0, 1]. */
export function meanPsnr(a: torch.Tensor, b: torch.Tensor): number {
  return torch.tidy(() => {
    const mse = a.sub(b).square().flatten(1).mean(1).clamp(1e-10);
    return mse.log().mul(-10 / Math.log(10)).mean().item();
  });
}

export interface EvalResult {
  eval: Record<SamplerName, SamplerEval>;
  /** images per sampler, [N, 3, H, W] in [0, 1] (kept; the caller disposes) */
  images: Map<SamplerName, torch.Tensor>;
}

export interface EvaluateOptions {
  guidance: number;
  batch: number;
  onSampler?: (name: SamplerName) => void;
  /** Run only these samplers (default: all seven). */
  only?: readonly SamplerName[];
  /** teacher_heun30's images from an earlier evaluation of the same set, for PSNR when it is not rerun. */
  reference?: torch.Tensor;
}

export function evaluate(teacher: TextToImageModel, student: DiT, set: EvalSet, o: EvaluateOptions): EvalResult {
  const heldOut = set.scenes.map((s) => isHeldOut(s));
  const out = {} as Record<SamplerName, SamplerEval>;
  const images = new Map<SamplerName, torch.Tensor>();
  for (const [name, run] of samplers(teacher, student, o.guidance)) {
    if (o.only && !o.only.includes(name)) continue;
    o.onSampler?.(name);
    const parts: torch.Tensor[] = [];
    const t0 = performance.now();
    for (let i = 0; i < set.prompts.length; i += o.batch) {
      parts.push(
        torch.tidy(() => {
          const y = encodePrompts(teacher, set.prompts.slice(i, i + o.batch));
          return decodeImages(teacher, run(y, set.seeds.slice(i, i + o.batch)));
        }),
      );
    }
    const ms = (performance.now() - t0) / set.prompts.length;
    const all = torch.keep(torch.cat(parts));
    for (const p of parts) p.dispose();
    images.set(name, all);
    const arrays = torch.tidy(() => imagesFromTensor(all.mul(2).sub(1)));
    const score = scoreImages(arrays, set.scenes);
    const held = scoreImages(arrays.filter((_, k) => heldOut[k]), set.scenes.filter((_, k) => heldOut[k]));
    out[name] = {
      all: score.all, shape: score.shape, color: score.color, position: score.position, size: score.size, background: score.background,
      ms_per_image: ms,
      all_heldout_combos: held.all,
    };
    const ref = images.get('teacher_heun30') ?? o.reference;
    if (name !== 'teacher_heun30' && ref) out[name].psnr_vs_teacher30 = meanPsnr(all, ref);
  }
  return { eval: out, images };
}
