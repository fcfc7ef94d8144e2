// Builds a text-to-image model (MicroDiT + text encoder + latent codec) from a manifest.
import { closeSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';

import * as torch from '@cdistill/torch';

import { MICRODIT_EDM, type EdmConfig } from '../diffusion/edm.js';
import { ClipTextEncoder } from './clip/encoder.js';
import { DFN5B_CLIP_VIT_H_14_378_TEXT, parseClipTextConfig, type ClipTextConfig } from './clip/config.js';
import { ClipTextTower } from './clip/text-tower.js';
import { readManifest, partPath, vocabPath, type Manifest } from './manifest.js';
import { DiT, parseDitConfig, PRESETS, type DiTConfig } from './microdit/index.js';
import { ClipTokenizer } from './clip/tokenizer.js';
import { AutoencoderKL, IdentityVae, type LatentCodec } from './vae/index.js';

export interface TextToImageModel {
  readonly name: string;
  readonly manifest: Manifest;
  /** The folder the manifest's relative paths start from. */
  readonly dir: string;
  readonly dit: DiT;
  readonly text: ClipTextEncoder;
  readonly codec: LatentCodec;
  readonly edm: EdmConfig;
  readonly device: string;
  /** The DiT's parameter dtype. */
  readonly dtype: torch.DType;
  /** Generated image side in pixels (DiT input size × codec downscale). */
  readonly imageSize: number;
  readonly defaults: { steps: number; guidance: number };
  /** Prompts → caption embeddings [B, 1, ctx, width] in the DiT's dtype. */
  encodePrompts(prompts: readonly string[]): torch.Tensor;
  /** Latents → images in [0, 1], [B, 3, H, W] float32 on the CPU (decoded image by image, see below). */
  decodeImages(latents: torch.Tensor): torch.Tensor;
  dispose(): void;
}

/**
 * Decoded one image at a time: the convolution kernels pick algorithms by batch size, and their float
 * rounding then differs in the last bits, enough to flip a pixel's 8-bit value; per-image decoding keeps
 * an image independent of the batch it was made in (the DiT's matmuls are row-wise and need no such care on CPU).
 */
function decodeEach(codec: LatentCodec, dtype: torch.DType, latents: torch.Tensor): torch.Tensor {
  return torch.noGrad(() =>
    torch.tidy(() => {
      const one = (i: number) => codec.toImage01(codec.decode(latents.narrow(0, i, 1).to(dtype)));
      return torch
        .cat(Array.from({ length: latents.size(0) }, (_, i) => one(i)))
        .toOptions({ dtype: 'float32', device: 'cpu' });
    }),
  );
}

export interface LoadOptions {
  device?: string;
  dtype?: torch.DType;
}

export function ditConfigOf(m: Manifest, source: string): DiTConfig {
  if (m.dit.preset !== undefined) return PRESETS[m.dit.preset](m.dit.presetOptions ?? {});
  return parseDitConfig(m.dit.config, `${source}: dit.config`);
}

export function textConfigOf(m: Manifest, source: string): ClipTextConfig {
  if (m.text.preset !== undefined) return { ...DFN5B_CLIP_VIT_H_14_378_TEXT };
  return parseClipTextConfig(m.text.config, `${source}: text.config`);
}

/** Prefixes a loading error with the file it came from (the engine names the keys). */
function fromFile<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof torch.nn.StateDictError)
      throw new torch.nn.StateDictError(`${file}: ${e.message}`, e.missing, e.unexpected, e.mismatched);
    throw e;
  }
}

export function loadModel(path: string, o: LoadOptions = {}): TextToImageModel {
  const { manifest: m, dir, file } = readManifest(path);
  const device = o.device ?? 'cpu';
  const dtype = o.dtype ?? 'float32';

  const ditCfg = ditConfigOf(m, file);
  const dit = new DiT(ditCfg, { device, dtype, generator: new torch.Generator(m.dit.seed) });
  if (m.dit.weights !== null) {
    const w = partPath(dir, m.dit.weights);
    fromFile(w, () => torch.tidy(() => dit.loadStateDict(torch.io.loadStateDictFile(w))));
  }
  dit.eval();

  const textCfg = textConfigOf(m, file);
  const tokenizer = ClipTokenizer.fromFile(vocabPath(dir, m.text.vocab));
  const tower =
    m.text.weights === null
      ? new ClipTextTower(textCfg, { device, dtype, generator: new torch.Generator(m.text.seed) })
      : ClipTextTower.fromCheckpoint(partPath(dir, m.text.weights), textCfg, { device, dtype });
  const text = new ClipTextEncoder(tokenizer, tower.eval().requiresGrad_(false));
  if (textCfg.width !== ditCfg.captionChannels) {
    throw new Error(
      `${file}: the text tower's width ${textCfg.width} differs from the DiT's caption_channels ${ditCfg.captionChannels}`,
    );
  }

  const codec: LatentCodec =
    m.vae === 'identity'
      ? new IdentityVae(ditCfg.inChannels)
      : AutoencoderKL.fromFolder(partPath(dir, m.vae.folder), { device, dtype });
  if (codec.latentChannels !== ditCfg.inChannels) {
    throw new Error(
      `${file}: the VAE has ${codec.latentChannels} latent channels but the DiT takes ${ditCfg.inChannels}`,
    );
  }
  return {
    name: m.name,
    manifest: m,
    dir,
    dit,
    text,
    codec,
    edm: { ...MICRODIT_EDM, ...(m.edm ?? {}) },
    device,
    dtype,
    imageSize: ditCfg.inputSize * codec.downscale,
    defaults: { steps: m.sampling?.steps ?? 30, guidance: m.sampling?.guidance ?? 5 },
    encodePrompts: (prompts) => torch.tidy(() => text.encode(prompts).to(dtype)),
    decodeImages: (latents) => decodeEach(codec, dtype, latents),
    dispose() {
      dit.dispose();
      tower.dispose();
      codec.dispose();
    },
  };
}

/** SHA-256 of a file, streamed (checkpoints may be gigabytes): identifies the weights in summaries. */
export function fileSha256(path: string): string {
  const hash = createHash('sha256');
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 22);
    for (let n = readSync(fd, buf, 0, buf.length, null); n > 0; n = readSync(fd, buf, 0, buf.length, null))
      hash.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}
