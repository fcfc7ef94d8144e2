// Kernel Inception Distance's estimator (Bińkowski et al. 2018) on any features, with clean-fid's
// subsets: the unbiased MMD² under k(x, y) = (x·y / d + 1)³, averaged over `subsets` pairs of random
// subsets of size m = min(N, M, maxSubsetSize), each drawn without replacement. clean-fid draws them
// from numpy's global generator; here they come from the project's seeded PRNG, so a run repeats.
import { tensor, tidy, type Tensor } from '@cdistill/torch';

import { checkSeed, mulberry32, randInt, type Rng } from '../util/prng.js';
import { asFeatures } from './features.js';

export interface KidOptions {
  /** clean-fid's num_subsets (100). */
  subsets?: number;
  /** clean-fid's max_subset_size (1000). */
  maxSubsetSize?: number;
  seed?: number;
}

/** `m` distinct indices in [0, n), uniformly chosen (a partial Fisher–Yates shuffle). */
export function subsetIndices(rng: Rng, n: number, m: number): number[] {
  if (!(Number.isInteger(m) && m >= 0 && m <= n)) throw new RangeError(`subsetIndices: cannot take ${m} of ${n}`);
  const idx = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < m; i++) {
    const j = i + randInt(rng, n - i);
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  return idx.slice(0, m);
}

/** Unbiased MMD² of two equal-sized float64 sets [m, d] under the cubic polynomial kernel. */
export function mmd2Unbiased(x: Tensor, y: Tensor): number {
  return tidy(() => {
    const [m, d] = x.shape as [number, number];
    const k = (a: Tensor, b: Tensor) => a.matmul(b.transpose(0, 1)).div(d).add(1).pow(3);
    // Σ_{i≠j} k(xᵢ, xⱼ) = Σ k − Σ_i k(xᵢ, xᵢ); the diagonal is (‖xᵢ‖²/d + 1)³.
    const offDiag = (a: Tensor) => k(a, a).sum().item() - a.square().sum(1).div(d).add(1).pow(3).sum().item();
    return (offDiag(x) + offDiag(y)) / (m * (m - 1)) - (2 * k(x, y).sum().item()) / (m * m);
  });
}

/** KID between feature sets `x` [N, D] and `y` [M, D] (N, M ≥ 2). */
export function kernelDistance(x: Tensor, y: Tensor, o: KidOptions = {}): number {
  const subsets = o.subsets ?? 100;
  const maxSubset = o.maxSubsetSize ?? 1000;
  if (!(Number.isInteger(subsets) && subsets >= 1)) throw new Error(`KID: subsets must be ≥ 1 (got ${subsets})`);
  if (!(Number.isInteger(maxSubset) && maxSubset >= 2))
    throw new Error(`KID: maxSubsetSize must be ≥ 2 (got ${maxSubset})`);
  const rng = mulberry32(checkSeed(o.seed ?? 0));
  return tidy(() => {
    const a = asFeatures(x, 'KID', 2);
    const b = asFeatures(y, 'KID', 2);
    if (a.size(1) !== b.size(1)) throw new Error(`KID: feature widths differ (${a.size(1)} vs ${b.size(1)})`);
    const m = Math.min(a.size(0), b.size(0), maxSubset);
    const rows = (t: Tensor) => tensor(subsetIndices(rng, t.size(0), m), { dtype: 'int64' });
    let total = 0;
    for (let s = 0; s < subsets; s++) {
      total += tidy(() => mmd2Unbiased(a.indexSelect(0, rows(a)), b.indexSelect(0, rows(b))));
    }
    return total / subsets;
  });
}
