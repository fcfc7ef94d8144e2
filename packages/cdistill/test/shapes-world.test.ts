import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';

import { ClipTokenizer } from '../src/models/tokenizer.js';
import { mulberry32, normal } from '../src/util/prng.js';
import {
  allScenes, ATTRIBUTES, ATTRIBUTE_VALUES, BACKGROUND_RGB, CAPTION_TEMPLATES, caption, COLOR_RGB, contactSheet,
  detectScene, HELD_OUT_PAIRS, heldOutScenes, imagesFromTensor, isHeldOut, parseCaption, renderScene,
  renderToTensor, samplePrompts, sceneKey, scoreImages, ShapesWorld, trainScenes, type Scene,
} from '../src/worlds/shapes/index.js';
import { vocabPath } from './util.js';

const scenes = allScenes();
const renders = scenes.map((s) => renderScene(s));
const S = 32;
const P = S * S;

const dist = (a: readonly number[], b: readonly number[]) => Math.hypot(...a.map((v, i) => v - (b[i] as number)));
const pixel = (img: Float32Array, x: number, y: number) => [0, 1, 2].map((c) => img[c * P + y * S + x] as number);
const withNoise = (img: Float32Array, sigma: number, rng: () => number) =>
  img.map((v) => Math.min(1, Math.max(0, v + sigma * normal(rng))));

test('vocabulary: 540 distinct scenes, colours well separated from each other and from backgrounds', () => {
  assert.equal(scenes.length, 3 * 6 * 5 * 2 * 3);
  assert.equal(new Set(scenes.map(sceneKey)).size, scenes.length);
  const colors = Object.values(COLOR_RGB);
  const bgs = Object.values(BACKGROUND_RGB);
  for (let i = 0; i < colors.length; i++) {
    for (let j = i + 1; j < colors.length; j++) assert.ok(dist(colors[i]!, colors[j]!) >= 1);
    for (const bg of bgs) assert.ok(dist(colors[i]!, bg) >= 0.86);
  }
  const words = ATTRIBUTES.flatMap((a) => [...ATTRIBUTE_VALUES[a]]);
  assert.equal(new Set(words).size, words.length, 'no word names two attributes');
});

test('renderer: CHW layout, only two colours, 1 px clear border, exact areas', () => {
  const s: Scene = { shape: 'square', color: 'red', position: 'center', size: 'small', background: 'gray' };
  const img = renderScene(s);
  assert.equal(img.length, 3 * P);
  assert.deepEqual(pixel(img, 16, 16), [1, 0, 0]);
  assert.deepEqual(pixel(img, 0, 0), [0.5, 0.5, 0.5]);
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
  back.forEach((img, i) => assert.deepEqual(img, renders[i]));
  t.dispose();
});

test('detector is exact on every render (all 540 scenes, and at 64 px)', () => {
  const wrong = scenes.filter((s, i) => JSON.stringify(detectScene(renders[i]!)) !== JSON.stringify(s)).map(sceneKey);
  assert.deepEqual(wrong, []);
  const big = scoreImages(scenes.map((s) => renderScene(s, 64)), scenes);
  assert.equal(big.all, 1);
});

test('detector is robust to Gaussian noise σ=0.05 (seeded): ≥ 98% all-correct', (t) => {
  const rng = mulberry32(2024);
  const score = scoreImages(renders.map((r) => withNoise(r, 0.05, rng)), scenes);
  t.diagnostic(`σ=0.05: ${JSON.stringify(score)}`);
  assert.ok(score.all >= 0.98, JSON.stringify(score));
});

test('detector: no object on a plain (or noisy plain) background; NaN gives nothing', () => {
  for (const bg of ATTRIBUTE_VALUES.background) {
    const img = new Float32Array(3 * P);
    for (let c = 0; c < 3; c++) img.fill(BACKGROUND_RGB[bg][c]!, c * P, (c + 1) * P);
    const none = { shape: undefined, color: undefined, position: undefined, size: undefined };
    assert.deepEqual(detectScene(img), { ...none, background: bg });
    assert.deepEqual(detectScene(withNoise(img, 0.05, mulberry32(1))), { ...none, background: bg });
  }
  assert.deepEqual(Object.values(detectScene(new Float32Array(3 * P).fill(NaN))), [undefined, undefined, undefined, undefined, undefined]);
  assert.throws(() => detectScene(new Float32Array(10)));
});

test('parseCaption round-trips every template for every scene, and reads hand-written prompts', () => {
  assert.ok(CAPTION_TEMPLATES.length >= 3);
  for (const s of scenes) {
    const texts = CAPTION_TEMPLATES.map((_, i) => caption(s, i));
    assert.equal(new Set(texts).size, texts.length);
    for (const text of texts) assert.deepEqual(parseCaption(text), s, text);
  }
  assert.equal(caption(scenes[0]!), 'a small red circle on the left on a gray background');
  assert.deepEqual(parseCaption('A BIG yellow Triangle in the middle, grey background.'), {
    shape: 'triangle', color: 'yellow', position: 'center', size: 'large', background: 'gray',
  });
  assert.equal(parseCaption('a red circle on the left on a gray background'), undefined, 'no size');
  assert.equal(parseCaption('a small red circle on the left and right on a gray background'), undefined, 'two positions');
  assert.deepEqual(parseCaption('a small red red circle on the left on a gray background'), scenes[0], 'repeats are fine');
});

