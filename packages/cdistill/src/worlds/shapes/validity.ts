// Whether an image is exactly one well-formed scene: the detector reads attributes, the renderer draws
// that scene again, and the two must agree everywhere but at a few pixels. Exact on the renderer's own
// images (zero pixels differ); a blur over the options a caption left open (an object smeared over
// several positions or sizes, a colour or background averaged to gray) or two overlaid shapes differ at
// dozens to hundreds of pixels. Measured on the old bundled teacher's Heun-30 samples of fully named
// captions: at most 4 of 1,024 pixels off by more than 0.25, RMS error ≤ 0.03.
import { ATTRIBUTES, type Scene } from './attributes.js';
import { detectScene } from './detect.js';
import { renderScene } from './render.js';

/** A pixel "differs" when one of its channels is off by more than this (values in [0, 1]). */
export const PIXEL_TOLERANCE = 0.25;
/** At most this share of pixels may differ (1%: 10 of 1,024 on the 32-px canvas). */
export const MAX_DIFFERING_SHARE = 0.01;

export interface Reading {
  /** The scene the detector read; undefined when it found no object (or a non-finite image). */
  scene: Scene | undefined;
  /** Pixels where the image and the re-rendered scene differ by more than PIXEL_TOLERANCE. */
  differing: number;
  valid: boolean;
}

/** Reads one CHW [3, S, S] image in [0, 1]: the scene it shows, and whether it shows exactly that scene. */
export function readImage(img: Float32Array): Reading {
  const side = Math.round(Math.sqrt(img.length / 3));
  const d = detectScene(img);
  if (!ATTRIBUTES.every((a) => d[a] !== undefined)) return { scene: undefined, differing: side * side, valid: false };
  const scene = d as Scene;
  const redrawn = renderScene(scene, side);
  const plane = side * side;
  let differing = 0;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      // NaN compares false: a non-finite pixel differs.
      if (!(Math.abs(img[c * plane + p]! - redrawn[c * plane + p]!) <= PIXEL_TOLERANCE)) {
        differing++;
        break;
      }
    }
  }
  return { scene, differing, valid: differing <= MAX_DIFFERING_SHARE * plane };
}
