// CLIP score (Hessel et al. 2021, the form LCM and DMD2 report): 100 · max(cos(image, text), 0)
// for each image and the prompt it was made from; a run's score is the mean over its images.
import { tidy, type Tensor } from '@cdistill/torch';

import { asFeatures } from './features.js';

/** Row i of `image` against row i of `text` ([N, D] each, any scale) → N scores in [0, 100]. */
export function clipScores(image: Tensor, text: Tensor): number[] {
  if (image.shape.join() !== text.shape.join())
    throw new Error(`clipScores: image [${image.shape.join(', ')}] and text [${text.shape.join(', ')}] differ`);
  return tidy(() => {
    const a = asFeatures(image, 'clipScores', 1);
    const b = asFeatures(text, 'clipScores', 1);
    const cos = a
      .mul(b)
      .sum(1)
      .div(a.norm(2, 1).mul(b.norm(2, 1)));
    return Array.from(cos.clamp(0).mul(100).data<'float64'>());
  });
}

export function mean(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('mean: no values');
  return xs.reduce((s, x) => s + x, 0) / xs.length;
}
