// The project's one seeded PRNG, in plain TypeScript, for what must be reproducible without touching
// libtorch's generators (prompt sampling, the demo world's captions and scenes, test noise): the same
// seed gives the same stream on every platform, since mulberry32 is pure 32-bit integer arithmetic.

/** A source of uniform 32-bit unsigned integers. */
export type Rng = () => number;

/** Seeds are taken as given, so reject anything that would be silently folded onto another seed. */
export function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32)
    throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  return seed;
}

/** Canonical mulberry32: 32-bit state, period 2^32; fast, tiny, good enough for sampling (not for crypto). */
export function mulberry32(seed: number): Rng {
  let a = checkSeed(seed) | 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** A uniform float in [0, 1) (32 bits of resolution). */
export function uniform(rng: Rng): number {
  return rng() / 4294967296;
}

/** An exactly uniform integer in [0, n), n ≤ 2^32: rejection avoids the bias of scaling or `x % n`. */
export function randInt(rng: Rng, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 2 ** 32)
    throw new RangeError(`randInt: n must be an integer in [1, 2^32], got ${n}`);
  const limit = 2 ** 32 - (2 ** 32 % n); // the largest multiple of n that fits in 32 bits
  for (;;) {
    const x = rng();
    if (x < limit) return x % n;
  }
}

/** A uniformly chosen element of a non-empty array. */
export function pick<T>(rng: Rng, items: readonly T[]): T {
  if (items.length === 0) throw new RangeError('pick: empty array');
  return items[randInt(rng, items.length)]!;
}

/** A standard normal draw (Box–Muller; 1 − u keeps the log argument in (0, 1]). */
export function normal(rng: Rng): number {
  const u = 1 - uniform(rng);
  const v = uniform(rng);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Fisher–Yates shuffle, in place; returns the same array. */
export function shuffle<T>(rng: Rng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = randInt(rng, i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
