// Seeded reservoir sampling (Algorithm R) for prompt sources too large to hold in memory.
import { checkSeed, mulberry32, randInt, shuffle, type Rng } from '../util/prng.js';

/**
 * Uniform sample of `n` items without replacement from a stream of unknown length.
 * `result()` returns every item in stream order when at most `n` were offered; otherwise the sample
 * is shuffled with the same PRNG, so that any prefix of it is itself a uniform sample (Algorithm R's
 * slot order is not: early slots are biased towards early items).
 */
export class Reservoir<T> {
  private readonly items: T[] = [];
  private readonly rng: Rng;
  /** How many items have been offered. */
  seen = 0;

  constructor(
    readonly n: number,
    seed: number,
  ) {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`sample size must be a non-negative integer, got ${n}`);
    this.rng = mulberry32(checkSeed(seed));
  }

  offer(item: T): void {
    const i = this.seen++;
    if (i < this.n) {
      this.items.push(item);
    } else {
      const j = randInt(this.rng, i + 1);
      if (j < this.n) this.items[j] = item;
    }
  }

  result(): T[] {
    const out = this.items.slice();
    return this.seen <= this.n ? out : shuffle(this.rng, out);
  }
}
