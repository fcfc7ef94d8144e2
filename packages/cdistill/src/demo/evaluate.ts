// The embedded default's evaluation: every sampler on the same prompts with the same noise, images read
// back by the world's detector and scored for validity, faithfulness to what the caption names, and
// coverage of what it leaves open (worlds/shapes/score.ts); plus ms per image and the agreement (PSNR)
// of each few-step sampler with the teacher's 30-step image from the same noise.
import * as torch from '@cdistill/torch';

import type { TextToImageModel } from '../models/load.js';
import type { DiT } from '../models/microdit/index.js';
import { perImageNoise } from '../sampling/noise.js';
import { studentSample, teacherSample } from '../sampling/sample.js';
import { imagesFromTensor, scoreImages, type Spec, type WorldScore } from '../worlds/shapes/index.js';

export interface SamplerEval {
  valid: number;
  named: number;
  coverage: number;
  coverage_by_attribute: WorldScore['coverageByAttribute'];
  ms_per_image: number;
  /** median pixels off the re-rendered scene (worlds/shapes/score.ts) */
  differing_px_median: number;
  /** mean PSNR (dB) against teacher_heun30's image from the same noise */
  psnr_vs_teacher30?: number;
}

export const SAMPLERS = [
  'teacher_heun30',
  'teacher_heun4',
  'teacher_euler4',
  'student_1',
  'student_2',
  'student_4',
  'student_8',
  'undistilled_1',
  'undistilled_2',
  'undistilled_4',
] as const;
/**
 * The same few-step samplers on a schedule searched on held-out prompts (sampling/schedule-search.ts,
 * demo/tune-schedules.ts), beside their karras(n) rows: karras(n) ends at σ_min, where the last step
 * does almost nothing.
 */
export const TUNED_SAMPLERS = [
  'student_2_tuned',
  'student_4_tuned',
  'undistilled_2_tuned',
  'undistilled_4_tuned',
] as const;
export type TunedSamplerName = (typeof TUNED_SAMPLERS)[number];
export type SamplerName = (typeof SAMPLERS)[number] | TunedSamplerName;
/** The searched σ levels of each tuned sampler (σ_max first). */
export type TunedSchedules = Partial<Record<TunedSamplerName, number[]>>;

/** One entry per image: a prompt appears once per sample, each with its own seed. */
export interface EvalSet {
  prompts: string[];
  specs: Spec[];
  seeds: number[];
}

/** Every prompt `samples` times, sample s of prompt k with noise seed `firstSeed + s·prompts + k`. */
export function evalSetOf(
  prompts: readonly { prompt: string; spec: Spec }[],
  samples: number,
  firstSeed: number,
): EvalSet {
  const set: EvalSet = { prompts: [], specs: [], seeds: [] };
  for (let s = 0; s < samples; s++)
    prompts.forEach((p, k) => {
      set.prompts.push(p.prompt);
      set.specs.push(p.spec);
      set.seeds.push(firstSeed + s * prompts.length + k);
    });
  return set;
}

type Sampler = (y: torch.Tensor, seeds: number[]) => torch.Tensor;

/** The distilled network and the parametrization it was distilled with. */
export interface EvalStudent {
  net: DiT;
  boundaryCondition: boolean;
}

/**
 * Each sampler by name. `undistilled` is the teacher's own DiT used as a consistency model (unguided,
 * as the student samples): the student before its first distillation step.
 */
export function samplerOf(
  name: SamplerName,
  teacher: TextToImageModel,
  student: EvalStudent,
  guidance: number,
  schedules: TunedSchedules = {},
): Sampler {
  const t =
    (steps: number, solver: 'heun' | 'euler'): Sampler =>
    (y, seeds) =>
      teacherSample(teacher, y, perImageNoise(seeds), { steps, guidance, solver });
  const s =
    (net: DiT, steps: number, boundaryCondition = false, sigmas?: number[]): Sampler =>
    (y, seeds) =>
      studentSample(teacher, net, y, perImageNoise(seeds), { steps, boundaryCondition, ...(sigmas ? { sigmas } : {}) });
  const [kind, n, tuned] = name.split('_') as [string, string, string | undefined];
  let sigmas: number[] | undefined;
  if (tuned !== undefined) {
    sigmas = schedules[name as TunedSamplerName];
    if (sigmas?.length !== Number(n)) throw new Error(`${name}: needs a searched schedule of ${n} levels`);
  }
  switch (kind) {
    case 'teacher':
      return t(Number(n.replace(/\D/g, '')), n.startsWith('heun') ? 'heun' : 'euler');
    case 'student':
      return s(student.net, Number(n), student.boundaryCondition, sigmas);
    default:
      return s(teacher.dit, Number(n), false, sigmas);
  }
}

/** Mean over images of 10·log10(1 / MSE) for images in [0, 1]. */
export function meanPsnr(a: torch.Tensor, b: torch.Tensor): number {
  return torch.tidy(() => {
    const mse = a.sub(b).square().flatten(1).mean(1).clamp(1e-10);
    return mse
      .log()
      .mul(-10 / Math.log(10))
      .mean()
      .item();
  });
}

export function toSamplerEval(score: WorldScore, ms: number): SamplerEval {
  return {
    valid: score.valid,
    named: score.named,
    coverage: score.coverage,
    coverage_by_attribute: score.coverageByAttribute,
    ms_per_image: ms,
    differing_px_median: score.differingPxMedian,
  };
}

export interface EvalResult {
  eval: Partial<Record<SamplerName, SamplerEval>>;
  /** images per sampler, [N, 3, H, W] in [0, 1] (kept; the caller disposes) */
  images: Map<SamplerName, torch.Tensor>;
}

export interface EvaluateOptions {
  guidance: number;
  batch: number;
  /** The samplers to run, in order (teacher_heun30 first if PSNR is wanted without `reference`). */
  samplers: readonly SamplerName[];
  onSampler?: (name: SamplerName) => void;
  /** teacher_heun30's images from an earlier evaluation of the same set, for PSNR when it is not rerun. */
  reference?: torch.Tensor;
  /** The σ levels of the tuned samplers among `samplers`. */
  schedules?: TunedSchedules;
}

export function evaluate(
  teacher: TextToImageModel,
  student: EvalStudent,
  set: EvalSet,
  o: EvaluateOptions,
): EvalResult {
  const out: EvalResult['eval'] = {};
  const images = new Map<SamplerName, torch.Tensor>();
  for (const name of o.samplers) {
    o.onSampler?.(name);
    const run = samplerOf(name, teacher, student, o.guidance, o.schedules);
    const parts: torch.Tensor[] = [];
    const t0 = performance.now();
    for (let i = 0; i < set.prompts.length; i += o.batch) {
      parts.push(
        torch.tidy(() => {
          const y = teacher.encodePrompts(set.prompts.slice(i, i + o.batch));
          return teacher.decodeImages(run(y, set.seeds.slice(i, i + o.batch)));
        }),
      );
    }
    const ms = (performance.now() - t0) / set.prompts.length;
    const all = torch.keep(torch.cat(parts));
    for (const p of parts) p.dispose();
    images.set(name, all);
    const arrays = torch.tidy(() => imagesFromTensor(all.mul(2).sub(1)));
    const e = toSamplerEval(scoreImages(arrays, set.specs), ms);
    const ref = images.get('teacher_heun30') ?? o.reference;
    if (name !== 'teacher_heun30' && ref) e.psnr_vs_teacher30 = meanPsnr(all, ref);
    out[name] = e;
  }
  return { eval: out, images };
}
