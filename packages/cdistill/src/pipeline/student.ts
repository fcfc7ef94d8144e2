// A trained student: its checkpoint folder (or a run folder → its latest checkpoint) plus the
// teacher model its run was trained from (for the text encoder, the codec and the config).
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import type * as torch from '@cdistill/torch';

import { loadModel, type TextToImageModel } from '../models/load.js';
import type { DiT } from '../models/microdit/index.js';
import { Checkpoint, latestCheckpoint } from '../training/checkpoint.js';
import { CdCheckpointStateSchema, type ResolvedTrainConfig } from '../training/config.js';
import { checkpointsOf } from './train.js';

export interface Student {
  model: TextToImageModel;
  student: DiT;
  checkpoint: string;
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
  const checkpoint = resolveCheckpoint(path);
  const ckpt = new Checkpoint(checkpoint, CdCheckpointStateSchema);
  const config = ckpt.state.config;
  const model = loadModel(config.model, { device: o.device, dtype: o.dtype ?? 'float32' });
  const student = model.dit.copy();
  if (config.guidanceEmbedding) student.enableGuidanceEmbedding();
  const part = o.useEma ? 'ema' : 'student';
  if (!ckpt.has(part))
    throw new Error(`${checkpoint}: no ${part}.safetensors${o.useEma ? ' (was the run trained with --ema?)' : ''}`);
  ckpt.loadInto(student, part, o.device);
  student.eval().requiresGrad_(false);
  return {
    model,
    student,
    checkpoint,
    config,
    guidance: config.guidance,
    embedded: config.guidanceEmbedding,
    dispose() {
      student.dispose();
      model.dispose();
    },
  };
}
