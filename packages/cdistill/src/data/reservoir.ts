// Seeded reservoir sampling (Algorithm R) for prompt sources too large to hold in memory.
//
// The PRNG lives here rather than in src/util/prng.ts only because that file was being written
// concurrently; this is the canonical mulberry32 step (returning the raw uint32), so the two can be
// merged without changing any sample as long as the shared one keeps that step and seeding.

/** Canonical mulberry32: a 32-bit state, period 2^32; plenty for sampling, not for cryptography. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Exactly uniform integer in [0, bound), bound ≤ 2^32: rejection avoids the modulo bias of `x % bound`. */
export function uniformInt(next: () => number, bound: number): number {
  if (!Number.isInteger(bound) || bound < 1 || bound > 2 ** 32) throw new RangeError(`uniformInt: bad bound ${bound}`);
  const limit = 2 ** 32 - (2 ** 32 % bound); // largest multiple of bound that fits in 32 bits
  for (;;) {
    const x = next();
    if (x < limit) return x % bound;
  }
}

/** Seeds are taken as given, so reject anything that would be silently folded onto another seed. */
export function checkSeed(seed: number): number {
  if (!Number.isInteger(seed) || seed < 0 || seed >= 2 ** 32) {
    throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
  }
  return seed;
}

/**
 * Uniform sample of `n` items without replacement from a stream of unknown length.
 * `result()` returns every item in stream order when at most `n` were offered; otherwise the sample
 * is shuffled with the same PRNG, so that any prefix of it is itself a uniform sample (Algorithm R's
 * slot order is not: early slots are biased towards early items).
 */
export class Reservoir<T> {
  private readonly items: T[] = [];
  private readonly next: () => number;
  /** How many items have been offered. */
  seen = 0;

  constructor(readonly n: number, seed: number) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`sample size must be a non-negative integer, got ${n}`);
    this.next = mulberry32(checkSeed(seed));
  }

  offer(item: T): void {
    const i = this.seen++;
    if (i < this.n) {
      this.items.push(item);
    } else {
      const j = uniformInt(this.next, i + 1);
      if (j < this.n) this.items[j] = item;
    }
  }

  result(): T[] {
    const out = this.items.slice();
    if (this.seen <= this.n) return out;
    for (let i = out.length - 1; i > 0; i--) {
      const j = uniformInt(this.next, i + 1);
      [out[i], out[j]] = [out[j] as T, out[i] as T];
    }
    return out;
  }
}
