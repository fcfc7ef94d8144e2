// Checkpoints of both trainers: <root>/step-NNNNNN/ holds one <part>.safetensors per named part
// (weights, EMA copies, optimizer moments, RNG state) and state.json (the step and what the trainer needs
// to resume, validated by its schema). The folder is written under a temporary name and renamed, then
// latest.json is replaced atomically, so a crash at any moment leaves the previous checkpoint intact.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';
import { z } from 'zod';

import { writeJsonAtomic } from '../util/fs.js';
import { readJsonWith } from '../util/json.js';

export const stepDirName = (step: number) => `step-${String(step).padStart(6, '0')}`;

/** Named tensor maps; an undefined part is not written (e.g. no EMA copy in this run). */
export type CheckpointParts = Record<string, Map<string, torch.Tensor> | undefined>;

export const AdamWMetaSchema = z
  .object({
    step: z.number().int().nonnegative(),
    lr: z.number(),
    betas: z.tuple([z.number(), z.number()]),
    eps: z.number(),
    weightDecay: z.number(),
  })
  .strict();

const LatestSchema = z
  .object({ step: z.number().int().nonnegative(), dir: z.string().regex(/^step-\d{6,}$/) })
  .strict();

export interface SaveOptions {
  /** Remove older step folders once the new one is in place (a teacher keeps only its last). */
  keepOnlyLatest?: boolean;
}

export function saveCheckpoint(
  root: string,
  step: number,
  parts: CheckpointParts,
  state: Record<string, unknown>,
  o: SaveOptions = {},
): string {
  const final = join(root, stepDirName(step));
  const tmp = `${final}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [name, tensors] of Object.entries(parts))
    if (tensors) torch.io.saveSafetensors(join(tmp, `${name}.safetensors`), tensors);
  writeJsonAtomic(join(tmp, 'state.json'), { step, ...state });
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  writeJsonAtomic(join(root, 'latest.json'), { step, dir: stepDirName(step) });
  if (o.keepOnlyLatest) {
    for (const d of readdirSync(root))
      if (/^step-\d+$/.test(d) && d !== stepDirName(step)) rmSync(join(root, d), { recursive: true, force: true });
  }
  return final;
}

/** The checkpoint folder latest.json points at, or undefined for a fresh run. */
export function latestCheckpoint(root: string): string | undefined {
  const pointer = join(root, 'latest.json');
  if (!existsSync(pointer)) return undefined;
  const { dir } = readJsonWith(LatestSchema, pointer, 'checkpoint pointer');
  const path = join(root, dir);
  if (!existsSync(join(path, 'state.json')))
    throw new Error(`${pointer}: points at ${path}, which is incomplete (no state.json)`);
  return path;
}

/** One checkpoint folder, read back: its validated state and its parts by name. */
export class Checkpoint<S extends z.ZodTypeAny> {
  readonly state: z.infer<S>;
  constructor(
    readonly dir: string,
    schema: S,
  ) {
    this.state = readJsonWith(schema, join(dir, 'state.json'), 'checkpoint state');
  }

  has(part: string): boolean {
    return existsSync(join(this.dir, `${part}.safetensors`));
  }

  /** A part that must be there; its absence is named, with what to do. */
  part(part: string, device?: string): Map<string, torch.Tensor> {
    const file = join(this.dir, `${part}.safetensors`);
    if (!existsSync(file)) {
      throw new Error(
        `${file}: missing, so this checkpoint is incomplete; resume from an earlier checkpoint (point ${join(this.dir, '..', 'latest.json')} at it) or start a new run`,
      );
    }
    return torch.io.loadSafetensors(file, device === undefined ? {} : { device });
  }

  /** One tensor of a part (the RNG state). */
  tensor(part: string, name: string): torch.Tensor {
    const m = this.part(part);
    const t = m.get(name);
    if (t === undefined) throw new Error(`${join(this.dir, `${part}.safetensors`)}: no tensor '${name}'`);
    for (const [k, v] of m) if (k !== name) v.dispose();
    return t;
  }

  /** Loads a part into a module (strict), freeing the loaded tensors. */
  loadInto(module: torch.nn.Module, part: string, device?: string): void {
    const sd = this.part(part, device);
    try {
      module.loadStateDict(sd);
    } catch (e) {
      const file = join(this.dir, `${part}.safetensors`);
      if (e instanceof torch.nn.StateDictError)
        throw new torch.nn.StateDictError(`${file}: ${e.message}`, e.missing, e.unexpected, e.mismatched);
      throw new Error(`${file}: ${(e as Error).message}`);
    } finally {
      for (const t of sd.values()) t.dispose();
    }
  }

  /** Restores an optimizer's scalars and moments from part `part`. */
  loadOptimizer(opt: torch.optim.AdamW, meta: torch.optim.AdamWMeta, part: string, device?: string): void {
    const sd = this.part(part, device);
    try {
      opt.loadState(meta, sd);
    } finally {
      for (const t of sd.values()) t.dispose();
    }
  }
}

/** The options that differ between a stored config and this run's, as "key: stored → now" (keys in `ignore` may differ). */
export function configChanges(
  stored: Record<string, unknown>,
  now: Record<string, unknown>,
  ignore: readonly string[] = [],
): string[] {
  const keys = [...new Set([...Object.keys(stored), ...Object.keys(now)])].filter((k) => !ignore.includes(k));
  const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));
  return keys
    .filter((k) => JSON.stringify(stored[k]) !== JSON.stringify(now[k]))
    .map((k) => `${k}: ${show(stored[k])} → ${show(now[k])}`);
}
