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
import { cachedHubPath } from '../hub/download.js';
import { isHubUri, parseHubUri } from '../hub/uri.js';
import { readJsonWith } from '../util/json.js';
import { BUILTIN_MODELS, builtinNames } from './builtin.js';

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
  .refine((d) => (d.preset === undefined) !== (d.config === undefined), {
    message: 'give exactly one of "preset" and "config"',
  });

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
  .refine((d) => (d.preset === undefined) !== (d.config === undefined), {
    message: 'give exactly one of "preset" and "config"',
  });

const VAE_CHOICES =
  '"identity" (the DiT works in pixel space) or {"folder": "<a diffusers AutoencoderKL folder, relative, absolute or hf://>"}';
const VaePart = z.union([z.literal('identity'), z.object({ folder: z.string() }).strict()], {
  errorMap: (_issue, ctx) => ({
    message: ctx.data === undefined ? `missing; give ${VAE_CHOICES}` : `expected ${VAE_CHOICES}`,
  }),
});

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
  if (!existsSync(path)) {
    const looksLikeName = !/[\\/]/.test(path) && !path.endsWith('.json');
    if (looksLikeName)
      throw new Error(
        `${path}: no such model: not a file or folder, and not a built-in model (${builtinNames().join(', ')})`,
      );
    throw new Error(`${path}: no such model file or folder`);
  }
  return statSync(path).isDirectory() ? join(path, MANIFEST_FILE) : path;
}

/**
 * A model by built-in name or by manifest (a file, or a folder holding cdistill-model.json). `file` names
 * it in messages; `dir` is where its relative paths start.
 */
export function readManifest(spec: string): { manifest: Manifest; dir: string; file: string } {
  const builtin = BUILTIN_MODELS[spec];
  if (builtin)
    return { manifest: ManifestSchema.parse(builtin.manifest), dir: process.cwd(), file: `built-in model ${spec}` };
  const file = manifestPath(spec);
  if (!existsSync(file)) throw new Error(`${spec}: no ${MANIFEST_FILE} in this folder`);
  return { manifest: readJsonWith(ManifestSchema, file, 'model manifest'), dir: dirname(resolve(file)), file };
}

/**
 * A manifest path as a local path: relative ones against the manifest's folder; hf:// ones in the
 * Hugging Face cache (hub/), which `cdistill download` (or any command taking --model) fills first.
 */
export function partPath(dir: string, p: string): string {
  if (isHubUri(p)) {
    const local = cachedHubPath(parseHubUri(p));
    if (local === undefined)
      throw new Error(
        `${p}: not downloaded yet: run \`cdistill download <model>\` (it goes to the Hugging Face cache)`,
      );
    return local;
  }
  return isAbsolute(p) ? p : join(dir, p);
}

/** Where a manifest names something on the Hub: a file, or a folder of which only some files are needed. */
export interface HubPart {
  key: string;
  uri: string;
  folderFiles?: readonly string[];
}

/** The files a diffusers AutoencoderKL folder needs (not the .bin or fp16 copies beside them). */
export const VAE_FOLDER_FILES = ['config.json', 'diffusion_pytorch_model.safetensors'] as const;

export function hubParts(m: Manifest): HubPart[] {
  const out: HubPart[] = [];
  if (m.dit.weights && isHubUri(m.dit.weights)) out.push({ key: 'dit.weights', uri: m.dit.weights });
  if (m.text.weights && isHubUri(m.text.weights)) out.push({ key: 'text.weights', uri: m.text.weights });
  if (m.text.vocab && isHubUri(m.text.vocab)) out.push({ key: 'text.vocab', uri: m.text.vocab });
  if (m.vae !== 'identity' && isHubUri(m.vae.folder))
    out.push({ key: 'vae.folder', uri: m.vae.folder, folderFiles: VAE_FOLDER_FILES });
  return out;
}

/**
 * The CLIP BPE vocabulary a manifest names: the file beside the manifest (or an absolute path) when it
 * exists; otherwise, for the standard file name (or none given), the copy the package ships.
 */
export function vocabPath(dir: string, p: string | undefined): string {
  if (p === undefined) return BUNDLED_VOCAB;
  if (isHubUri(p)) return partPath(dir, p);
  const own = partPath(dir, p);
  if (existsSync(own)) return own;
  if (basename(p) === VOCAB_NAME) return BUNDLED_VOCAB;
  throw new Error(`${own}: no such vocabulary file (name none, or ${VOCAB_NAME}, for the bundled CLIP vocabulary)`);
}