test('held-out split: disjoint, non-empty, complete, every single value still in training', () => {
  const train = trainScenes();
  const held = heldOutScenes();
  assert.equal(held.length, HELD_OUT_PAIRS.length * 5 * 2 * 3);
  assert.equal(train.length + held.length, scenes.length);
  const trainKeys = new Set(train.map(sceneKey));
  assert.ok(held.every((s) => !trainKeys.has(sceneKey(s)) && isHeldOut(s)));
  assert.ok(train.every((s) => !isHeldOut(s)));
  for (const a of ATTRIBUTES) {
    for (const v of ATTRIBUTE_VALUES[a]) assert.ok(train.some((s) => s[a] === v), `${a}=${v} missing from training`);
  }
  for (const [shape, color] of HELD_OUT_PAIRS) assert.ok(!train.some((s) => s.shape === shape && s.color === color));
});

test('samplePrompts is deterministic per seed and respects the split', () => {
  const a = samplePrompts(200, 11);
  assert.deepEqual(samplePrompts(200, 11), a);
  assert.notDeepEqual(samplePrompts(200, 12), a);
  assert.ok(a.every((p) => !isHeldOut(p.scene) && JSON.stringify(parseCaption(p.prompt)) === JSON.stringify(p.scene)));
  assert.ok(new Set(a.map((p) => p.prompt)).size > 150, 'templates and scenes vary');
  assert.ok(samplePrompts(100, 3, { split: 'heldout' }).every((p) => isHeldOut(p.scene)));
  const all = samplePrompts(2000, 4, { split: 'all' });
  assert.ok(all.some((p) => isHeldOut(p.scene)) && all.some((p) => !isHeldOut(p.scene)));
  assert.ok(samplePrompts(20, 5, { template: 0 }).every((p) => p.prompt === caption(p.scene, 0)));
  assert.equal(ShapesWorld.name, 'shapes');
  assert.equal(ShapesWorld.imageSize, 32);
  assert.equal(ShapesWorld.channels, 3);
});

test('scoreImages on hand-made cases', () => {
  const want: Scene = { shape: 'circle', color: 'blue', position: 'top', size: 'large', background: 'white' };
  const right = renderScene(want);
  const wrongColor = renderScene({ ...want, color: 'cyan' });
  const wrongShapeAndPlace = renderScene({ ...want, shape: 'square', position: 'bottom' });
  const blank = new Float32Array(3 * P).fill(1); // white, no object
  assert.deepEqual(scoreImages([right], [want]), { n: 1, all: 1, shape: 1, color: 1, position: 1, size: 1, background: 1 });
  assert.deepEqual(scoreImages([wrongColor], [want]), { n: 1, all: 0, shape: 1, color: 0, position: 1, size: 1, background: 1 });
  assert.deepEqual(scoreImages([right, wrongColor, wrongShapeAndPlace, blank], [want, want, want, want]), {
    n: 4, all: 0.25, shape: 0.5, color: 0.5, position: 0.5, size: 0.75, background: 1,
  });
  assert.deepEqual(scoreImages([], []), { n: 0, all: 0, shape: 0, color: 0, position: 0, size: 0, background: 0 });
  assert.throws(() => scoreImages([right], []));
});

test('contactSheet tiles ground-truth renders', () => {
  const sheet = contactSheet(scenes.slice(0, 5), 3, { scale: 2, pad: 1 });
  assert.equal(sheet.width, 3 * 64 + 4);
  assert.equal(sheet.height, 2 * 64 + 3);
  assert.equal(sheet.rgb.length, sheet.width * sheet.height * 3);
  const at = (x: number, y: number) => [...sheet.rgb.subarray((y * sheet.width + x) * 3, (y * sheet.width + x) * 3 + 3)];
  assert.deepEqual(at(1, 1), [128, 128, 128]); // scenes[0]: gray background, top-left tile corner
  assert.deepEqual(at(1 + 20, 1 + 32), [255, 0, 0]); // small red circle on the left: centre (10, 16) × 2
});

test('every vocabulary word is plain English for the CLIP BPE tokenizer', { skip: !existsSync(vocabPath) && 'no CLIP vocab' }, () => {
  const tok = ClipTokenizer.fromFile(vocabPath);
  for (const a of ATTRIBUTES) {
    for (const w of ATTRIBUTE_VALUES[a]) {
      const ids = tok.encode(w);
      assert.ok(ids.length >= 1 && ids.length <= 2, `${w} → ${ids}`);
      assert.equal(tok.decode(ids).trim(), w);
    }
  }
});
