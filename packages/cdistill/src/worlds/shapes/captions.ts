// Captions for the shapes world, and the way back (caption → what it names). A caption names any subset
// of the five attributes ("a red circle" leaves position, size and background open). Every value is a
// plain English word and the five vocabularies are disjoint, so a caption parses by keyword lookup
// whatever the word order: paraphrases, and prompts written by hand, need no grammar.
import { ATTRIBUTES, ATTRIBUTE_VALUES, type Attribute, type Position, type Spec } from './attributes.js';

/** How each position is said; the key word (left, top, center, ...) is what parsing looks for. */
export const POSITION_PHRASE: Readonly<Record<Position, string>> = {
  left: 'on the left',
  right: 'on the right',
  top: 'at the top',
  bottom: 'at the bottom',
  center: 'in the center',
};

type Template = (s: Spec) => string;

/** Words in order, the missing ones left out: "a red circle", "a large shape on the left". */
const words = (...parts: (string | undefined | false)[]) =>
  parts.filter((p): p is string => typeof p === 'string').join(' ');

/** Template 0 is the canonical caption; template 1 says the same with the background first. */
export const CAPTION_TEMPLATES: readonly Template[] = [
  (s) =>
    words(
      'a',
      s.size,
      s.color,
      s.shape ?? 'shape',
      s.position && POSITION_PHRASE[s.position],
      s.background && `on a ${s.background} background`,
    ),
  (s) =>
    words(
      s.background && `${s.background} background with`,
      'a',
      s.size,
      s.color,
      s.shape ?? 'shape',
      s.position && POSITION_PHRASE[s.position],
    ),
];

/** The caption of `spec` with template `index` (taken modulo the number of templates, so any integer works). */
export function caption(spec: Spec, index = 0): string {
  const n = CAPTION_TEMPLATES.length;
  return CAPTION_TEMPLATES[((index % n) + n) % n]!(spec);
}

/** Words outside the generated vocabulary that mean the same, so hand-written prompts parse too. */
const SYNONYMS: Readonly<Record<string, string>> = {
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
 * What a caption names (the attributes it leaves out are open), or undefined when it contradicts itself
 * (two different values of one attribute, like "left ... right").
 */
export function parseCaption(text: string): Spec | undefined {
  const found: Record<string, string> = {};
  for (const word of text.toLowerCase().split(/[^a-z]+/)) {
    const hit = LEXICON.get(word);
    if (hit === undefined) continue;
    const [attr, value] = hit;
    if (found[attr] !== undefined && found[attr] !== value) return undefined;
    found[attr] = value;
  }
  return found as Spec;
}
