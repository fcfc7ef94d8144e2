import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ClipTokenizer } from '../src/models/clip/tokenizer.js';
import { mulberry32, normal } from '../src/util/prng.js';
import {
  allScenes,
  ATTRIBUTES,
  ATTRIBUTE_VALUES,
  BACKGROUND_RGB,
  CAPTION_TEMPLATES,
  caption,
  COLOR_RGB,
  contactSheet,
  detectScene,
  imagesFromTensor,
  NAME_PROBABILITY,
  openAttributes,
  parseCaption,
  readImage,
  renderScene,
  renderToTensor,
  samplePrompts,
  sampleScene,
  satisfies,
  sceneKey,
  scoreImages,
  ShapesWorld,
  uniformCoverage,
  type Scene,
  type Spec,
} from '../src/worlds/shapes/index.js';

const scenes = allScenes();
const renders = scenes.map((s) => renderScene(s));
const S = 32;
const P = S * S;

const dist = (a: readonly number[], b: readonly number[]) => Math.hypot(...a.map((v, i) => v - b[i]!));
const pixel = (img: Float32Array, x: number, y: number) => [0, 1, 2].map((c) => img[c * P + y * S + x]!);
const withNoise = (img: Float32Array, sigma: number, rng: () => number) =>
  img.map((v) => Math.min(1, Math.max(0, v + sigma * normal(rng))));
const mean = (imgs: Float32Array[]) => {
  const m = new Float32Array(imgs[0]!.length);
  for (const im of imgs) for (let i = 0; i < m.length; i++) m[i]! += im[i]! / imgs.length;
  return m;
};
/** Every subset of the attributes of `scene`, as specs (32 of them). */
const allSpecs = (scene: Scene): Spec[] =>
  Array.from(
    { length: 32 },
    (_, mask) => Object.fromEntries(ATTRIBUTES.filter((_, i) => mask & (1 << i)).map((a) => [a, scene[a]])) as Spec,
  );

test('vocabulary: 360 distinct scenes; colours far from each other and from both backgrounds; no value is a mean of others', () => {
  assert.equal(scenes.length, 3 * 6 * 5 * 2 * 2);
  assert.equal(new Set(scenes.map(sceneKey)).size, scenes.length);
  const colors = Object.values(COLOR_RGB);
  const bgs = Object.values(BACKGROUND_RGB);
  for (let i = 0; i < colors.length; i++) {
    for (let j = i + 1; j < colors.length; j++) assert.ok(dist(colors[i]!, colors[j]!) >= 1);
    for (const bg of bgs) assert.ok(dist(colors[i]!, bg) >= 1);
  }
  // The blur of open colours or backgrounds is mid gray: at least 0.5 from every value in some channel.
  const gray = [0.5, 0.5, 0.5];
  for (const v of [...colors, ...bgs]) assert.ok(Math.max(...v.map((c, k) => Math.abs(c - gray[k]!))) >= 0.5);
  const words = ATTRIBUTES.flatMap((a) => [...ATTRIBUTE_VALUES[a]]);
  assert.equal(new Set(words).size, words.length, 'no word names two attributes');
});

test('renderer: CHW layout, only two colours, 1 px clear border, exact areas', () => {
  const s: Scene = { shape: 'square', color: 'red', position: 'center', size: 'small', background: 'black' };
  const img = renderScene(s);
  assert.equal(img.length, 3 * P);
  assert.deepEqual(pixel(img, 16, 16), [1, 0, 0]);
  assert.deepEqual(pixel(img, 0, 0), [0, 0, 0]);
  assert.equal(img.filter((v) => v === 1).length, 100); // 10×10 red pixels in the R plane only
  scenes.forEach((scene, i) => {
    const r = renders[i]!;
    const bg = BACKGROUND_RGB[scene.background];
    const fg = COLOR_RGB[scene.color];
    let fgCount = 0;
    for (let y = 0; y < S; y++) {
      for (let x = 0; x < S; x++) {
        const px = pixel(r, x, y);
        const isFg = dist(px, fg) === 0;
        assert.ok(isFg || dist(px, bg) === 0);
        if (isFg) fgCount++;
        if (x === 0 || y === 0 || x === S - 1 || y === S - 1) assert.ok(!isFg, `${sceneKey(scene)} touches the border`);
      }
    }
    assert.ok(fgCount >= 50, sceneKey(scene));
  });
  assert.deepEqual(renderScene(s), img, 'deterministic');
});

test('renderToTensor gives [N,3,32,32] in [-1,1]; imagesFromTensor inverts it', () => {
  const some = scenes.slice(0, 5);
  const t = renderToTensor(some);
  assert.deepEqual([...t.shape], [5, 3, 32, 32]);
  const flat = t.toFloat32Array();
  assert.equal(Math.min(...flat), -1);
  assert.equal(Math.max(...flat), 1);
  const back = imagesFromTensor(t);
  assert.equal(back.length, 5);
  for (const [i, img] of back.entries()) assert.deepEqual(img, renders[i]);
  t.dispose();
});

