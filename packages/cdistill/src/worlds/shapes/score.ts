// Prompt-faithfulness score for generated images: the fraction of images whose detected attributes match
// the scene their prompt asked for, per attribute and all five at once. A missing object counts as wrong.
import { ATTRIBUTES, type Attribute, type Scene } from './attributes.js';
import { detectScene, type Detection } from './detect.js';

export type ShapesScore = { n: number; all: number } & { [A in Attribute]: number };

/** Accuracies of detections against the expected scenes (0 for every field when there are none). */
export function scoreDetections(detections: readonly Detection[], expected: readonly Scene[]): ShapesScore {
  if (detections.length !== expected.length) {
    throw new Error(`scoreDetections: ${detections.length} detections for ${expected.length} expected scenes`);
  }
  const n = expected.length;
  const hits = { all: 0, shape: 0, color: 0, position: 0, size: 0, background: 0 };
  expected.forEach((want, i) => {
    const got = detections[i] as Detection;
    let allRight = true;
    for (const a of ATTRIBUTES) {
      if (got[a] === want[a]) hits[a]++;
      else allRight = false;
    }
    if (allRight) hits.all++;
  });
  const frac = (h: number) => (n === 0 ? 0 : h / n);
  return {
    n,
    all: frac(hits.all),
    shape: frac(hits.shape),
    color: frac(hits.color),
    position: frac(hits.position),
    size: frac(hits.size),
    background: frac(hits.background),
  };
}

/** Scores CHW [3, S, S] images in [0, 1] (e.g. from imagesFromTensor) against the scenes they were prompted with. */
export function scoreImages(images: readonly Float32Array[], expected: readonly Scene[]): ShapesScore {
  if (images.length !== expected.length) throw new Error(`scoreImages: ${images.length} images for ${expected.length} expected scenes`);
  return scoreDetections(images.map(detectScene), expected);
}
