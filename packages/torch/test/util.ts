// Test helpers: element-wise comparison with a tolerance, and the path to the golden reference cases.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-6, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const err = Math.abs(a - e);
    if (!(err <= tol * Math.max(1, Math.abs(e))))
      assert.fail(`${what}[${i}]: got ${a}, expected ${e} (tolerance ${tol})`);
  }
}

/** Relative L2 error ‖a − b‖ / ‖b‖ (the reference README's measure). */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < expected.length; i++) {
    const d = actual[i]! - expected[i]!;
    num += d * d;
    den += expected[i]! ** 2;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

// Compiled tests run from packages/<pkg>/dist/test/; the repo root is four levels up and holds the
// golden reference cases in reference/.
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const referenceDir = join(repoRoot, 'reference');