test('detector and validity are exact on every render (all 360 scenes, and at 64 px)', () => {
  const wrong = scenes.filter((s, i) => JSON.stringify(detectScene(renders[i]!)) !== JSON.stringify(s)).map(sceneKey);
  assert.deepEqual(wrong, []);
  for (const [i, s] of scenes.entries())
    assert.deepEqual(readImage(renders[i]!), { scene: s, differing: 0, valid: true });
  const big = scoreImages(
    scenes.map((s) => renderScene(s, 64)),
    scenes,
  );
  assert.deepEqual([big.valid, big.named], [1, 1]);
});

test('detector and validity hold under Gaussian noise σ=0.05 (seeded): ≥ 98% valid and named', (t) => {
  const rng = mulberry32(2024);
  const score = scoreImages(
    renders.map((r) => withNoise(r, 0.05, rng)),
    scenes,
  );
  t.diagnostic(`σ=0.05: ${JSON.stringify(score)}`);
  assert.ok(score.valid >= 0.98 && score.named >= 0.98, JSON.stringify(score));
});

test('validity: the blur over what a caption leaves open is never a valid scene, nor are two overlaid shapes', () => {
  const rng = mulberry32(5);
  const base = scenes[123]!;
  for (const spec of allSpecs(base)) {
    if (openAttributes(spec).length === 0) continue;
    const blur = mean(Array.from({ length: 300 }, () => renderScene(sampleScene(rng, spec))));
    const r = readImage(blur);
    assert.equal(r.valid, false, `the mean image of ${JSON.stringify(spec)} read as valid (${r.differing} px differ)`);
  }
  const a: Scene = { shape: 'circle', color: 'red', position: 'left', size: 'small', background: 'white' };
  const both = renderScene(a);
  const b = renderScene({ ...a, position: 'right' });
  for (let i = 0; i < both.length; i++) both[i] = Math.min(both[i]!, b[i]!); // two red circles
  assert.equal(readImage(both).valid, false);
  const square = renderScene({ ...a, shape: 'square' });
  const overlaid = renderScene(a).map((v, i) => Math.min(v, square[i]!)); // a circle inside a square of the same colour: a square
  assert.equal(readImage(overlaid).valid, true, 'one square is one scene');
});

test('detector: no object on a plain (or noisy plain) background; NaN gives nothing; neither is valid', () => {
  for (const bg of ATTRIBUTE_VALUES.background) {
    const img = new Float32Array(3 * P);
    for (let c = 0; c < 3; c++) img.fill(BACKGROUND_RGB[bg][c]!, c * P, (c + 1) * P);
    const none = { shape: undefined, color: undefined, position: undefined, size: undefined };
    assert.deepEqual(detectScene(img), { ...none, background: bg });
    assert.deepEqual(detectScene(withNoise(img, 0.05, mulberry32(1))), { ...none, background: bg });
    assert.deepEqual(readImage(img), { scene: undefined, differing: P, valid: false });
  }
  const nan = new Float32Array(3 * P).fill(NaN);
  assert.deepEqual(Object.values(detectScene(nan)), [undefined, undefined, undefined, undefined, undefined]);
  assert.equal(readImage(nan).valid, false);
  assert.throws(() => detectScene(new Float32Array(10)), {
    message: 'detect: expected a CHW [3, S, S] image, got 10 values',
  });
});

test('captions: every subset of every scene round-trips through every template; hand-written prompts parse', () => {
  for (const s of scenes) {
    for (const spec of allSpecs(s)) {
      const texts = CAPTION_TEMPLATES.map((_, i) => caption(spec, i));
      for (const text of texts) assert.deepEqual(parseCaption(text), spec, text);
    }
  }
  const full = scenes[0]!;
  assert.equal(caption(full), 'a small red circle on the left on a white background');
  assert.equal(caption(full, 1), 'white background with a small red circle on the left');
  assert.equal(caption({ color: 'red', shape: 'circle' }), 'a red circle');
  assert.equal(caption({ size: 'large', position: 'top' }), 'a large shape at the top');
  assert.equal(caption({}), 'a shape');
  assert.equal(caption({ background: 'black' }, 1), 'black background with a shape');
  assert.deepEqual(parseCaption('A BIG yellow Triangle in the middle.'), {
    shape: 'triangle',
    color: 'yellow',
    position: 'center',
    size: 'large',
  });
  assert.deepEqual(parseCaption('something blue, please'), { color: 'blue' });
  assert.equal(parseCaption('a small red circle on the left and right'), undefined, 'two positions');
  assert.deepEqual(parseCaption('a red red circle'), { color: 'red', shape: 'circle' }, 'repeats are fine');
});

