// Contact sheets: a grid of images as one interleaved 8-bit RGB raster (row-major HWC), for reports.
// Encoding (PNG via sharp) is left to the caller; this stays dependency-free.
import type { Scene } from './attributes.js';
import { renderScene } from './render.js';

export interface Raster {
  width: number;
  height: number;
  /** width·height·3 bytes, row-major, R G B per pixel. */
  rgb: Uint8Array;
}

export interface SheetOptions {
  /** Nearest-neighbour upscaling of each tile (32 px is tiny to look at). Default 1. */
  scale?: number;
  /** Gap between tiles and around the sheet, in output px. Default 2. */
  pad?: number;
  /** Gap colour, 0–255 RGB; a dark blue that no background or object colour uses. Default [32, 32, 96]. */
  padRgb?: readonly [number, number, number];
}

/** Tiles CHW [3, S, S] images in [0, 1] (renders or model samples, values clamped) into a grid, `cols` per row. */
export function imageSheet(images: readonly Float32Array[], cols: number, opts: SheetOptions = {}): Raster {
  const { scale = 1, pad = 2, padRgb = [32, 32, 96] } = opts;
  if (!Number.isInteger(cols) || cols < 1)
    throw new RangeError(`imageSheet: cols must be a positive integer, got ${cols}`);
  const side = images.length ? Math.round(Math.sqrt(images[0]!.length / 3)) : 0;
  const tile = side * scale;
  const rows = Math.ceil(images.length / cols);
  const nc = Math.min(cols, images.length);
  const width = nc * tile + (nc + 1) * pad;
  const height = rows * tile + (rows + 1) * pad;
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < rgb.length; i += 3) rgb.set(padRgb, i);
  const plane = side * side;
  images.forEach((img, i) => {
    if (img.length !== 3 * plane) throw new Error(`imageSheet: image ${i} is not [3, ${side}, ${side}]`);
    const ox = pad + (i % cols) * (tile + pad);
    const oy = pad + Math.floor(i / cols) * (tile + pad);
    for (let y = 0; y < tile; y++) {
      for (let x = 0; x < tile; x++) {
        const p = Math.floor(y / scale) * side + Math.floor(x / scale);
        const o = ((oy + y) * width + ox + x) * 3;
        for (let c = 0; c < 3; c++) rgb[o + c] = Math.round(Math.min(1, Math.max(0, img[c * plane + p]!)) * 255);
      }
    }
  });
  return { width, height, rgb };
}

/** Ground-truth renders of `scenes` as a grid. */
export function contactSheet(
  scenes: readonly Scene[],
  cols: number,
  opts: SheetOptions & { size?: number } = {},
): Raster {
  return imageSheet(
    scenes.map((s) => renderScene(s, opts.size)),
    cols,
    opts,
  );
}
