// The bundled distilled student (students/shapes, made by the commands in the README): what consistency
// distillation reaches with many times the CD steps the demo's 15-minute budget allows. The demo scores
// it on its own evaluation set, beside the student it distils itself, with its own searched schedules,
// so the two differ only in how long they were distilled (and on what data).
import { join, resolve } from 'node:path';

import type * as torch from '@cdistill/torch';

import { PACKAGE_ROOT } from '../assets.js';
import { isExportedStudent, loadStudent, readStudentManifest } from '../pipeline/student.js';
import { type EvalSet, evaluate, type SamplerEval, type TunedSamplerName } from './evaluate.js';
import { scheduleRecords, tuneSchedules } from './tune-schedules.js';

export const BUNDLED_STUDENT = join(PACKAGE_ROOT, 'students', 'shapes');
/** Its samplers: the demo student's, on karras(n) and on schedules searched for it. */
export const BUNDLED_SAMPLERS = ['student_1', 'student_2', 'student_4', 'student_8'] as const;
export const BUNDLED_TUNED: readonly TunedSamplerName[] = ['student_2_tuned', 'student_4_tuned'];
/** The name its samplers go by in metrics.json, the report and the pictures: bundled_student_4, … */
export const bundledName = (sampler: string) => `bundled_${sampler}`;

/**
 * The student to score beside the demo's: the one asked for, else the bundled one when it was
 * distilled from the demo's teacher (another teacher's demo would compare it with a stranger).
 */
export function extraStudentFor(asked: string | undefined, teacher: string): string | undefined {
  if (asked !== undefined) return asked;
  if (!isExportedStudent(BUNDLED_STUDENT)) return undefined;
  return resolve(readStudentManifest(BUNDLED_STUDENT).teacherSpec) === resolve(teacher) ? BUNDLED_STUDENT : undefined;
}

export interface ExtraStudentScore {
  source: string;
  step: number;
  recipe: { lr: number; num_scales: number; target_ema: number; warmup_steps: number; batch_size: number };
  eval: Record<string, SamplerEval>;
  schedules: ReturnType<typeof scheduleRecords>;
  /** Its 1- and 4-step images of the evaluation set, for the pictures (kept; the caller disposes). */
  images: Map<string, torch.Tensor>;
}

export function scoreExtraStudent(
  path: string,
  set: EvalSet,
  heldOut: EvalSet,
  o: { device: string; guidance: number; batch: number; reference?: torch.Tensor; print: (l: string) => void },
): ExtraStudentScore {
  const s = loadStudent(path, { device: o.device });
  try {
    const net = { net: s.student, boundaryCondition: s.config.boundaryCondition };
    const tuned = tuneSchedules(s.model, net, heldOut, {
      guidance: o.guidance,
      batch: o.batch,
      samplers: BUNDLED_TUNED,
      onSampler: (n, candidates) => o.print(`demo:   ${bundledName(n)}: ${candidates} candidate schedules`),
    });
    const r = evaluate(s.model, net, set, {
      guidance: o.guidance,
      batch: o.batch,
      samplers: [...BUNDLED_SAMPLERS, ...BUNDLED_TUNED],
      schedules: Object.fromEntries(BUNDLED_TUNED.map((n) => [n, tuned[n].sigmas])),
      ...(o.reference ? { reference: o.reference } : {}),
      onSampler: (n) => o.print(`demo:   ${bundledName(n)}`),
    });
    const images = new Map<string, torch.Tensor>();
    for (const [n, t] of r.images) {
      if (n === 'student_1' || n === 'student_4') images.set(bundledName(n), t);
      else t.dispose();
    }
    const c = s.config;
    return {
      source: path,
      step: s.step,
      recipe: {
        lr: c.lr,
        num_scales: c.numScales,
        target_ema: c.targetEma,
        warmup_steps: c.warmupSteps,
        batch_size: c.batchSize * c.gradAccumulation,
      },
      eval: Object.fromEntries(Object.entries(r.eval).map(([n, e]) => [bundledName(n), e])),
      schedules: scheduleRecords(tuned, BUNDLED_TUNED, bundledName),
      images,
    };
  } finally {
    s.dispose();
  }
}
