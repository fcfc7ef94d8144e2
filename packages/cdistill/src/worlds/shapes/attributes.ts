// The shapes world's vocabulary: one object (shape, colour, position, size) on a plain background.
// Every value is chosen so that a simple detector can read it back exactly from a 32×32 render, and
// still reliably from a blurry/noisy diffusion sample:
//  - colours are the six saturated corners of the RGB cube: pairwise distance ≥ 1, and distance ≥ 0.87
//    (√0.75, to mid gray) from every background, so "pixel far from background" and "nearest colour"
//    both have wide margins;
//  - backgrounds are gray/white/black: the three points of the cube's diagonal, far from every corner;
//  - sizes differ by 1.8× in radius (3.2× in area);
//  - positions sit 6 px apart with a 1 px clear border even for large objects, so the border pixels
//    always show the background.

/** The canvas the geometry is defined on; other sizes scale it. */
export const CANVAS = 32;

export const SHAPES = ['circle', 'square', 'triangle'] as const;
export type Shape = (typeof SHAPES)[number];

export const COLORS = ['red', 'green', 'blue', 'yellow', 'magenta', 'cyan'] as const;
export type Color = (typeof COLORS)[number];

export type Rgb = readonly [number, number, number];

/** Object colours in [0, 1] RGB. */
export const COLOR_RGB: Readonly<Record<Color, Rgb>> = {
  red: [1, 0, 0],
  green: [0, 1, 0],
  blue: [0, 0, 1],
  yellow: [1, 1, 0],
  magenta: [1, 0, 1],
  cyan: [0, 1, 1],
};

export const POSITIONS = ['left', 'right', 'top', 'bottom', 'center'] as const;
export type Position = (typeof POSITIONS)[number];

/**
 * Object centres on the 32-px canvas, continuous coordinates: x right, y down, pixel i covers
 * [i, i+1] (its centre is i + 0.5). Integer centres put the object symmetrically between pixels.
 * Offset 6 from the middle: a large object (half-extent 9) at x = 10 spans [1, 19], leaving pixel 0 clear.
 */
export const POSITION_XY: Readonly<Record<Position, readonly [number, number]>> = {
  left: [10, 16],
  right: [22, 16],
  top: [16, 10],
  bottom: [16, 22],
  center: [16, 16],
};

export const SIZES = ['small', 'large'] as const;
export type Size = (typeof SIZES)[number];

/**
 * Half-extent in px on the 32-px canvas: circle radius, square half-side, triangle half-base and half-height.
 * Every shape therefore has a 2r × 2r bounding box centred on its position.
 */
export const SIZE_RADIUS: Readonly<Record<Size, number>> = { small: 5, large: 9 };

export const BACKGROUNDS = ['gray', 'white', 'black'] as const;
export type Background = (typeof BACKGROUNDS)[number];

export const BACKGROUND_RGB: Readonly<Record<Background, Rgb>> = {
  gray: [0.5, 0.5, 0.5],
  white: [1, 1, 1],
  black: [0, 0, 0],
};

/** One scene: exactly one value of each attribute. */
export interface Scene {
  shape: Shape;
  color: Color;
  position: Position;
  size: Size;
  background: Background;
}

export const ATTRIBUTES = ['shape', 'color', 'position', 'size', 'background'] as const;
export type Attribute = (typeof ATTRIBUTES)[number];

export const ATTRIBUTE_VALUES = {
  shape: SHAPES,
  color: COLORS,
  position: POSITIONS,
  size: SIZES,
  background: BACKGROUNDS,
} as const satisfies { [A in Attribute]: readonly Scene[A][] };

/** Every combination (3·6·5·2·3 = 540), in a fixed order (shape outermost, background innermost). */
export function allScenes(): Scene[] {
  const out: Scene[] = [];
  for (const shape of SHAPES)
    for (const color of COLORS)
      for (const position of POSITIONS)
        for (const size of SIZES)
          for (const background of BACKGROUNDS) out.push({ shape, color, position, size, background });
  return out;
}

/** A stable, readable identity for a scene (for maps, logs and file names). */
export function sceneKey(s: Scene): string {
  return `${s.size}-${s.color}-${s.shape}-${s.position}-${s.background}`;
}

export function sameScene(a: Scene, b: Scene): boolean {
  return ATTRIBUTES.every((k) => a[k] === b[k]);
}

/**
 * (shape, colour) combinations never shown in training. Each held-out colour is different and every shape
 * loses at most two of six colours, so each single value still appears in training: a model that gets
 * these right has composed attributes it only ever saw separately.
 */
export const HELD_OUT_PAIRS: readonly (readonly [Shape, Color])[] = [
  ['circle', 'magenta'],
  ['square', 'yellow'],
  ['triangle', 'blue'],
  ['triangle', 'cyan'],
];

export function isHeldOut(s: Scene): boolean {
  return HELD_OUT_PAIRS.some(([shape, color]) => s.shape === shape && s.color === color);
}

/** The 420 training scenes (fixed order). */
export function trainScenes(): Scene[] {
  return allScenes().filter((s) => !isHeldOut(s));
}

/** The 120 held-out scenes (fixed order). */
export function heldOutScenes(): Scene[] {
  return allScenes().filter(isHeldOut);
}

export type Split = 'train' | 'heldout' | 'all';

export function scenesOf(split: Split): Scene[] {
  return split === 'train' ? trainScenes() : split === 'heldout' ? heldOutScenes() : allScenes();
}
