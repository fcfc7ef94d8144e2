// CLIP features of image files and prompts for the metrics: the model loaded once, images decoded and
// preprocessed as OpenCLIP does, encoded in batches (float32 on the CPU, bfloat16 on CUDA) with a
// progress bar. Features come back as float32 [N, embedDim] on the CPU, not unit-normalised: the
// image tower's output, as clean-fid's CLIP feature mode takes it; CLIP score normalises itself.
import { readdirSync } from 'node:fs';
import { extname, join } from 'node:path';

import * as torch from '@cdistill/torch';

import { BUNDLED_VOCAB } from '../assets.js';
import { ClipModel } from '../models/clip/clip-model.js';
import { resolveClip, type ClipSource } from '../models/clip/clip-source.js';
import { clipPixels } from '../models/clip/preprocess.js';
import { ClipTokenizer } from '../models/clip/tokenizer.js';
import { type FeatureOptions, inBatches } from './feature-batches.js';
import { IMAGE_FORMATS, readRgb8 } from './images.js';

export type { FeatureOptions } from './feature-batches.js';

/** The image files of a folder (the extensions cdistill writes), in natural name order. */
export function imageFilesIn(dir: string): string[] {
  const files = readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && extname(e.name).toLowerCase() in IMAGE_FORMATS)
    .map((e) => e.name)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (files.length === 0) throw new Error(`${dir}: no images (${Object.keys(IMAGE_FORMATS).join(', ')})`);
  return files.map((f) => join(dir, f));
}

export class ClipFeaturizer {
  private constructor(
    readonly source: ClipSource,
    readonly model: ClipModel,
    readonly tokenizer: ClipTokenizer,
    readonly o: FeatureOptions,
  ) {}

  get dtype(): torch.DType {
    return this.o.device.startsWith('cuda') ? 'bfloat16' : 'float32';
  }

  /** `spec`: a CLIP folder or hf:// repository (models/clip/clip-source.ts). */
  static async load(spec: string, o: FeatureOptions): Promise<ClipFeaturizer> {
    const source = await resolveClip(spec, { quiet: o.quiet });
    const dtype = o.device.startsWith('cuda') ? 'bfloat16' : 'float32';
    const model = ClipModel.fromCheckpoint(source.weights, source.config, { device: o.device, dtype });
    return new ClipFeaturizer(source, model, ClipTokenizer.fromFile(BUNDLED_VOCAB), o);
  }

  /** Image files → features [N, embedDim] (float32, CPU). */
  async imageFeatures(paths: readonly string[], label = 'CLIP image features'): Promise<torch.Tensor> {
    const { imageSize } = this.source.config.vision;
    return inBatches(paths, this.o, label, 'img', async (chunk) => {
      const images = await Promise.all(chunk.map((p) => readRgb8(p)));
      return torch.tidy(() => {
        const px = clipPixels(images, imageSize, this.source.config.preprocess, {
          dtype: this.dtype,
          device: this.o.device,
        });
        return this.model.encodeImage(px).toOptions({ dtype: 'float32', device: 'cpu' });
      });
    });
  }

  /** Prompts → text features [N, embedDim] (float32, CPU), tokenized with the model's context length. */
  async textFeatures(prompts: readonly string[]): Promise<torch.Tensor> {
    const ctx = this.source.config.text.contextLength;
    return inBatches(prompts, this.o, 'CLIP text features', 'prompts', async (chunk) =>
      torch.tidy(() => {
        const ids = torch.tensor(this.tokenizer.tokenizeInt32(chunk, ctx), {
          dtype: 'int64',
          shape: [chunk.length, ctx],
          device: this.o.device,
        });
        return this.model.encodeText(ids).toOptions({ dtype: 'float32', device: 'cpu' });
      }),
    );
  }

  dispose(): void {
    this.model.dispose();
  }
}
