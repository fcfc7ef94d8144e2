// The demo's quality metrics, from images and the specs they were prompted with:
//   valid    — share of images that show exactly one well-formed scene (validity.ts);
//   named    — share that are valid and have every value their caption names;
//   coverage — for the attributes captions leave open: 1 − total-variation distance between the values
//              the valid images show and the world's distribution for them (uniform), pooled over all
//              prompts and samples that leave the attribute open, then averaged over attributes.
// A sampler that blurs loses `valid`; one that always draws the same position loses `coverage`.
import { ATTRIBUTES, ATTRIBUTE_VALUES, type Attribute, type Spec } from './attributes.js';
import { readImage, type Reading } from './validity.js';

export interface WorldScore {
  n: number;
  valid: number;
  named: number;
  coverage: number;
  /** Per open attribute; an attribute no caption leaves open is absent. */
  coverageByAttribute: Partial<Record<Attribute, number>>;
  /**
   * Median over images of the pixels that differ from the re-rendered scene (validity.ts): a continuous
   * view of what `valid` thresholds at 1%. A blur over an open attribute differs at 50+ px (the smallest
   * object's area), a clean render at 0, a sharp sample with ragged edges in between.
   */
  differingPxMedian: number;
}

/** 1 − TV(empirical distribution of `values`, uniform over `support`); 0 for no values. */
export function uniformCoverage(values: readonly string[], support: readonly string[]): number {
  if (values.length === 0) return 0;
  const counts = new Map<string, number>(support.map((v) => [v, 0]));
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  let tv = 0;
  for (const [v, c] of counts) tv += Math.abs(c / values.length - (support.includes(v) ? 1 / support.length : 0));
  return 1 - tv / 2;
}

export function scoreReadings(readings: readonly Reading[], specs: readonly Spec[]): WorldScore {
  if (readings.length !== specs.length)
    throw new Error(`scoreReadings: ${readings.length} readings for ${specs.length} specs`);
  const n = readings.length;
  let valid = 0;
  let named = 0;
  const openValues = new Map<Attribute, string[]>();
  readings.forEach((r, i) => {
    const spec = specs[i] as Spec;
    for (const a of ATTRIBUTES) if (spec[a] === undefined && !openValues.has(a)) openValues.set(a, []);
    if (!r.valid || r.scene === undefined) return;
    const scene = r.scene;
    valid++;
    if (ATTRIBUTES.every((a) => spec[a] === undefined || spec[a] === scene[a])) named++;
    for (const a of ATTRIBUTES) if (spec[a] === undefined) openValues.get(a)!.push(scene[a]);
  });
  const coverageByAttribute: Partial<Record<Attribute, number>> = {};
  for (const a of ATTRIBUTES) {
    const values = openValues.get(a);
    if (values) coverageByAttribute[a] = uniformCoverage(values, ATTRIBUTE_VALUES[a]);
  }
  const cov = Object.values(coverageByAttribute);
  const differing = readings.map((r) => r.differing).sort((a, b) => a - b);
  return {
    differingPxMedian: n ? differing[Math.floor((n - 1) / 2)]! : 0,
    n,
    valid: n ? valid / n : 0,
    named: n ? named / n : 0,
    // Captions that leave nothing open leave nothing to cover.
    coverage: cov.length ? cov.reduce((s, c) => s + c, 0) / cov.length : 1,
    coverageByAttribute,
  };
}

/** Scores CHW [3, S, S] images in [0, 1] (e.g. from imagesFromTensor) against the specs they were prompted with. */
export function scoreImages(images: readonly Float32Array[], specs: readonly Spec[]): WorldScore {
  return scoreReadings(images.map(readImage), specs);
}
