// Configuration of an OpenCLIP ViT image tower, of OpenCLIP's image preprocessing, and of a whole
// CLIP model (both towers and the joint embedding width). Presets cite their upstream source.
import type { ClipTextActivation, ClipTextConfig } from './config.js';
import { DFN5B_CLIP_VIT_H_14_378_TEXT } from './config.js';

export interface ClipVisionConfig {
  /** Side of the (square) input image in pixels. */
  imageSize: number;
  /** Side of one patch: `conv1` has this kernel and stride. The grid is ⌊imageSize / patchSize⌋. */
  patchSize: number;
  width: number;
  layers: number;
  /** Width of one attention head (OpenCLIP's head_width); heads = width / headWidth. */
  headWidth: number;
  /** MLP hidden width over `width`. */
  mlpRatio: number;
  /** Columns of `proj`: the joint embedding width (OpenCLIP's embed_dim). */
  outputDim: number;
  act: ClipTextActivation;
  lnEps: number;
}

/** `shortest`: short side to imageSize, then a centre crop; `squash`: both sides to imageSize, no crop. */
export type ClipResizeMode = 'shortest' | 'squash';

export interface ClipPreprocessConfig {
  /** Per-channel mean and std of the normalisation, RGB. */
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  resizeMode: ClipResizeMode;
}

export interface ClipModelConfig {
  text: ClipTextConfig;
  vision: ClipVisionConfig;
  preprocess: ClipPreprocessConfig;
  /** Columns of `text_projection` and of `visual.proj`. */
  embedDim: number;
}

/** OpenAI CLIP's dataset statistics (open_clip constants OPENAI_DATASET_MEAN/STD), used by DFN5B too. */
export const OPENAI_CLIP_PREPROCESS: Readonly<ClipPreprocessConfig> = Object.freeze({
  mean: [0.48145466, 0.4578275, 0.40821073] as const,
  std: [0.26862954, 0.26130258, 0.27577711] as const,
  resizeMode: 'shortest' as const,
});

/**
 * The image tower of `hf-hub:apple/DFN5B-CLIP-ViT-H-14-378` (open_clip `ViT-H-14-378-quickgelu`:
 * vision_cfg image_size 378, patch_size 14, width 1280, layers 32, head_width 80 → 16 heads,
 * mlp_ratio 4 (the CLIPVisionCfg default), embed_dim 1024, quick_gelu; LayerNorm at PyTorch's eps).
 */
export const DFN5B_CLIP_VIT_H_14_378_VISION: Readonly<ClipVisionConfig> = Object.freeze({
  imageSize: 378,
  patchSize: 14,
  width: 1280,
  layers: 32,
  headWidth: 80,
  mlpRatio: 4,
  outputDim: 1024,
  act: 'quick_gelu',
  lnEps: 1e-5,
});

/**
 * The whole DFN5B model. Its preprocessing is open_clip's pretrained entry for that checkpoint
 * (pretrained.py `_VITH14_378.dfn5b`: bicubic, resize_mode "squash", the OpenAI mean and std): the
 * image is resized to 378×378 without keeping its aspect ratio. For square images, the only kind
 * cdistill generates, squash and shortest-side-plus-centre-crop give the same pixels.
 */
export const DFN5B_CLIP_VIT_H_14_378: Readonly<ClipModelConfig> = Object.freeze({
  text: DFN5B_CLIP_VIT_H_14_378_TEXT,
  vision: DFN5B_CLIP_VIT_H_14_378_VISION,
  preprocess: Object.freeze({ ...OPENAI_CLIP_PREPROCESS, resizeMode: 'squash' as const }),
  embedDim: 1024,
});

export const CLIP_PRESETS = { 'DFN5B-CLIP-ViT-H-14-378': DFN5B_CLIP_VIT_H_14_378 } as const;
export type ClipPresetName = keyof typeof CLIP_PRESETS;

export function visionHeads(c: ClipVisionConfig): number {
  return c.width / c.headWidth;
}

/** Number of tokens the tower sees: the class token plus one per patch. */
export function visionTokens(c: ClipVisionConfig): number {
  const grid = Math.floor(c.imageSize / c.patchSize);
  return grid * grid + 1;
}

/** Throws unless the numbers describe a buildable tower; `source` prefixes every message. */
export function validateClipVisionConfig(c: ClipVisionConfig, source = 'ClipVisionConfig'): ClipVisionConfig {
  for (const k of ['imageSize', 'patchSize', 'width', 'layers', 'headWidth', 'outputDim'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 1)
      throw new Error(`${source}: ${k} must be a positive integer (got ${String(c[k])})`);
  }
  if (c.patchSize > c.imageSize)
    throw new Error(`${source}: patchSize ${c.patchSize} is larger than imageSize ${c.imageSize}`);
  if (c.width % c.headWidth !== 0)
    throw new Error(`${source}: width ${c.width} is not divisible by headWidth ${c.headWidth}`);
  // OpenCLIP truncates width · mlp_ratio to an integer; it must leave at least one hidden unit.
  if (!(Number.isFinite(c.mlpRatio) && Math.trunc(c.width * c.mlpRatio) >= 1))
    throw new Error(`${source}: mlpRatio must give a hidden width ≥ 1 (got ${String(c.mlpRatio)})`);
  if (c.act !== 'quick_gelu' && c.act !== 'gelu')
    throw new Error(`${source}: act must be 'quick_gelu' or 'gelu' (got ${JSON.stringify(c.act)})`);
  if (!(c.lnEps > 0 && Number.isFinite(c.lnEps)))
    throw new Error(`${source}: lnEps must be a positive number (got ${String(c.lnEps)})`);
  return c;
}
