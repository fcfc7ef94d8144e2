// FID Inception features of image files (models/inception/): decoded to 8-bit RGB, resized to 299
// bilinearly, 2048-d pool features in float32 on the CPU. Float32 on every device: FID is a
// difference of large statistics, and the published numbers it is compared with are float32.
import type * as torch from '@cdistill/torch';

import { FidInceptionV3, inceptionPixels } from '../models/inception/index.js';
import { type FeatureOptions, inBatches } from './feature-batches.js';
import { readRgb8 } from './images.js';

export class InceptionFeaturizer {
  private constructor(
    readonly weights: string,
    readonly model: FidInceptionV3,
    readonly o: FeatureOptions,
  ) {}

  /** `weights`: pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or the same state dict as .pt/.safetensors). */
  static load(weights: string, o: FeatureOptions): InceptionFeaturizer {
    return new InceptionFeaturizer(weights, FidInceptionV3.fromCheckpoint(weights, { device: o.device }), o);
  }

  /** Image files → features [N, 2048] (float32, CPU). */
  imageFeatures(paths: readonly string[], label = 'Inception features'): Promise<torch.Tensor> {
    return inBatches(paths, this.o, label, 'img', async (chunk) => {
      const images = await Promise.all(chunk.map((p) => readRgb8(p)));
      const px = inceptionPixels(images, { device: this.o.device });
      try {
        const f = this.model.features(px);
        const cpu = f.toOptions({ device: 'cpu' });
        if (cpu !== f) f.dispose();
        return cpu;
      } finally {
        px.dispose();
      }
    });
  }

  dispose(): void {
    this.model.dispose();
  }
}
