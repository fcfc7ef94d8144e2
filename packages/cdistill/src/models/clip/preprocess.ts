// OpenCLIP's image transform for a square model input, on 8-bit RGB images: "squash" resizes both
// sides to the input size; "shortest" resizes the short side to it (the long side truncated, as
// torchvision's Resize(int) does) and takes the centre crop (offsets rounded half to even, as
// torchvision's CenterCrop uses Python's round). Then bytes / 255, minus mean, over std.
import { tensor, tidy, type DType, type Tensor } from '@cdistill/torch';

import { crop, resizeBicubic, type Rgb8Image } from './resample.js';
import type { ClipPreprocessConfig } from './vision-config.js';

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The resized (and, for "shortest", cropped) `size`×`size` image the model sees, still 8-bit. */
export function resizeForClip(img: Rgb8Image, size: number, mode: ClipPreprocessConfig['resizeMode']): Rgb8Image {
  if (mode === 'squash') return resizeBicubic(img, size, size);
  const { width: w, height: h } = img;
  const [nw, nh] = h <= w ? [Math.trunc((size * w) / h), size] : [size, Math.trunc((size * h) / w)];
  const r = resizeBicubic(img, nw, nh);
  return crop(r, roundHalfEven((nw - size) / 2), roundHalfEven((nh - size) / 2), size, size);
}

/** Images → normalised pixels [N, 3, size, size] in `dtype` on `device` (computed in float64). */
export function clipPixels(
  images: readonly Rgb8Image[],
  size: number,
  p: ClipPreprocessConfig,
  o: { dtype?: DType; device?: string } = {},
): Tensor {
  const plane = size * size;
  const out = new Float64Array(images.length * 3 * plane);
  images.forEach((img, n) => {
    const r = resizeForClip(img, size, p.resizeMode);
    for (let c = 0; c < 3; c++) {
      const base = (n * 3 + c) * plane;
      for (let i = 0; i < plane; i++) out[base + i] = (r.data[i * 3 + c]! / 255 - p.mean[c]!) / p.std[c]!;
    }
  });
  // Built in float64, then cast by libtorch (round to nearest even for bfloat16) and moved in one step.
  return tidy(() =>
    tensor(out, { dtype: 'float64', shape: [images.length, 3, size, size] }).toOptions({
      dtype: o.dtype ?? 'float32',
      device: o.device,
    }),
  );
}
