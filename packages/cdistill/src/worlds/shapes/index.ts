// The shapes world: a small, fully checkable text-to-image domain for the embedded demo. A teacher is
// trained on its 32×32 RGB renders from captions, then distilled; samples are scored by reading their
// attributes back (detect.ts), on training combinations and on held-out (shape, colour) pairs.
import { mulberry32, pick, randInt } from '../../util/prng.js';
import {
  allScenes, heldOutScenes, isHeldOut, scenesOf, trainScenes, ATTRIBUTE_VALUES, CANVAS, type Scene, type Split,
} from './attributes.js';
import { caption, CAPTION_TEMPLATES, parseCaption } from './captions.js';
import { detectScene } from './detect.js';
import { imagesFromTensor, renderScene, renderToTensor } from './render.js';
import { scoreImages } from './score.js';

export * from './attributes.js';
export * from './captions.js';
export * from './detect.js';
export * from './render.js';
export * from './score.js';
export * from './preview.js';

export interface PromptSample {
  prompt: string;
  scene: Scene;
}

export interface SampleOptions {
  /** Which scenes to draw from. Default 'train'. */
  split?: Split;
  /** A fixed caption template index; by default each sample draws one uniformly. */
  template?: number;
}

/**
 * n (prompt, scene) pairs drawn uniformly with replacement from a split, with a uniformly drawn caption
 * template each: the same (n, seed, options) always gives the same list.
 */
export function samplePrompts(n: number, seed: number, opts: SampleOptions = {}): PromptSample[] {
  const pool = scenesOf(opts.split ?? 'train');
  const rng = mulberry32(seed);
  return Array.from({ length: n }, () => {
    const scene = pick(rng, pool);
    const t = opts.template ?? randInt(rng, CAPTION_TEMPLATES.length);
    return { prompt: caption(scene, t), scene };
  });
}

/** Everything a trainer or evaluator needs, behind one object. */
export const ShapesWorld = {
  name: 'shapes',
  imageSize: CANVAS,
  channels: 3,
  attributes: ATTRIBUTE_VALUES,
  allScenes,
  trainScenes,
  heldOutScenes,
  isHeldOut,
  caption,
  parseCaption,
  samplePrompts,
  render: renderScene,
  renderToTensor,
  imagesFromTensor,
  detect: detectScene,
  score: scoreImages,
} as const;
export * from './teacher-model.js';
