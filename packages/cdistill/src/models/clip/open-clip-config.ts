// OpenCLIP's model description as it ships beside a checkpoint (`open_clip_config.json` on the Hub:
// `{"model_cfg": {...}, "preprocess_cfg": {...}}`) → a ClipModelConfig. Defaults are OpenCLIP's
// dataclass defaults (CLIPVisionCfg, CLIPTextCfg, PreprocessCfg). Keys that would select math this
// port does not implement are refused unless they hold the value that means "the usual", so a
// config is never silently run with a different architecture.
import { z } from 'zod';

import { parseWith, readJsonWith } from '../../util/json.js';
import { validateClipTextConfig } from './config.js';
import { OPENAI_CLIP_PREPROCESS, validateClipVisionConfig, type ClipModelConfig } from './vision-config.js';

/** A key that may appear only with the value meaning the behaviour implemented here. */
const only = <T extends z.Primitive>(v: T, what: string) =>
  z.literal(v, { errorMap: () => ({ message: `only ${JSON.stringify(v)} is supported (${what})` }) }).optional();

const VisionCfg = z
  .object({
    image_size: z.number().int().positive().default(224),
    patch_size: z.number().int().positive().default(16),
    width: z.number().int().positive().default(768),
    layers: z.number().int().positive().default(12),
    head_width: z.number().int().positive().default(64),
    mlp_ratio: z.number().positive().default(4.0),
    // Inference ignores patch dropout (it only drops tokens while training).
    patch_dropout: z.number().min(0).max(1).optional(),
    ls_init_value: only(null, 'no layer scale'),
    attentional_pool: only(false, 'class-token pooling'),
    pool_type: only('tok', 'class-token pooling'),
    global_average_pool: only(false, 'class-token pooling'),
    final_ln_after_pool: only(false, 'ln_post before pooling'),
    no_ln_pre: only(false, 'ln_pre present'),
    pos_embed_type: only('learnable', 'learnable position embeddings'),
    output_tokens: z.boolean().optional(),
  })
  .strict();

const TextCfg = z
  .object({
    context_length: z.number().int().positive().default(77),
    vocab_size: z.number().int().positive().default(49408),
    width: z.number().int().positive().default(512),
    heads: z.number().int().positive().default(8),
    layers: z.number().int().positive().default(12),
    mlp_ratio: only(4, 'an MLP of 4 × width'),
    ls_init_value: only(null, 'no layer scale'),
    pool_type: only('argmax', 'pooling at the highest token id (EOT)'),
    proj_bias: only(false, 'a text projection without bias'),
    no_causal_mask: only(false, 'causal attention'),
    embed_cls: only(false, 'no class token'),
    final_ln_after_pool: only(false, 'ln_final before pooling'),
    output_tokens: z.boolean().optional(),
  })
  .strict();

const Triple = z.tuple([z.number(), z.number(), z.number()]);

export const OpenClipConfigSchema = z.object({
  model_cfg: z
    .object({
      embed_dim: z.number().int().positive(),
      quick_gelu: z.boolean().default(false),
      vision_cfg: VisionCfg,
      text_cfg: TextCfg,
      custom_text: only(false, 'the text tower at the checkpoint root'),
    })
    .strict(),
  preprocess_cfg: z
    .object({
      mean: Triple.default([...OPENAI_CLIP_PREPROCESS.mean]),
      std: Triple.default([...OPENAI_CLIP_PREPROCESS.std]),
      interpolation: only('bicubic', 'Pillow bicubic resampling'),
      resize_mode: z.enum(['shortest', 'squash']).default('shortest'),
      // Used only when resize_mode is "longest" (padding), which is refused above.
      fill_color: z.number().optional(),
    })
    .strict()
    .default({}),
});

/** Parses an open_clip_config.json value; `source` names it in every message. */
export function parseOpenClipConfig(raw: unknown, source: string): ClipModelConfig {
  const { model_cfg: m, preprocess_cfg: p } = parseWith(OpenClipConfigSchema, raw, source);
  const act = m.quick_gelu ? ('quick_gelu' as const) : ('gelu' as const);
  const t = m.text_cfg;
  const v = m.vision_cfg;
  const text = validateClipTextConfig(
    {
      width: t.width,
      heads: t.heads,
      layers: t.layers,
      contextLength: t.context_length,
      vocabSize: t.vocab_size,
      act,
      lnEps: 1e-5,
    },
    `${source}: model_cfg.text_cfg`,
  );
  const vision = validateClipVisionConfig(
    {
      imageSize: v.image_size,
      patchSize: v.patch_size,
      width: v.width,
      layers: v.layers,
      headWidth: v.head_width,
      mlpRatio: v.mlp_ratio,
      outputDim: m.embed_dim,
      act,
      lnEps: 1e-5,
    },
    `${source}: model_cfg.vision_cfg`,
  );
  return { text, vision, preprocess: { mean: p.mean, std: p.std, resizeMode: p.resize_mode }, embedDim: m.embed_dim };
}

/** Reads `open_clip_config.json` (or a case file holding the same object under `clip_config`). */
export function loadOpenClipConfig(path: string): ClipModelConfig {
  const raw = readJsonWith(z.object({ clip_config: z.unknown().optional() }).passthrough(), path, 'CLIP config');
  return parseOpenClipConfig(raw.clip_config ?? raw, path);
}