test('samplePrompts: deterministic per seed; the scene has what the caption names; naming frequency; open-only and fully named sets', () => {
  const a = samplePrompts(4000, 11);
  assert.deepEqual(samplePrompts(4000, 11), a);
  assert.notDeepEqual(samplePrompts(50, 12), a.slice(0, 50));
  for (const p of a) {
    assert.deepEqual(parseCaption(p.prompt), p.spec, p.prompt);
    assert.ok(satisfies(p.scene, p.spec));
  }
  for (const attr of ATTRIBUTES) {
    const share = a.filter((p) => p.spec[attr] !== undefined).length / a.length;
    assert.ok(Math.abs(share - NAME_PROBABILITY) < 0.03, `${attr} named in ${share}`);
  }
  // Scenes are uniform: each colour ~1/6 of the draws.
  for (const c of ATTRIBUTE_VALUES.color)
    assert.ok(Math.abs(a.filter((p) => p.scene.color === c).length / a.length - 1 / 6) < 0.025, c);
  const open = samplePrompts(300, 3, { nameProbability: 0.4, openOnly: true });
  assert.ok(open.every((p) => openAttributes(p.spec).length > 0));
  assert.ok(
    samplePrompts(50, 3, { nameProbability: 1 }).every(
      (p) => openAttributes(p.spec).length === 0 && parseCaption(p.prompt) !== undefined,
    ),
  );
  assert.ok(samplePrompts(20, 5, { template: 0 }).every((p) => p.prompt === caption(p.spec, 0)));
  assert.throws(() => samplePrompts(1, 1, { nameProbability: 1, openOnly: true }), {
    message: 'samplePrompts: openOnly needs nameProbability < 1',
  });
  assert.equal(ShapesWorld.name, 'shapes');
  assert.equal(ShapesWorld.imageSize, 32);
  assert.equal(ShapesWorld.channels, 3);
});

test('uniformCoverage: 1 − total-variation distance to uniform, closed forms', () => {
  assert.equal(uniformCoverage(['a', 'b', 'c'], ['a', 'b', 'c']), 1);
  assert.ok(Math.abs(uniformCoverage(['a', 'a', 'a'], ['a', 'b', 'c']) - 1 / 3) < 1e-12); // TV = ½(⅔ + ⅓ + ⅓)
  assert.ok(Math.abs(uniformCoverage(['a', 'a', 'b'], ['a', 'b', 'c']) - 2 / 3) < 1e-12); // TV = ½(⅓ + 0 + ⅓)
  assert.equal(uniformCoverage(['a', 'b'], ['a', 'b', 'c', 'd']), 0.5);
  assert.equal(uniformCoverage([], ['a', 'b']), 0);
});

test('scoreImages on hand-made cases: valid, named, coverage', () => {
  const want: Scene = { shape: 'circle', color: 'blue', position: 'top', size: 'large', background: 'white' };
  const right = renderScene(want);
  const wrongColor = renderScene({ ...want, color: 'cyan' });
  const blank = new Float32Array(3 * P).fill(1); // white, no object
  const spec: Spec = { ...want };
  assert.deepEqual(scoreImages([right], [spec]), {
    n: 1,
    valid: 1,
    named: 1,
    coverage: 1,
    coverageByAttribute: {},
    differingPxMedian: 0,
  });
  // No object found: every pixel counts as differing.
  assert.equal(scoreImages([blank, blank], [spec, spec]).differingPxMedian, P);
  assert.deepEqual(scoreImages([right, wrongColor, blank], [spec, spec, spec]), {
    n: 3,
    valid: 2 / 3,
    named: 1 / 3,
    coverage: 1,
    coverageByAttribute: {},
    differingPxMedian: 0, // 0, 0, 1024: the middle one
  });
  // "a blue circle" four times: positions top, top, left, bottom; sizes all large; backgrounds white ×3, black ×1.
  const open: Spec = { shape: 'circle', color: 'blue' };
  const imgs = [want, want, { ...want, position: 'left' }, { ...want, position: 'bottom', background: 'black' }].map(
    (s) => renderScene(s as Scene),
  );
  const r = scoreImages(imgs, [open, open, open, open]);
  assert.equal(r.valid, 1);
  assert.equal(r.named, 1);
  // position: (2, 1, 1, 0, 0)/4 vs 1/5 each → TV = ½(0.3 + 0.05 + 0.05 + 0.2 + 0.2) = 0.4
  // size: (0, 1) vs ½ → TV 0.5; background: (¾, ¼) vs ½ → TV 0.25
  assert.ok(Math.abs(r.coverageByAttribute.position! - 0.6) < 1e-12);
  assert.equal(r.coverageByAttribute.size, 0.5);
  assert.equal(r.coverageByAttribute.background, 0.75);
  assert.deepEqual(Object.keys(r.coverageByAttribute), ['position', 'size', 'background']);
  assert.ok(Math.abs(r.coverage - (0.6 + 0.5 + 0.75) / 3) < 1e-12);
  // An invalid image counts for neither named nor coverage.
  const withBlur = scoreImages([...imgs, mean(imgs)], [open, open, open, open, open]);
  assert.equal(withBlur.valid, 0.8);
  assert.equal(withBlur.named, 0.8);
  assert.deepEqual(withBlur.coverageByAttribute, r.coverageByAttribute);
  assert.deepEqual(scoreImages([], []), {
    n: 0,
    valid: 0,
    named: 0,
    coverage: 1,
    coverageByAttribute: {},
    differingPxMedian: 0,
  });
  assert.throws(() => scoreImages([right], []), { message: 'scoreReadings: 1 readings for 0 specs' });
});

