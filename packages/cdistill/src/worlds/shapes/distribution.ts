// What the shapes world allows: a scene is drawn uniformly from all 360, and a caption names each of its
// attributes independently with probability NAME_PROBABILITY. So for every caption the images it allows
// are uniform over the values of the attributes it leaves open, and the one-step posterior mean
// E[x₀ | caption] of a caption that leaves anything open is a blur, not a scene (attributes.ts).
import { randInt, uniform, type Rng, mulberry32, pick } from '../../util/prng.js';
import { allScenes, ATTRIBUTES, ATTRIBUTE_VALUES, openAttributes, type Scene, type Spec } from './attributes.js';
import { caption, CAPTION_TEMPLATES } from './captions.js';

/** The share of training captions that name a given attribute (all five: 0.6⁵ ≈ 8% of captions). */
export const NAME_PROBABILITY = 0.6;

const SCENES = allScenes();

/** A scene the spec allows: its named values, the open ones drawn uniformly. */
export function sampleScene(rng: Rng, spec: Spec): Scene {
  const out: Record<string, string> = {};
  for (const a of ATTRIBUTES) out[a] = spec[a] ?? pick(rng, ATTRIBUTE_VALUES[a]);
  return out as unknown as Scene;
}

/** The spec of a caption for `scene`: each attribute named with probability p. */
export function sampleSpec(rng: Rng, scene: Scene, p: number): Spec {
  const spec: Record<string, string> = {};
  for (const a of ATTRIBUTES) if (uniform(rng) < p) spec[a] = scene[a];
  return spec as Spec;
}

export interface PromptSample {
  prompt: string;
  /** What the prompt names. */
  spec: Spec;
  /** The scene behind it (one draw from what the prompt allows). */
  scene: Scene;
}

export interface SampleOptions {
  /** Probability that a caption names each attribute. Default NAME_PROBABILITY; 1 names everything. */
  nameProbability?: number;
  /** Only captions that leave at least one attribute open (drawn again until one does). */
  openOnly?: boolean;
  /** A fixed caption template index; by default each sample draws one uniformly. */
  template?: number;
}

/** n (prompt, spec, scene) draws from the world: the same (n, seed, options) always gives the same list. */
export function samplePrompts(n: number, seed: number, o: SampleOptions = {}): PromptSample[] {
  const rng = mulberry32(seed);
  const p = o.nameProbability ?? NAME_PROBABILITY;
  if (o.openOnly && p >= 1) throw new RangeError('samplePrompts: openOnly needs nameProbability < 1');
  return Array.from({ length: n }, () => {
    const scene = pick(rng, SCENES);
    let spec = sampleSpec(rng, scene, p);
    while (o.openOnly && openAttributes(spec).length === 0) spec = sampleSpec(rng, scene, p);
    const t = o.template ?? randInt(rng, CAPTION_TEMPLATES.length);
    return { prompt: caption(spec, t), spec, scene };
  });
}
