#!/usr/bin/env python3
"""Expected values for the metric unit tests (packages/cdistill/test/metrics.test.ts), computed with
numpy alone from the published definitions, independently of the TypeScript code:

- CLIP score (Hessel et al. 2021, as torchmetrics and DMD2 report it): 100 * max(cos(image, text), 0)
  per pair, and the mean.
- Frechet distance (Heusel et al. 2017): |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2)), with
  unbiased covariances (np.cov). The trace of the square root is the sum of the square roots of the
  eigenvalues of the non-symmetric product S1 S2 (np.linalg.eigvals), a different route from the
  TypeScript one (a symmetric eigendecomposition of S1^(1/2) S2 S1^(1/2)).
- KID (Binkowski et al. 2018; clean-fid's kernel_distance): the unbiased MMD^2 with the kernel
  k(x, y) = (x.y / d + 1)^3. With subsets as large as both sets every subset is a permutation of
  the whole set, so the estimate does not depend on which subsets a random generator draws: that
  case is written here in closed form, over the full sets.

The features are float64 values that float32 holds exactly (multiples of 2^-10), so the test
can feed them to either precision. Usage: metrics_ref.py > packages/cdistill/test/data/metrics_ref.json
"""
import json
import sys

import numpy as np


def exact32(a):
    return np.round(a * 1024) / 1024


def frechet(x, y):
    mu1, mu2 = x.mean(0), y.mean(0)
    s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    ev = np.linalg.eigvals(s1 @ s2)
    tr_sqrt = np.sqrt(np.clip(ev.real, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def kid_full(x, y):
    d = x.shape[1]
    m = x.shape[0]
    assert y.shape[0] == m
    kxx = (x @ x.T / d + 1) ** 3
    kyy = (y @ y.T / d + 1) ** 3
    kxy = (x @ y.T / d + 1) ** 3
    off = lambda k: k.sum() - np.trace(k)
    return float((off(kxx) + off(kyy)) / (m * (m - 1)) - 2 * kxy.sum() / (m * m))


def clip_scores(img, txt):
    cos = (img * txt).sum(1) / (np.linalg.norm(img, axis=1) * np.linalg.norm(txt, axis=1))
    return 100 * np.maximum(cos, 0)


def main():
    rng = np.random.default_rng(12)
    d = 6
    # Two correlated Gaussian clouds with different means and covariances.
    a = exact32(rng.normal(size=(40, d)) @ rng.normal(size=(d, d)) * 0.5)
    b = exact32(rng.normal(size=(40, d)) @ rng.normal(size=(d, d)) * 0.7 + 0.3)
    img = exact32(rng.normal(size=(5, 4)))
    txt = exact32(rng.normal(size=(5, 4)))
    txt[1] = -img[1]  # a negative cosine: the score must clamp it to 0
    scores = clip_scores(img, txt)
    out = {
        "about": "written by packages/cdistill/bench/reference/metrics_ref.py (numpy %s)" % np.__version__,
        "a": a.tolist(),
        "b": b.tolist(),
        "fd_ab": frechet(a, b),
        "fd_aa": frechet(a, a),
        "kid_ab_full": kid_full(a, b),
        "kid_ba_full": kid_full(b, a),
        "clip_image": img.tolist(),
        "clip_text": txt.tolist(),
        "clip_scores": scores.tolist(),
        "clip_score_mean": float(scores.mean()),
    }
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
