// The shapes world's vocabulary: one object (shape, colour, position, size) on a plain background.
// Every value is chosen so that a simple detector can read it back exactly from a 32×32 render, and
// still reliably from a blurry/noisy diffusion sample, and so that the average of two or more different
// values is none of them (a blur over the options a caption leaves open is never a valid scene):
//  - colours are the six saturated corners of the RGB cube: pairwise distance ≥ 1, distance √2 or 1 from
//    each background; their mean is mid gray, no colour;
//  - backgrounds are white and black, the two other corners: their mean (mid gray) is 0.5 away from both
//    in every channel (a third, gray, would be the mean of the other two);
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

export const BACKGROUNDS = ['white', 'black'] as const;
export type Background = (typeof BACKGROUNDS)[number];

export const BACKGROUND_RGB: Readonly<Record<Background, Rgb>> = {
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

/** What a caption names: any subset of the attributes (the rest are left open). */
export type Spec = Partial<Scene>;

/** Every combination (3·6·5·2·2 = 360), in a fixed order (shape outermost, background innermost). */
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

/** The attributes a spec leaves open, in ATTRIBUTES order. */
export function openAttributes(spec: Spec): Attribute[] {
  return ATTRIBUTES.filter((a) => spec[a] === undefined);
}

/** Whether a scene has every value the spec names. */
export function satisfies(scene: Scene, spec: Spec): boolean {
  return ATTRIBUTES.every((a) => spec[a] === undefined || spec[a] === scene[a]);
}
