// Images on disk: PNG (or JPEG/WebP by extension) encoding with sharp, written atomically, and grids.
import { extname } from 'node:path';

import sharp from 'sharp';
import * as torch from '@cdistill/torch';

import { writeFileAtomic } from '../util/fs.js';

/** [3, H, W] in [0, 1] → interleaved RGB bytes, rounded as diffusers' numpy_to_pil does. */
export function toRgbBytes(image01: torch.Tensor): { width: number; height: number; rgb: Uint8Array } {
  if (image01.ndim !== 3 || image01.size(0) !== 3)
    throw new Error(`expected an image [3, H, W], got [${image01.shape.join(', ')}]`);
  const [, height, width] = image01.shape as [number, number, number];
  const rgb = torch.tidy(() =>
    image01
      .toOptions({ dtype: 'float32', device: 'cpu' })
      .clamp(0, 1)
      .mul(255)
      .round()
      .permute(1, 2, 0)
      .to('uint8')
      .contiguous()
      .toBytes(),
  );
  return { width, height, rgb };
}

/** The image formats written by extension (sharp encodes each); anything else is refused before any work. */
export const IMAGE_FORMATS = { '.png': 'png', '.jpg': 'jpeg', '.jpeg': 'jpeg', '.webp': 'webp' } as const;

export function imageFormatOf(path: string): (typeof IMAGE_FORMATS)[keyof typeof IMAGE_FORMATS] {
  const f = IMAGE_FORMATS[extname(path).toLowerCase() as keyof typeof IMAGE_FORMATS];
  if (f === undefined)
    throw new Error(
      `${path}: unknown image extension '${extname(path)}'; use ${Object.keys(IMAGE_FORMATS).join(', ')}`,
    );
  return f;
}

/**
 * Writes an RGB byte image at `path` atomically, in the format its extension names (PNG for `.png`);
 * `scale` enlarges with nearest neighbour.
 */
export async function writeRgbImage(
  path: string,
  img: { width: number; height: number; rgb: Uint8Array },
  scale = 1,
): Promise<void> {
  const format = imageFormatOf(path);
  let s = sharp(Buffer.from(img.rgb.buffer, img.rgb.byteOffset, img.rgb.byteLength), {
    raw: { width: img.width, height: img.height, channels: 3 },
  });
  if (scale !== 1) s = s.resize(img.width * scale, img.height * scale, { kernel: 'nearest' });
  const bytes = await (format === 'png'
    ? s.png()
    : format === 'jpeg'
      ? s.jpeg({ quality: 95 })
      : s.webp({ lossless: true })
  ).toBuffer();
  writeFileAtomic(path, bytes);
}

export async function writeImage(path: string, image01: torch.Tensor, scale = 1): Promise<void> {
  await writeRgbImage(path, toRgbBytes(image01), scale);
}

/** Tiles images [N, 3, H, W] (in [0, 1]) into rows of `cols`, with a `gap`-pixel border (white by default). */
export function tile(
  images: torch.Tensor,
  cols: number,
  gap = 2,
  gapRgb: readonly [number, number, number] = [255, 255, 255],
): { width: number; height: number; rgb: Uint8Array } {
  const [n, , h, w] = images.shape as [number, number, number, number];
  const rows = Math.ceil(n / cols);
  const width = cols * w + (cols + 1) * gap;
  const height = rows * h + (rows + 1) * gap;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i += 3) rgb.set(gapRgb, i);
  for (let i = 0; i < n; i++) {
    const img = toRgbBytes(torch.tidy(() => images.select(0, i)));
    const x0 = gap + (i % cols) * (w + gap);
    const y0 = gap + Math.floor(i / cols) * (h + gap);
    for (let y = 0; y < h; y++) rgb.set(img.rgb.subarray(y * w * 3, (y + 1) * w * 3), ((y0 + y) * width + x0) * 3);
  }
  return { width, height, rgb };
}

/**
 * An image file as 8-bit RGB, the way OpenCLIP's `convert("RGB")` sees it: alpha dropped (not
 * composited), grey expanded to three channels, no EXIF rotation (Pillow does not apply it either).
 */
export async function readRgb8(path: string): Promise<{ width: number; height: number; data: Uint8Array }> {
  const { data, info } = await sharp(path)
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${path}: decoded to ${info.channels} channels, expected RGB`);
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.length) };
}
