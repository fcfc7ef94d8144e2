// Prompts for the shapes world, and the way back (prompt → expected attributes). Every attribute value is
// a plain English word and the five vocabularies are disjoint (no object colour is also a background
// colour), so a caption parses by keyword lookup whatever the word order: paraphrases, and prompts
// written by hand, need no grammar.
import {
  ATTRIBUTES, ATTRIBUTE_VALUES, type Attribute, type Background, type Color, type Position, type Scene, type Shape, type Size,
} from './attributes.js';

/** How each position is said; the key word (left, top, center, ...) is what parsing looks for. */
export const POSITION_PHRASE: Readonly<Record<Position, string>> = {
  left: 'on the left',
  right: 'on the right',
  top: 'at the top',
  bottom: 'at the bottom',
  center: 'in the center',
};

type Template = (s: Scene) => string;

/** Template 0 is the canonical caption; the rest are paraphrases with different word order. */
export const CAPTION_TEMPLATES: readonly Template[] = [
  (s) => `a ${s.size} ${s.color} ${s.shape} ${POSITION_PHRASE[s.position]} on a ${s.background} background`,
  (s) => `a ${s.color} ${s.shape}, ${s.size}, ${POSITION_PHRASE[s.position]}, ${s.background} background`,
  (s) => `${s.background} background with a ${s.size} ${s.color} ${s.shape} ${POSITION_PHRASE[s.position]}`,
  (s) => `a picture of a ${s.size} ${s.shape} in ${s.color}, ${POSITION_PHRASE[s.position]} of a ${s.background} background`,
];

/** The caption of `scene` with template `index` (taken modulo the number of templates, so any integer works). */
export function caption(scene: Scene, index = 0): string {
  const n = CAPTION_TEMPLATES.length;
  return (CAPTION_TEMPLATES[((index % n) + n) % n] as Template)(scene);
}

/** Words outside the generated vocabulary that mean the same, so hand-written prompts parse too. */
const SYNONYMS: Readonly<Record<string, string>> = {
  grey: 'gray',
  centre: 'center',
  middle: 'center',
  big: 'large',
  tiny: 'small',
  little: 'small',
};

/** word → the (attribute, value) it names. Built once from the vocabulary. */
const LEXICON: ReadonlyMap<string, readonly [Attribute, string]> = (() => {
  const m = new Map<string, readonly [Attribute, string]>();
  for (const a of ATTRIBUTES) {
    for (const v of ATTRIBUTE_VALUES[a]) {
      if (m.has(v)) throw new Error(`shapes vocabulary: "${v}" names two attributes`); // keeps parsing unambiguous
      m.set(v, [a, v]);
    }
  }
  for (const [w, v] of Object.entries(SYNONYMS)) m.set(w, m.get(v) as readonly [Attribute, string]);
  return m;
})();

/**
 * The scene a caption describes, or undefined unless it names exactly one value of every attribute
 * (a missing attribute, or two different values of one, like "left ... right", gives undefined).
 */
export function parseCaption(text: string): Scene | undefined {
  const found = new Map<Attribute, string>();
  for (const word of text.toLowerCase().split(/[^a-z]+/)) {
    const hit = LEXICON.get(word);
    if (hit === undefined) continue;
    const [attr, value] = hit;
    const prev = found.get(attr);
    if (prev !== undefined && prev !== value) return undefined;
    found.set(attr, value);
  }
  if (found.size !== ATTRIBUTES.length) return undefined;
  return {
    shape: found.get('shape') as Shape,
    color: found.get('color') as Color,
    position: found.get('position') as Position,
    size: found.get('size') as Size,
    background: found.get('background') as Background,
  };
}
