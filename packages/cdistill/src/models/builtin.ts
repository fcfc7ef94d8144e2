// Models known by name, so `--model microdit-xl-512` needs no manifest: the released MicroDiT
// checkpoints (VSehwag24/MicroDiT, all MicroDiT_XL_2 at 512 px: latent 64, pos_interp_scale 2) with the
// parts micro_diffusion builds them with: the DFN5B text tower from apple/DFN5B-CLIP-ViT-H-14-378's
// open_clip checkpoint, and the SDXL VAE (stable-diffusion-xl-base-1.0's vae/ folder) or, for the
// 16-channel model, ostris/vae-kl-f8-d16. Sampling defaults are micro_diffusion's: 30 Heun steps, CFG 5.
import type { Manifest } from './manifest.js';

const TEXT = {
  weights: 'hf://apple/DFN5B-CLIP-ViT-H-14-378/open_clip_pytorch_model.bin',
  preset: 'DFN5B-CLIP-ViT-H-14-378' as const,
  seed: 0,
};
const SDXL_VAE = { folder: 'hf://stabilityai/stable-diffusion-xl-base-1.0/vae' };
const OSTRIS_VAE = { folder: 'hf://ostris/vae-kl-f8-d16' };
const SAMPLING = { steps: 30, guidance: 5 };

function microdit(name: string, checkpoint: string, inChannels: 4 | 16): Manifest {
  return {
    name,
    dit: {
      weights: `hf://VSehwag24/MicroDiT/ckpts/${checkpoint}`,
      preset: 'MicroDiT_XL_2',
      presetOptions: { inputSize: 64, posInterpScale: 2.0, inChannels },
      seed: 0,
    },
    text: TEXT,
    vae: inChannels === 16 ? OSTRIS_VAE : SDXL_VAE,
    sampling: SAMPLING,
  };
}

export interface BuiltinModel {
  manifest: Manifest;
  about: string;
}

export const BUILTIN_MODELS: Readonly<Record<string, BuiltinModel>> = {
  'microdit-xl-512': {
    manifest: microdit('microdit-xl-512', 'dit_4_channel_0.5B_synthetic_data.pt', 4),
    about: "the seed's teacher: 490M synthetic images, SDXL VAE (FID 13.26, GenEval 0.52)",
  },
  'microdit-xl-512-37m': {
    manifest: microdit('microdit-xl-512-37m', 'dit_4_channel_37M_real_and_synthetic_data.pt', 4),
    about: '22M real + 15M synthetic images, SDXL VAE (FID 12.66, GenEval 0.46)',
  },
  'microdit-xl-512-22m-real': {
    manifest: microdit('microdit-xl-512-22m-real', 'dit_4_channel_22M_real_only_data.pt', 4),
    about: '22M real images, SDXL VAE (FID 12.72, GenEval 0.46)',
  },
  'microdit-xl-512-16ch-37m': {
    manifest: microdit('microdit-xl-512-16ch-37m', 'dit_16_channel_37M_real_and_synthetic_data.pt', 16),
    about: '22M real + 15M synthetic images, 16-channel Ostris VAE (FID 13.04, GenEval 0.40)',
  },
};

export const builtinNames = (): string[] => Object.keys(BUILTIN_MODELS);
