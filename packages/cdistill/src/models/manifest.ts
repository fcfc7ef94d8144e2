// A "model" for cdistill: a small JSON manifest (or a folder holding `cdistill-model.json`) naming
// the parts of a text-to-image diffusion model. Paths are relative to the manifest's folder.
//
//   { "name": "microdit-xl-512",
//     "dit":  { "weights": "dit_4_channel_0.5B_synthetic_data.pt", "preset": "MicroDiT_XL_2",
//               "presetOptions": { "inputSize": 64, "posInterpScale": 2.0 } },
//     "text": { "weights": "open_clip_pytorch_model.bin", "preset": "DFN5B-CLIP-ViT-H-14-378",
//               "vocab": "bpe_simple_vocab_16e6.txt.gz" },
//     "vae":  { "folder": "sdxl-vae" },
//     "sampling": { "steps": 30, "guidance": 5 } }
//
// `weights: null` builds seeded random weights (tests, benchmarks, teachers about to be trained).
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';

import { z } from 'zod';

import { BUNDLED_VOCAB, VOCAB_NAME } from '../assets.js';
import { readJsonWith } from '../util/json.js';

export { formatIssues } from '../util/json.js';

export const MANIFEST_FILE = 'cdistill-model.json';

const DitPart = z
  .object({
    weights: z.string().nullable(),
    preset: z.enum(['MicroDiT_Tiny_2', 'MicroDiT_XL_2']).optional(),
    presetOptions: z
      .object({
        inputSize: z.number().int().positive().optional(),
        inChannels: z.number().int().positive().optional(),
        posInterpScale: z.number().positive().optional(),
        captionChannels: z.number().int().positive().optional(),
      })
      .strict()
      .optional(),
    /** upstream DiT(...) arguments, snake_case, instead of a preset. */
    config: z.record(z.unknown()).optional(),
    seed: z.number().int().nonnegative().default(0),
  })
  .strict()
  .refine((d) => (d.preset === undefined) !== (d.config === undefined), { message: 'give exactly one of "preset" and "config"' });

const TextPart = z
  .object({
    weights: z.string().nullable(),
    preset: z.literal('DFN5B-CLIP-ViT-H-14-378').optional(),
    /** OpenCLIP text_cfg-like: width, heads, layers, context_length, vocab_size, act, ln_eps. */
    config: z.record(z.unknown()).optional(),
    /** The BPE merges; default (and whenever the file is named bpe_simple_vocab_16e6.txt.gz and not beside the manifest): the bundled copy. */
    vocab: z.string().optional(),
    seed: z.number().int().nonnegative().default(0),
  })
  .strict()
  .refine((d) => (d.preset === undefined) !== (d.config === undefined), { message: 'give exactly one of "preset" and "config"' });

const VaePart = z.union([z.literal('identity'), z.object({ folder: z.string() }).strict()]);

const EdmPart = z
  .object({
    sigmaData: z.number().positive(),
    sigmaMin: z.number().positive(),
    sigmaMax: z.number().positive(),
    rho: z.number().positive(),
    pMean: z.number(),
    pStd: z.number().positive(),
  })
  .partial()
  .strict();

export const ManifestSchema = z
  .object({
    name: z.string().default('model'),
    dit: DitPart,
    text: TextPart,
    vae: VaePart,
    edm: EdmPart.optional(),
    sampling: z.object({ steps: z.number().int().positive(), guidance: z.number() }).partial().strict().optional(),
  })
  .strict();

export type Manifest = z.infer<typeof ManifestSchema>;

/** The manifest path for a file or a model folder. */
export function manifestPath(path: string): string {
  if (!existsSync(path)) throw new Error(`${path}: no such model file or folder`);
  return statSync(path).isDirectory() ? join(path, MANIFEST_FILE) : path;
}

export function readManifest(path: string): { manifest: Manifest; dir: string; file: string } {
  const file = manifestPath(path);
  if (!existsSync(file)) throw new Error(`${path}: no ${MANIFEST_FILE} in this folder`);
  return { manifest: readJsonWith(ManifestSchema, file, 'model manifest'), dir: dirname(resolve(file)), file };
}

/** A manifest path made absolute against the manifest's folder. */
export function partPath(dir: string, p: string): string {
  return isAbsolute(p) ? p : join(dir, p);
}

/**
 * The CLIP BPE vocabulary a manifest names: the file beside the manifest (or an absolute path) when it
 * exists; otherwise, for the standard file name (or none given), the copy the package ships.
 */
export function vocabPath(dir: string, p: string | undefined): string {
  if (p === undefined) return BUNDLED_VOCAB;
  const own = partPath(dir, p);
  if (existsSync(own)) return own;
  if (basename(p) === VOCAB_NAME) return BUNDLED_VOCAB;
  throw new Error(`${own}: no such vocabulary file (name none, or ${VOCAB_NAME}, for the bundled CLIP vocabulary)`);
}
