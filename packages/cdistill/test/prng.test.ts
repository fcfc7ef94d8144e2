import { test } from 'node:test';
import assert from 'node:assert/strict';

import { mulberry32, normal, pick, randInt, shuffle } from '../src/util/prng.js';

test('mulberry32 matches the reference implementation and is deterministic', () => {
  const r = mulberry32(42);
  // First outputs of the widely used JS mulberry32 for seed 42.
  assert.deepEqual([r(), r(), r()], [0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
  const a = mulberry32(7), b = mulberry32(7), c = mulberry32(8);
  const xs = Array.from({ length: 100 }, a);
  assert.deepEqual(Array.from({ length: 100 }, b), xs);
  assert.notDeepEqual(Array.from({ length: 100 }, c), xs);
});

test('uniform draws lie in [0, 1) with the right mean; randInt/pick stay in range', () => {
  const r = mulberry32(1);
  let sum = 0;
  const counts = new Array<number>(6).fill(0);
  for (let i = 0; i < 60000; i++) {
    const u = r();
    assert.ok(u >= 0 && u < 1);
    sum += u;
    counts[randInt(r, 6)]++;
  }
  assert.ok(Math.abs(sum / 60000 - 0.5) < 0.01);
  for (const n of counts) assert.ok(Math.abs(n - 10000) < 500, `randInt counts ${counts}`);
  assert.throws(() => randInt(r, 0));
  assert.throws(() => pick(r, []));
  assert.ok(['a', 'b'].includes(pick(r, ['a', 'b'])));
});

test('normal has mean 0 and variance 1; shuffle is a permutation', () => {
  const r = mulberry32(3);
  const xs = Array.from({ length: 50000 }, () => normal(r));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length;
  assert.ok(Math.abs(mean) < 0.02 && Math.abs(variance - 1) < 0.03, `mean ${mean} var ${variance}`);
  assert.ok(xs.every(Number.isFinite));
  const items = Array.from({ length: 20 }, (_, i) => i);
  const shuffled = shuffle(mulberry32(5), [...items]);
  assert.notDeepEqual(shuffled, items);
  assert.deepEqual([...shuffled].sort((a, b) => a - b), items);
  assert.deepEqual(shuffle(mulberry32(5), [...items]), shuffled);
});
