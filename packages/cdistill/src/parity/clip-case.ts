// Parity of the CLIP text tower against a reference case produced by PyTorch/OpenCLIP:
// `<name>.json` (`config`, `texts`), weights `<name>.safetensors` or `<name>.pt`, and
// `<name>.io.safetensors` (`in.input_ids` [B, ctx] int64, `out.hidden_states` [B, ctx, width]).
import { existsSync } from 'node:fs';
import { basename } from 'node:path';

import { io, noGrad, tidy, type Tensor } from '@cdistill/torch';
import { z } from 'zod';

import { loadClipTextConfig } from '../models/clip/config.js';
import { ClipTextTower } from '../models/clip/text-tower.js';
import { ClipTokenizer } from '../models/clip/tokenizer.js';
import { readJsonWith } from '../util/json.js';
import { check, toleranceFor, type ParityCheck } from './checks.js';

/** The part of a CLIP case's JSON the tokenizer check reads. */
const TextsSchema = z.object({ texts: z.array(z.string()) });

export type { ParityCheck };

export interface ClipParityOptions {
  /** Weights file; default `<name>.safetensors`, else `<name>.pt`. */
  weightsPath?: string;
  device?: string;
  /** With the BPE vocabulary, also checks that the tokenizer turns the case's `texts` into `in.input_ids`. */
  vocabPath?: string;
}

export function runClipTextParityCase(
  jsonPath: string,
  dtype: 'float32' | 'float64' = 'float32',
  o: ClipParityOptions = {},
): ParityCheck[] {
  const base = jsonPath.replace(/\.json$/, '');
  const config = loadClipTextConfig(jsonPath);
  const weightsPath = o.weightsPath ?? [`${base}.safetensors`, `${base}.pt`].find((p) => existsSync(p));
  if (weightsPath === undefined)
    throw new Error(`${jsonPath}: no weights beside it (${base}.safetensors or ${base}.pt)`);
  const ioTensors = io.loadStateDictFile(`${base}.io.safetensors`);
  const tower = ClipTextTower.fromCheckpoint(weightsPath, config, { device: o.device, dtype });
  try {
    const ids = required(ioTensors, 'in.input_ids', base);
    const ref = required(ioTensors, 'out.hidden_states', base);
    const checks: ParityCheck[] = [];
    const name = basename(base);
    const ours = (): Tensor => tower.forward(ids.to(o.device ?? 'cpu'));
    checks.push(
      noGrad(() => tidy(() => check(`${name} ${dtype} out.hidden_states`, ours(), ref, toleranceFor(dtype)))),
    );
    if (o.vocabPath !== undefined) checks.push(tokenizerCheck(jsonPath, o.vocabPath, ids, config.contextLength, name));
    return checks;
  } finally {
    tower.dispose();
    for (const t of ioTensors.values()) t.dispose();
  }
}

// Token ids must match exactly: relErr is the fraction of differing ids.
function tokenizerCheck(
  jsonPath: string,
  vocabPath: string,
  ids: Tensor,
  contextLength: number,
  name: string,
): ParityCheck {
  const { texts } = readJsonWith(TextsSchema, jsonPath, 'tokenizer case');
  const ours = ClipTokenizer.fromFile(vocabPath).tokenize(texts, contextLength).flat();
  const ref = Array.from(ids.data<'int64'>(), Number);
  const differing =
    ours.length !== ref.length ? Math.max(ours.length, ref.length) : ours.filter((id, i) => id !== ref[i]).length;
  const relErr = differing / Math.max(ref.length, 1);
  return { check: `${name} tokenizer in.input_ids`, relErr, tol: 0, pass: relErr === 0 };
}

function required(m: Map<string, Tensor>, key: string, base: string): Tensor {
  const t = m.get(key);
  if (t === undefined) throw new Error(`${base}.io.safetensors: missing tensor '${key}'`);
  return t;
}
