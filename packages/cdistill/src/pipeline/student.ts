// A trained student: its checkpoint folder (or a run folder → its latest checkpoint, or a folder
// `cdistill export-student` wrote) plus the teacher model its run was trained from (for the text
// encoder, the codec and the config).
import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';

import * as torch from '@cdistill/torch';
import { z } from 'zod';

import { loadModel, type TextToImageModel } from '../models/load.js';
import type { DiT } from '../models/microdit/index.js';
import { Checkpoint, latestCheckpoint } from '../training/checkpoint.js';
import { CdCheckpointStateSchema, type ResolvedTrainConfig, ResolvedTrainConfigSchema } from '../training/config.js';
import { readJsonWith } from '../util/json.js';
import { checkpointsOf } from './train.js';

export interface Student {
  model: TextToImageModel;
  student: DiT;
  checkpoint: string;
  /** The optimizer step its weights are from. */
  step: number;
  config: ResolvedTrainConfig;
  /** The guidance weight the student was distilled at (or is told via its embedding). */
  guidance: number;
  embedded: boolean;
  dispose(): void;
}

export function resolveCheckpoint(path: string): string {
  if (!existsSync(path)) throw new Error(`${path}: no such checkpoint or run folder`);
  if (existsSync(join(path, 'state.json'))) return path;
  if (statSync(path).isDirectory()) {
    const latest = latestCheckpoint(checkpointsOf(path));
    if (latest) return latest;
  }
  throw new Error(`${path}: not a checkpoint folder (no state.json) nor a run folder with checkpoints/latest.json`);
}

export function loadStudent(path: string, o: { device: string; dtype?: torch.DType; useEma?: boolean }): Student {
  if (isExportedStudent(path)) return loadExportedStudent(path, o);
  const checkpoint = resolveCheckpoint(path);
  const ckpt = new Checkpoint(checkpoint, CdCheckpointStateSchema);
  const config = ckpt.state.config;
  const part = o.useEma ? 'ema' : 'student';
  if (!ckpt.has(part))
    throw new Error(`${checkpoint}: no ${part}.safetensors${o.useEma ? ' (was the run trained with --ema?)' : ''}`);
  return withTeacher(config.model, { config, checkpoint, step: ckpt.state.step }, o, (student) =>
    ckpt.loadInto(student, part, o.device),
  );
}

/** The teacher loaded, and a copy of its DiT filled by `fill` as the student. */
function withTeacher(
  teacher: string,
  { config, checkpoint, step }: Pick<Student, 'config' | 'checkpoint' | 'step'>,
  o: { device: string; dtype?: torch.DType },
  fill: (student: DiT) => void,
): Student {
  const model = loadModel(teacher, { device: o.device, dtype: o.dtype ?? 'float32' });
  const student = model.dit.copy();
  if (config.guidanceEmbedding) student.enableGuidanceEmbedding();
  fill(student);
  student.eval().requiresGrad_(false);
  return {
    model,
    student,
    checkpoint,
    step,
    config,
    guidance: config.guidance,
    embedded: config.guidanceEmbedding,
    dispose() {
      student.dispose();
      model.dispose();
    },
  };
}

function loadExportedStudent(dir: string, o: { device: string; dtype?: torch.DType; useEma?: boolean }): Student {
  const m = readStudentManifest(dir);
  if (o.useEma)
    throw new Error(
      `${join(dir, STUDENT_MANIFEST)}: an exported student holds one set of weights (${m.copy}); export the EMA copy with export-student --ema`,
    );
  return withTeacher(m.teacherSpec, { config: m.config, checkpoint: resolve(dir), step: m.step }, o, (student) => {
    // Stored in a lower precision to ship small; the student runs in the teacher's (loadStudent's dtype).
    const sd = torch.io.loadSafetensors(m.weightsPath, { device: o.device });
    try {
      const cast = new Map([...sd].map(([k, t]) => [k, t.to(o.dtype ?? 'float32')]));
      try {
        student.loadStateDict(cast);
      } catch (e) {
        throw new Error(`${m.weightsPath}: ${(e as Error).message}`);
      } finally {
        for (const t of cast.values()) t.dispose();
      }
    } finally {
      for (const t of sd.values()) t.dispose();
    }
  });
}

// ---- exported students (pipeline/export-student.ts writes them) ----

export const STUDENT_MANIFEST = 'cdistill-student.json';
export const STUDENT_WEIGHTS = 'student.safetensors';
export const EXPORT_DTYPES = ['float16', 'bfloat16', 'float32'] as const;
export type ExportDType = (typeof EXPORT_DTYPES)[number];

export const StudentManifestSchema = z
  .object({
    /** The teacher: a path relative to this folder, an absolute path, or a built-in model name. */
    teacher: z.string(),
    weights: z.string(),
    dtype: z.enum(EXPORT_DTYPES),
    /** The optimizer step the weights are from, and which copy (the student or its EMA). */
    step: z.number().int().nonnegative(),
    copy: z.enum(['student', 'ema']),
    /** The run's config as its checkpoint recorded it (model and data as they were on that machine). */
    config: ResolvedTrainConfigSchema,
  })
  .strict();
export type StudentManifest = z.infer<typeof StudentManifestSchema>;

export function isExportedStudent(dir: string): boolean {
  return existsSync(join(dir, STUDENT_MANIFEST));
}

/** An exported folder's manifest, with its teacher and weights resolved against the folder. */
export function readStudentManifest(dir: string): StudentManifest & { teacherSpec: string; weightsPath: string } {
  const file = join(dir, STUDENT_MANIFEST);
  const m = readJsonWith(StudentManifestSchema, file, 'exported student');
  const weightsPath = resolve(dir, m.weights);
  if (!existsSync(weightsPath)) throw new Error(`${file}: weights ${m.weights} not found (${weightsPath})`);
  // A name has no path separator; anything else is a path, relative to the folder unless absolute.
  const isPath = /[\\/]/.test(m.teacher) || m.teacher === '.' || m.teacher === '..';
  const teacherSpec = !isPath || isAbsolute(m.teacher) ? m.teacher : resolve(dir, m.teacher);
  if (isPath && !existsSync(teacherSpec))
    throw new Error(`${file}: teacher ${m.teacher} not found (${teacherSpec}); keep the student beside its teacher`);
  return { ...m, teacherSpec, weightsPath };
}
