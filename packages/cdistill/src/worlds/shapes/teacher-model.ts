// The embedded default's teacher architecture: a small MicroDiT in pixel space (32×32 RGB, patch 4
// → 64 tokens, expert-choice MoE in every 2nd block as upstream) and a small CLIP-architecture text
// tower read through the real CLIP tokenizer (context 32: the world's captions are under 20 tokens).
// σ_data is 0.5 here: pixels in [−1, 1] have about that spread, unlike SDXL latents (0.9).
import type { Manifest } from '../../models/manifest.js';

export const SHAPES_TEXT_CONFIG = {
  width: 64,
  heads: 2,
  layers: 2,
  context_length: 32,
  vocab_size: 49408,
  act: 'quick_gelu',
};

export const SHAPES_DIT_CONFIG = {
  input_size: 32,
  patch_size: 4,
  in_channels: 3,
  dim: 128,
  depth: 4,
  head_dim: 32,
  multiple_of: 32,
  caption_channels: 64,
  qkv_multipliers: [1.0],
  ffn_multipliers: [4.0],
  use_patch_mixer: true,
  patch_mixer_depth: 1,
  patch_mixer_dim: 128,
  use_bias: false,
  num_experts: 4,
  expert_capacity: 2.0,
  experts_every_n: 2,
};

/**
 * Training σ ~ logN(0.5, 1.5²) instead of micro_diffusion's logN(−0.6, 1.2²): on 32-px scenes colour and
 * position are decided at σ ≈ 2–20, which the upstream distribution visits in 14% of steps (0.3% above
 * 20); this one in 45%. Measured on the first shapes world: colour 25% → 85% within 1,000 steps of switching.
 */
export const SHAPES_EDM = { sigmaData: 0.5, pMean: 0.5, pStd: 1.5 };

/** The manifest of an untrained shapes teacher (seeded random weights; the bundled vocabulary unless `vocab` names one). */
export function shapesTeacherManifest(seed = 0, vocab?: string): Manifest {
  return {
    name: 'shapes-teacher',
    dit: { weights: null, config: SHAPES_DIT_CONFIG, seed },
    text: { weights: null, config: SHAPES_TEXT_CONFIG, ...(vocab !== undefined ? { vocab } : {}), seed: seed + 1 },
    vae: 'identity',
    edm: SHAPES_EDM,
    // CFG 2: the best named × coverage at 30 Heun steps on the 35,000-step teacher (0.813 vs 0.801 at
    // 3: valid 89.1% vs 90.2%, coverage 91.3% vs 88.8%) and on the 25,000-step one (0.779 vs 0.740);
    // 4 loses both there, as 4 and 5 did on the 15,000-step teacher (docs/demo.md).
    sampling: { steps: 30, guidance: 2 },
  };
}
