// Fréchet distance between two feature sets, each summarised as a Gaussian (Heusel et al. 2017):
// ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁Σ₂)^½, unbiased covariances as numpy's np.cov. The trace of
// the square root is taken as Σ √λᵢ over the eigenvalues of the symmetric Σ₁^½ Σ₂ Σ₁^½ (similar to
// Σ₁Σ₂, so the same spectrum), with torch.linalg.eigh, instead of scipy's sqrtm of the non-symmetric
// product: no complex round-off to discard, and tiny negative eigenvalues of rank-deficient
// covariances (fewer images than dimensions) are clamped to zero rather than producing NaN.
import { eigh, tidy, type Tensor } from '@cdistill/torch';

import { asFeatures } from './features.js';

export interface GaussianStats {
  /** [D] */
  mu: Tensor;
  /** [D, D] */
  sigma: Tensor;
}

/** Mean and unbiased covariance of `x` [N, D] (N ≥ 2), float64 on the CPU. */
export function featureStats(x: Tensor): GaussianStats {
  return tidy(() => {
    const f = asFeatures(x, 'featureStats', 2);
    const mu = f.mean(0);
    const c = f.sub(mu);
    return {
      mu,
      sigma: c
        .transpose(0, 1)
        .matmul(c)
        .div(f.size(0) - 1),
    };
  });
}

const trace = (m: Tensor): number => {
  const n = m.size(0);
  const d = m.contiguous().data<'float64'>();
  let s = 0;
  for (let i = 0; i < n; i++) s += d[i * n + i]!;
  return s;
};

/** Σ^½ of a symmetric positive semi-definite matrix (negative round-off eigenvalues taken as 0). */
function sqrtPsd(s: Tensor): Tensor {
  const { values, vectors } = eigh(s);
  return vectors.mul(values.clamp(0).sqrt()).matmul(vectors.transpose(0, 1));
}

export function frechetDistanceOfStats(a: GaussianStats, b: GaussianStats): number {
  if (a.mu.shape.join() !== b.mu.shape.join())
    throw new Error(`frechetDistance: feature widths differ (${a.mu.size(0)} vs ${b.mu.size(0)})`);
  return tidy(() => {
    const m = (t: Tensor) => t.toOptions({ dtype: 'float64', device: 'cpu' });
    const [s1, s2] = [m(a.sigma), m(b.sigma)];
    const r = sqrtPsd(s1);
    const inner = r.matmul(s2).matmul(r);
    const sym = inner.add(inner.transpose(0, 1)).mul(0.5);
    const trSqrt = eigh(sym).values.clamp(0).sqrt().sum().item();
    const dMu = m(a.mu).sub(m(b.mu)).square().sum().item();
    return dMu + trace(s1) + trace(s2) - 2 * trSqrt;
  });
}

/** Fréchet distance between feature sets `x` [N, D] and `y` [M, D] (N, M ≥ 2). */
export function frechetDistance(x: Tensor, y: Tensor): number {
  const a = featureStats(x);
  const b = featureStats(y);
  try {
    return frechetDistanceOfStats(a, b);
  } finally {
    for (const t of [a.mu, a.sigma, b.mu, b.sigma]) t.dispose();
  }
}
