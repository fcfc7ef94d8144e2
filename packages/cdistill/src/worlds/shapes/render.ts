// Deterministic, hard-edged renderer. Images are CHW Float32Array in [0, 1] (channel-major: all R, then
// all G, then all B), the layout torch wants for [3, H, W]. No anti-aliasing: a pixel is the object
// colour iff its centre is strictly inside the shape, so the detector can count areas exactly. With
// integer centres and radii on the 32-px canvas no pixel centre lies on an edge (see insideShape).
import * as torch from '@cdistill/torch';

import { BACKGROUND_RGB, CANVAS, COLOR_RGB, POSITION_XY, SIZE_RADIUS, type Scene, type Shape } from './attributes.js';

/**
 * Whether offset (dx, dy) from the object centre is inside a shape of half-extent r.
 * Triangle: apex up at dy = -r, base at dy = +r, half-width growing linearly to r at the base, so its
 * bounding box is 2r × 2r like the others (area 2r², fill ratio 1/2).
 * On the 32-px canvas dx, dy are half-integers, so none of the comparisons can tie.
 */
export function insideShape(shape: Shape, dx: number, dy: number, r: number): boolean {
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy < r * r;
    case 'square':
      return Math.abs(dx) < r && Math.abs(dy) < r;
    case 'triangle':
      return dy < r && Math.abs(dx) < (dy + r) / 2;
  }
}

/** Renders one scene as CHW float in [0, 1]; geometry is defined on 32 px and scaled to `size`. */
export function renderScene(scene: Scene, size = CANVAS): Float32Array {
  const scale = size / CANVAS;
  const [cx, cy] = POSITION_XY[scene.position].map((v) => v * scale) as [number, number];
  const r = SIZE_RADIUS[scene.size] * scale;
  const bg = BACKGROUND_RGB[scene.background];
  const fg = COLOR_RGB[scene.color];
  const plane = size * size;
  const img = new Float32Array(3 * plane);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const rgb = insideShape(scene.shape, x + 0.5 - cx, y + 0.5 - cy, r) ? fg : bg;
      const p = y * size + x;
      img[p] = rgb[0];
      img[plane + p] = rgb[1];
      img[2 * plane + p] = rgb[2];
    }
  }
  return img;
}

/** A batch as a float32 CPU tensor [N, 3, size, size] in [-1, 1], the range the diffusion models use. */
export function renderToTensor(scenes: readonly Scene[], size = CANVAS): torch.Tensor {
  const per = 3 * size * size;
  const buf = new Float32Array(scenes.length * per);
  scenes.forEach((s, i) => {
    const img = renderScene(s, size);
    for (let j = 0; j < per; j++) buf[i * per + j] = img[j]! * 2 - 1;
  });
  return torch.tensor(buf, { shape: [scenes.length, 3, size, size] });
}

/**
 * The inverse of renderToTensor for model outputs: [N, 3, H, W] in [-1, 1] (any device/dtype) to CHW
 * Float32Arrays in [0, 1], clamped, ready for the detector.
 */
export function imagesFromTensor(batch: torch.Tensor): Float32Array[] {
  const shape = batch.shape;
  if (shape.length !== 4 || shape[1] !== 3)
    throw new Error(`imagesFromTensor: expected [N, 3, H, W], got [${shape.join(', ')}]`);
  const [n, , h, w] = shape as [number, number, number, number];
  const flat = torch.tidy(() => batch.detach().float().cpu().add(1).mul(0.5).clamp(0, 1).contiguous().toFloat32Array());
  const per = 3 * h * w;
  return Array.from({ length: n }, (_, i) => flat.slice(i * per, (i + 1) * per));
}
