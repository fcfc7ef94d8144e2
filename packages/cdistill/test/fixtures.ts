// Tiny random models for end-to-end tests: a manifest in a temp folder (random DiT and text tower,
// the reference tiny VAE: 32×32 images from 8×8×4 latents).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { generateDataset } from '../src/pipeline/generate.js';
import { referenceDir, vocabPath } from './util.js';

/** The tiny DiT of the end-to-end tests (upstream argument names): 8×8×4 latents, caption width 32. */
export const TINY_DIT_CONFIG = {
  input_size: 8,
  patch_size: 2,
  in_channels: 4,
  dim: 32,
  depth: 2,
  head_dim: 16,
  multiple_of: 32,
  caption_channels: 32,
  qkv_multipliers: [1.0],
  ffn_multipliers: [2.0],
  patch_mixer_depth: 1,
  patch_mixer_dim: 32,
  use_bias: false,
  num_experts: 2,
  expert_capacity: 2.0,
};

export function tinyModelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cdistill-model-'));
  writeFileSync(
    join(dir, 'cdistill-model.json'),
    JSON.stringify({
      name: 'tiny-random',
      dit: {
        weights: null,
        seed: 1,
        config: TINY_DIT_CONFIG,
      },
      text: {
        weights: null,
        seed: 2,
        vocab: vocabPath,
        config: { width: 32, heads: 2, layers: 1, context_length: 77, vocab_size: 49408, act: 'quick_gelu' },
      },
      vae: { folder: join(referenceDir, 'vae', 'vae_tiny') },
      sampling: { steps: 3, guidance: 5 },
    }),
  );
  return dir;
}

export const PROMPTS = [
  'a red circle on a gray background',
  'a blue square',
  'a green triangle at the top',
  'a cat',
  'a dog in the snow',
  'a tree',
];

/** A six-image teacher dataset of PROMPTS from a tiny model (2 Heun steps, CFG 5, seed 1), for training tests. */
export async function tinyDataset(model: string, out: string): Promise<void> {
  await generateDataset(
    {
      model,
      prompts: PROMPTS,
      out,
      steps: 2,
      guidance: 5,
      seed: 1,
      batch: 6,
      shard: { index: 0, count: 1 },
      device: 'cpu',
      dtype: 'float32',
      solver: 'heun',
      textDtype: 'float32',
    },
    () => {},
  );
}