test('contactSheet tiles ground-truth renders', () => {
  const sheet = contactSheet(scenes.slice(0, 5), 3, { scale: 2, pad: 1 });
  assert.equal(sheet.width, 3 * 64 + 4);
  assert.equal(sheet.height, 2 * 64 + 3);
  assert.equal(sheet.rgb.length, sheet.width * sheet.height * 3);
  const at = (x: number, y: number) => [
    ...sheet.rgb.subarray((y * sheet.width + x) * 3, (y * sheet.width + x) * 3 + 3),
  ];
  assert.deepEqual(at(1, 1), [255, 255, 255]); // scenes[0]: white background, top-left tile corner
  assert.deepEqual(at(1 + 20, 1 + 32), [255, 0, 0]); // small red circle on the left: centre (10, 16) × 2
});

test('every vocabulary word is plain English for the CLIP BPE tokenizer', () => {
  const tok = ClipTokenizer.fromFile();
  for (const a of ATTRIBUTES) {
    for (const w of ATTRIBUTE_VALUES[a]) {
      const ids = tok.encode(w);
      assert.ok(ids.length >= 1 && ids.length <= 2, `${w} → ${ids}`);
      assert.equal(tok.decode(ids).trim(), w);
    }
  }
});

test('posteriorMean equals the softmax over allowed scenes computed by hand; its limits are x0 and the mean of what the caption allows', async () => {
  const { posteriorMean } = await import('../src/worlds/shapes/index.js');
  const torch = await import('@cdistill/torch');
  const specs: Spec[] = [{ color: 'red', shape: 'circle' }, {}, { ...scenes[7]! }];
  const truth = [scenes.find((s) => s.color === 'red' && s.shape === 'circle')!, scenes[200]!, scenes[7]!];
  const x0 = renderToTensor(truth);
  const rng = mulberry32(4);
  for (const sigma of [0.3, 2, 6]) {
    const noise = Float32Array.from({ length: x0.numel }, () => normal(rng) * sigma);
    const xn = x0.add(torch.tensor(noise, { shape: [...x0.shape] }));
    const got = posteriorMean(xn, torch.full([3], sigma), specs).toFloat32Array();
    const x = xn.toFloat32Array();
    const P = 3 * 32 * 32;
    specs.forEach((spec, i) => {
      const allowed = scenes.filter((s) => ATTRIBUTES.every((a) => spec[a] === undefined || spec[a] === s[a]));
      const logw = allowed.map((s) => {
        const r = renderScene(s);
        let d = 0;
        for (let p = 0; p < P; p++) d += (x[i * P + p]! - (r[p]! * 2 - 1)) ** 2;
        return -d / (2 * sigma * sigma);
      });
      const max = Math.max(...logw);
      const w = logw.map((l) => Math.exp(l - max));
      const z = w.reduce((a, b) => a + b, 0);
      let err = 0;
      for (let p = 0; p < P; p++) {
        const want = allowed.reduce((acc, s, k) => acc + (w[k]! / z) * (renderScene(s)[p]! * 2 - 1), 0);
        err = Math.max(err, Math.abs(got[i * P + p]! - want));
      }
      assert.ok(err < 1e-5, `σ ${sigma}, spec ${JSON.stringify(spec)}: max error ${err}`);
    });
  }
  // σ → 0: x0 itself; σ → ∞: the plain mean of the allowed renders.
  assert.ok(
    posteriorMean(x0, torch.full([3], 1e-3), specs)
      .sub(x0)
      .abs()
      .max()
      .item() < 1e-6,
  );
  const far = posteriorMean(x0, torch.full([3], 1e6), specs).toFloat32Array();
  const all = renderToTensor(scenes).mean(0).toFloat32Array();
  for (let p = 0; p < all.length; p += 97)
    assert.ok(Math.abs(far[3072 + p]! - all[p]!) < 1e-4, 'unconditional: the mean of all 360 scenes');
});
