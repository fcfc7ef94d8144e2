import { test } from 'node:test';
import assert from 'node:assert/strict';

import { checkSeed, mulberry32, normal, pick, randInt, shuffle, uniform } from '../src/util/prng.js';

test('mulberry32 matches the reference implementation and is deterministic', () => {
  const r = mulberry32(42);
  // First outputs of the widely used JS mulberry32 for seed 42 (its floats are these integers / 2^32).
  assert.deepEqual(
    [r(), r(), r()].map((x) => x / 2 ** 32),
    [0.6011037519201636, 0.44829055899754167, 0.8524657934904099],
  );
  const a = mulberry32(7),
    b = mulberry32(7),
    c = mulberry32(8);
  const xs = Array.from({ length: 100 }, a);
  assert.deepEqual(Array.from({ length: 100 }, b), xs);
  assert.notDeepEqual(Array.from({ length: 100 }, c), xs);
});

test('uniform draws lie in [0, 1) with the right mean; randInt/pick stay in range', () => {
  const r = mulberry32(1);
  let sum = 0;
  const counts = new Array<number>(6).fill(0);
  for (let i = 0; i < 60000; i++) {
    const u = uniform(r);
    assert.ok(u >= 0 && u < 1);
    sum += u;
    counts[randInt(r, 6)]!++;
  }
  assert.ok(Math.abs(sum / 60000 - 0.5) < 0.01);
  for (const n of counts) assert.ok(Math.abs(n - 10000) < 500, `randInt counts ${counts}`);
  assert.throws(() => randInt(r, 0), { message: 'randInt: n must be an integer in [1, 2^32], got 0' });
  assert.throws(() => pick(r, []), { message: 'pick: empty array' });
  assert.throws(() => mulberry32(-1), { message: 'seed must be an integer in [0, 2^32), got -1' });
  assert.equal(checkSeed(2 ** 32 - 1), 2 ** 32 - 1);
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
  assert.deepEqual(
    [...shuffled].sort((a, b) => a - b),
    items,
  );
  assert.deepEqual(shuffle(mulberry32(5), [...items]), shuffled);
});

test('randInt is exactly uniform: values a scaled float would favour are rejected and redrawn', () => {
  // n = 3·2^30 does not divide 2^32: floor(u·n) maps 2^32 integers onto n values, so a third of them get
  // two preimages. Rejection keeps x < 3·2^30 and takes x % n; a stream of known integers shows it.
  const stream = [3 * 2 ** 30 + 5, 7, 2 ** 32 - 1, 3 * 2 ** 30 - 1];
  const rng = () => stream.shift()!;
  assert.equal(randInt(rng, 3 * 2 ** 30), 7, 'the first draw is ≥ the limit and is redrawn');
  assert.equal(randInt(rng, 3 * 2 ** 30), 3 * 2 ** 30 - 1, 'so is 2^32 − 1; the largest value below the limit is kept');
  // Small n: counts of each residue over a full period segment stay within sampling noise.
  const r = mulberry32(11);
  const counts = new Array<number>(7).fill(0);
  for (let i = 0; i < 70000; i++) counts[randInt(r, 7)]!++;
  for (const c of counts) assert.ok(Math.abs(c - 10000) < 450, `counts ${counts}`);
});
