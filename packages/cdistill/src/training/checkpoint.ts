// Training checkpoints: RUN_DIR/checkpoints/step-NNNNNN/ holds the student, the optional target
// and EMA networks, the optimizer moments, the RNG state and a state.json (step, sampler position,
// optimizer scalars). The folder is written under a temporary name and renamed, then latest.json is
// replaced atomically, so a crash at any moment leaves the previous checkpoint intact.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';

import { writeJsonAtomic } from '../util/fs.js';

export interface CheckpointState {
  step: number;
  sampler: { epoch: number; offset: number };
  optimizer: torch.optim.AdamWMeta;
  /** The resolved config the run was started with (resume refuses a different one). */
  config: unknown;
}

export interface CheckpointTensors {
  student: Map<string, torch.Tensor>;
  target?: Map<string, torch.Tensor>;
  ema?: Map<string, torch.Tensor>;
  optimizer: Map<string, torch.Tensor>;
  rng: torch.Tensor;
}

export const stepDirName = (step: number) => `step-${String(step).padStart(6, '0')}`;

export function saveCheckpoint(runDir: string, state: CheckpointState, t: CheckpointTensors): string {
  const root = join(runDir, 'checkpoints');
  const final = join(root, stepDirName(state.step));
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  torch.io.saveSafetensors(join(tmp, 'student.safetensors'), t.student);
  if (t.target) torch.io.saveSafetensors(join(tmp, 'target.safetensors'), t.target);
  if (t.ema) torch.io.saveSafetensors(join(tmp, 'ema.safetensors'), t.ema);
  torch.io.saveSafetensors(join(tmp, 'optimizer.safetensors'), t.optimizer);
  torch.io.saveSafetensors(join(tmp, 'rng.safetensors'), { train: t.rng });
  writeJsonAtomic(join(tmp, 'state.json'), state);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  writeJsonAtomic(join(root, 'latest.json'), { step: state.step, dir: stepDirName(state.step) });
  return final;
}

/** The checkpoint folder latest.json points at, or undefined for a fresh run. */
export function latestCheckpoint(runDir: string): string | undefined {
  const pointer = join(runDir, 'checkpoints', 'latest.json');
  if (!existsSync(pointer)) return undefined;
  const { dir } = JSON.parse(readFileSync(pointer, 'utf8')) as { dir: string };
  const path = join(runDir, 'checkpoints', dir);
  if (!existsSync(join(path, 'state.json'))) throw new Error(`${pointer}: points at ${path}, which is incomplete`);
  return path;
}

export function readCheckpointState(dir: string): CheckpointState {
  return JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as CheckpointState;
}

export function loadCheckpointPart(dir: string, part: 'student' | 'target' | 'ema' | 'optimizer' | 'rng', device?: string): Map<string, torch.Tensor> | undefined {
  const file = join(dir, `${part}.safetensors`);
  return existsSync(file) ? torch.io.loadSafetensors(file, { device }) : undefined;
}
