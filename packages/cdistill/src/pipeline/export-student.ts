// `cdistill export-student`: a distilled student as a small folder to ship or bundle, without the
// run's target network, optimizer moments and RNG state (for MicroDiT_XL_2 those are three times the
// student's weights). The folder holds the student's weights (in the chosen precision) and
// cdistill-student.json: the teacher it was distilled from (the text encoder, codec and EDM constants
// it samples with), the run's config, and where it came from. `loadStudent` reads it as it reads a
// checkpoint, so sample, grid, bench and the demo take either.
import { existsSync, mkdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

import * as torch from '@cdistill/torch';

import { Checkpoint } from '../training/checkpoint.js';
import { CdCheckpointStateSchema } from '../training/config.js';
import { writeJsonAtomic } from '../util/fs.js';
import { withLock } from '../util/lock.js';
import {
  type ExportDType,
  resolveCheckpoint,
  STUDENT_MANIFEST,
  STUDENT_WEIGHTS,
  type StudentManifest,
} from './student.js';

export interface ExportOptions {
  /** A checkpoint folder, or a run folder for its latest checkpoint. */
  checkpoint: string;
  out: string;
  dtype: ExportDType;
  /** Export the run's EMA copy instead of the student itself. */
  ema: boolean;
}

/**
 * The teacher as the manifest should name it: relative to the export folder when it is a path, so
 * the two can move together (the bundled student beside the bundled teacher); a name as it is.
 */
function teacherRef(model: string, out: string): string {
  return existsSync(model) ? relative(resolve(out), resolve(model)) || '.' : model;
}

/** Writes the folder, holding its lock (a second export into it fails at once, naming the holder). */
export async function exportStudent(o: ExportOptions, print: (l: string) => void): Promise<StudentManifest> {
  mkdirSync(o.out, { recursive: true });
  return withLock(join(o.out, '.export.lock'), `student folder ${o.out}`, () => lockedExport(o, print));
}

function lockedExport(o: ExportOptions, print: (l: string) => void): StudentManifest {
  const dir = resolveCheckpoint(o.checkpoint);
  const ckpt = new Checkpoint(dir, CdCheckpointStateSchema);
  const copy = o.ema ? 'ema' : 'student';
  if (!ckpt.has(copy))
    throw new Error(`${join(dir, `${copy}.safetensors`)}: missing${o.ema ? ' (was the run trained with --ema?)' : ''}`);
  const manifest: StudentManifest = {
    teacher: teacherRef(ckpt.state.config.model, o.out),
    weights: STUDENT_WEIGHTS,
    dtype: o.dtype,
    step: ckpt.state.step,
    copy,
    config: ckpt.state.config,
  };
  torch.tidy(() => {
    const weights = ckpt.part(copy);
    torch.io.saveSafetensors(join(o.out, STUDENT_WEIGHTS), new Map([...weights].map(([k, t]) => [k, t.to(o.dtype)])));
  });
  // The manifest last: a folder without it is not an exported student, so a crash leaves none.
  writeJsonAtomic(join(o.out, STUDENT_MANIFEST), manifest);
  print(`export-student: ${dir} (${copy}, step ${manifest.step}) → ${o.out} (${o.dtype})`);
  return manifest;
}
