// The shapes world: a small, fully checkable text-to-image domain for the embedded demo. Captions name
// some of a scene's attributes and leave the rest open, so a caption allows many images (distribution.ts);
// a teacher is trained on 32×32 RGB renders, then distilled; samples are read back into attributes and
// scored for validity, faithfulness to what the caption names, and diversity in what it leaves open.
import { allScenes, ATTRIBUTE_VALUES, CANVAS } from './attributes.js';
import { caption, parseCaption } from './captions.js';
import { detectScene } from './detect.js';
import { samplePrompts, sampleScene } from './distribution.js';
import { imagesFromTensor, renderScene, renderToTensor } from './render.js';
import { scoreImages } from './score.js';
import { readImage } from './validity.js';

export * from './attributes.js';
export * from './captions.js';
export * from './detect.js';
export * from './distribution.js';
export * from './render.js';
export * from './score.js';
export * from './posterior.js';
export * from './preview.js';
export * from './validity.js';
export * from './teacher-model.js';

/** Everything a trainer or evaluator needs, behind one object. */
export const ShapesWorld = {
  name: 'shapes',
  imageSize: CANVAS,
  channels: 3,
  attributes: ATTRIBUTE_VALUES,
  allScenes,
  caption,
  parseCaption,
  samplePrompts,
  sampleScene,
  render: renderScene,
  renderToTensor,
  imagesFromTensor,
  detect: detectScene,
  read: readImage,
  score: scoreImages,
} as const;
