// The metrics against numbers computed independently: numpy (test/data/metrics_ref.json, written by
// bench/reference/metrics_ref.py) and closed forms for Gaussians with known means and covariances.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';

import { clipScores, mean } from '../src/metrics/clip-score.js';
import { featureStats, frechetDistance, frechetDistanceOfStats } from '../src/metrics/frechet.js';
import { kernelDistance, subsetIndices } from '../src/metrics/kid.js';
import { mulberry32 } from '../src/util/prng.js';

import { repoRoot } from './util.js';

interface Ref {
  a: number[][];
  b: number[][];
  fd_ab: number;
  fd_aa: number;
  kid_ab_full: number;
  kid_ba_full: number;
  clip_image: number[][];
  clip_text: number[][];
  clip_scores: number[];
  clip_score_mean: number;
}
const ref = JSON.parse(
  readFileSync(join(repoRoot, 'packages', 'cdistill', 'test', 'data', 'metrics_ref.json'), 'utf8'),
) as Ref;
const t32 = (rows: number[][]) => torch.tensor(rows, { dtype: 'float32' });
const close = (got: number, want: number, rel: number, what: string) =>
  assert.ok(Math.abs(got - want) <= rel * Math.abs(want), `${what}: ${got} vs ${want}`);

test('CLIP score: 100·max(cos, 0) per pair and the mean, as numpy computes them', () => {
  const s = clipScores(t32(ref.clip_image), t32(ref.clip_text));
  assert.equal(s.length, 5);
  assert.equal(s[1], 0); // the pair with cosine −1 is clamped
  for (const [i, v] of s.entries()) close(v, ref.clip_scores[i]!, 1e-12, `score ${i}`);
  close(mean(s), ref.clip_score_mean, 1e-12, 'mean');
  assert.throws(() => clipScores(t32([[1, 2]]), t32([[1, 2, 3]])), {
    message: 'clipScores: image [1, 2] and text [1, 3] differ',
  });
});

test('Fréchet distance matches numpy (eigenvalues of the non-symmetric Σ₁Σ₂) in float32 and float64 input', () => {
  close(frechetDistance(t32(ref.a), t32(ref.b)), ref.fd_ab, 1e-10, 'fd float32 input');
  const a64 = torch.tensor(ref.a, { dtype: 'float64' });
  close(frechetDistance(a64, torch.tensor(ref.b, { dtype: 'float64' })), ref.fd_ab, 1e-10, 'fd float64 input');
  assert.ok(Math.abs(frechetDistance(a64, a64)) < 1e-9);
  assert.throws(() => frechetDistance(t32([[1, 2]]), t32(ref.b)), {
    message: 'featureStats: needs at least 2 feature rows, got 1',
  });
});

test('Fréchet distance of Gaussians in closed form (commuting and non-commuting covariances)', () => {
  const g = (mu: number[], sigma: number[][]) => ({
    mu: torch.tensor(mu, { dtype: 'float64' }),
    sigma: torch.tensor(sigma, { dtype: 'float64' }),
  });
  // ‖(1,2)‖² + (4 + 9) + (1 + 1) − 2(√4·1 + √9·1) = 5 + 15 − 10
  close(
    frechetDistanceOfStats(
      g(
        [1, 2],
        [
          [4, 0],
          [0, 9],
        ],
      ),
      g(
        [0, 0],
        [
          [1, 0],
          [0, 1],
        ],
      ),
    ),
    10,
    1e-12,
    'diag',
  );
  // Σ₂ = I: tr(Σ₁^½) = √3 + √1 for Σ₁ = [[2,1],[1,2]] (eigenvalues 3, 1): 4 + 2 − 2(√3 + 1)
  const fd = frechetDistanceOfStats(
    g(
      [0, 0],
      [
        [2, 1],
        [1, 2],
      ],
    ),
    g(
      [0, 0],
      [
        [1, 0],
        [0, 1],
      ],
    ),
  );
  close(fd, 4 - 2 * Math.sqrt(3), 1e-12, 'rotated');
  // Sample statistics: the mean and the unbiased covariance of four points.
  const st = featureStats(
    torch.tensor(
      [
        [0, 0],
        [2, 0],
        [0, 2],
        [2, 2],
      ],
      { dtype: 'float64' },
    ),
  );
  assert.deepEqual(Array.from(st.mu.data<'float64'>()), [1, 1]);
  assert.deepEqual(Array.from(st.sigma.data<'float64'>()), [4 / 3, 0, 0, 4 / 3]);
});

test('KID: with subsets as large as the sets it is the full unbiased MMD² numpy computes, for any seed', () => {
  for (const seed of [0, 7]) {
    const k = kernelDistance(t32(ref.a), t32(ref.b), { seed, subsets: 3 });
    close(k, ref.kid_ab_full, 1e-10, `kid seed ${seed}`);
  }
  close(kernelDistance(t32(ref.b), t32(ref.a), { subsets: 1 }), ref.kid_ba_full, 1e-10, 'kid b,a');
  assert.throws(
    () =>
      kernelDistance(
        t32(ref.a),
        t32([
          [1, 2],
          [3, 4],
        ]),
      ),
    {
      message: 'KID: feature widths differ (6 vs 2)',
    },
  );
});

test('KID subsets: seeded, distinct indices; the same seed repeats, another seed differs', () => {
  const idx = subsetIndices(mulberry32(3), 40, 10);
  assert.equal(new Set(idx).size, 10);
  assert.ok(idx.every((i) => Number.isInteger(i) && i >= 0 && i < 40));
  assert.deepEqual(subsetIndices(mulberry32(3), 40, 10), idx);
  const o = { maxSubsetSize: 10, subsets: 5 };
  const k1 = kernelDistance(t32(ref.a), t32(ref.b), { ...o, seed: 1 });
  assert.equal(kernelDistance(t32(ref.a), t32(ref.b), { ...o, seed: 1 }), k1);
  assert.notEqual(kernelDistance(t32(ref.a), t32(ref.b), { ...o, seed: 2 }), k1);
  assert.throws(() => subsetIndices(mulberry32(3), 4, 5), { message: 'subsetIndices: cannot take 5 of 4' });
});
