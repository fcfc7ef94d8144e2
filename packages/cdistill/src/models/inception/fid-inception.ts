// The FID Inception-v3 (pytorch-fid's `pt_inception-2015-12-05-6726825d.pth`, the network of
// clean-fid's "legacy_pytorch" mode and of torch-fidelity): 8-bit RGB images → 2048-d features from
// the final global average pool. Module names are torchvision's Inception3, so the published state
// dict loads as it is; its classifier (`fc`, 1008 classes) is not used and not loaded.
import * as torch from '@cdistill/torch';

import type { Rgb8Image } from '../clip/resample.js';
import { runSteps } from '../steps.js';
import { BasicConv2d, InceptionA, InceptionB, InceptionC, InceptionD, InceptionE } from './blocks.js';

const { nn } = torch;
type Tensor = torch.Tensor;

/** The network's input size: every image is resized to it. */
export const FID_INCEPTION_SIZE = 299;
/** The features of the published network (the last pool's channels). */
export const FID_INCEPTION_FEATURES = 2048;
/** Keys of the published checkpoint that feature extraction does not use. */
const UNUSED_KEY = /^(fc|AuxLogits)\./;
const FIRST_CONV = 'Conv2d_1a_3x3.conv.weight';
/** Divisors that keep every channel count of the network an integer. */
const WIDTH_DIVISORS = [1, 2, 4, 8, 16];

export interface InceptionOptions {
  device?: string;
  dtype?: torch.DType;
}

export class FidInceptionV3 extends nn.Module {
  private readonly stem: BasicConv2d[];
  private readonly stem2: BasicConv2d[];
  private readonly mixed: { forward(x: Tensor): Tensor }[];

  /** `widthDivisor` 1 is the published network; larger ones divide every channel count (tests). */
  constructor(
    readonly widthDivisor: number,
    o: InceptionOptions = {},
  ) {
    super();
    if (!WIDTH_DIVISORS.includes(widthDivisor))
      throw new Error(`FID Inception: width divisor ${widthDivisor} is not one of ${WIDTH_DIVISORS.join(', ')}`);
    const d = widthDivisor;
    const p = { device: o.device, dtype: o.dtype ?? 'float32' };
    const conv = (name: string, ...a: [number, number, number, { stride?: number; padding?: number }?]) =>
      this.module(name, new BasicConv2d(a[0], a[1], a[2], p, a[3]));
    this.stem = [
      conv('Conv2d_1a_3x3', 3, 32 / d, 3, { stride: 2 }),
      conv('Conv2d_2a_3x3', 32 / d, 32 / d, 3),
      conv('Conv2d_2b_3x3', 32 / d, 64 / d, 3, { padding: 1 }),
    ];
    this.stem2 = [conv('Conv2d_3b_1x1', 64 / d, 80 / d, 1), conv('Conv2d_4a_3x3', 80 / d, 192 / d, 3)];
    const blocks: [string, torch.nn.Module & { forward(x: Tensor): Tensor }][] = [
      ['Mixed_5b', new InceptionA(192 / d, 32 / d, d, p)],
      ['Mixed_5c', new InceptionA(256 / d, 64 / d, d, p)],
      ['Mixed_5d', new InceptionA(288 / d, 64 / d, d, p)],
      ['Mixed_6a', new InceptionB(288 / d, d, p)],
      ['Mixed_6b', new InceptionC(768 / d, 128 / d, d, p)],
      ['Mixed_6c', new InceptionC(768 / d, 160 / d, d, p)],
      ['Mixed_6d', new InceptionC(768 / d, 160 / d, d, p)],
      ['Mixed_6e', new InceptionC(768 / d, 192 / d, d, p)],
      ['Mixed_7a', new InceptionD(768 / d, d, p)],
      ['Mixed_7b', new InceptionE(1280 / d, d, 'tf-average', p)],
      ['Mixed_7c', new InceptionE(2048 / d, d, 'max', p)],
    ];
    this.mixed = blocks.map(([name, m]) => this.module(name, m));
  }

  get featureSize(): number {
    return FID_INCEPTION_FEATURES / this.widthDivisor;
  }

  /** Pixels [N, 3, 299, 299] in [−1, 1] (see {@link inceptionPixels}) → features [N, 2048/d]. */
  features(pixels: Tensor): Tensor {
    const pool = (x: Tensor) => torch.maxPool2d(x, 3, { stride: 2 });
    const layer = (m: { forward(x: Tensor): Tensor }) => (x: Tensor) => m.forward(x);
    return torch.noGrad(() =>
      runSteps(pixels, [
        ...this.stem.map(layer),
        pool,
        ...this.stem2.map(layer),
        pool,
        ...this.mixed.map(layer),
        (x) => x.mean([2, 3]),
      ]),
    );
  }

  /**
   * Reads a state dict (.pth/.pt in either torch.save format, or .safetensors) with the published
   * keys; the width divisor is read from the first convolution's shape. Every key of the network
   * must be present with its shape; `fc.*` and `AuxLogits.*` are ignored; anything else is refused.
   */
  static fromCheckpoint(path: string, o: InceptionOptions = {}): FidInceptionV3 {
    const sd = torch.io.loadStateDictFile(path);
    try {
      const first = sd.get(FIRST_CONV);
      if (first === undefined) throw new Error(`${path}: not an FID Inception-v3 state dict (no '${FIRST_CONV}')`);
      const out = first.size(0);
      const d = 32 / out;
      if (!WIDTH_DIVISORS.includes(d))
        throw new Error(
          `${path}: '${FIRST_CONV}' has ${out} output channels; the FID Inception has 32 (or 32/d for d in ${WIDTH_DIVISORS.join(', ')})`,
        );
      const model = new FidInceptionV3(d, o);
      try {
        const used = new Map([...sd].filter(([k]) => !UNUSED_KEY.test(k)));
        torch.noGrad(() => model.loadStateDict(used, { strict: true }));
      } catch (err) {
        model.dispose();
        if (err instanceof nn.StateDictError)
          throw new Error(`${path}: FID Inception-v3 weights do not match: ${err.message}`);
        throw err;
      }
      return model.eval().requiresGrad_(false);
    } finally {
      for (const t of sd.values()) t.dispose();
    }
  }
}

/**
 * 8-bit RGB images of any sizes → pixels [N, 3, 299, 299] in [−1, 1]: each image scaled to [0, 1],
 * resized bilinearly (align_corners False, no antialiasing: F.interpolate's default, as pytorch-fid
 * resizes), then mapped to [−1, 1].
 */
export function inceptionPixels(images: readonly Rgb8Image[], o: InceptionOptions = {}): Tensor {
  const dtype = o.dtype ?? 'float32';
  return torch.tidy(() =>
    torch.cat(
      images.map((img) => {
        const x = torch
          .tensor(img.data, { dtype: 'uint8', shape: [1, img.height, img.width, 3], device: o.device })
          .permute(0, 3, 1, 2)
          .to(dtype)
          .div(255);
        return torch.interpolateBilinear(x, [FID_INCEPTION_SIZE, FID_INCEPTION_SIZE]).mul(2).sub(1);
      }),
    ),
  );
}
