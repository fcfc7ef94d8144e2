// The CD loss's branches against an analytic denoiser with known answers: for data x₀ ~ N(μ, s²) per
// element, the ideal denoiser is D(x, σ) = (s²·x + σ²·μ) / (s² + σ²) and the probability-flow ODE has the
// closed form x(σ) = μ + (x_s − μ)·√((s² + σ²) / (s² + σ_s²)). Every expected value below is computed
// here in plain JavaScript doubles, independently of the tensor code under test.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';

import { cdLoss } from '../src/diffusion/consistency.js';
import {
  denoiser,
  guidedNetwork,
  karrasSigmas,
  odeStep,
  preconditioning,
  type Denoiser,
} from '../src/diffusion/edm.js';

type Tensor = torch.Tensor;
const MU = 0.3;
const S = 0.8;

const dScalar = (x: number, sigma: number) => (S * S * x + sigma * sigma * MU) / (S * S + sigma * sigma);
const gaussianDenoiser: Denoiser = (x, sigma) => {
  const s2 = typeof sigma === 'number' ? sigma * sigma : sigma.reshape(-1, 1, 1, 1).square();
  const num = x.mul(S * S).add(typeof s2 === 'number' ? s2 * MU : s2.mul(MU));
  return num.div(typeof s2 === 'number' ? S * S + s2 : s2.add(S * S));
};
const eulerHand = (x: number, a: number, b: number) => x + (b - a) * ((x - dScalar(x, a)) / a);
const heunHand = (x: number, a: number, b: number) => {
  const d = (x - dScalar(x, a)) / a;
  const xe = x + (b - a) * d;
  const d2 = (xe - dScalar(xe, b)) / b;
  return x + (b - a) * 0.5 * (d + d2);
};
const exact = (x: number, a: number, b: number) => MU + (x - MU) * Math.sqrt((S * S + b * b) / (S * S + a * a));
const close = (a: number, b: number, tol = 1e-10) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

test('odeStep: Euler and Heun equal the hand-computed steps; Heun tracks the exact ODE far better', () => {
  const x = torch.tensor([1.7, -0.4, 0.3, 2.2], { shape: [4, 1, 1, 1], dtype: 'float64' });
  const xs = x.toArray();
  for (const [a, b] of [
    [10, 6],
    [2, 1.2],
    [0.5, 0.2],
  ] as const) {
    const e = odeStep(gaussianDenoiser, x, a, b, 'euler').toArray();
    const h = odeStep(gaussianDenoiser, x, a, b, 'heun').toArray();
    xs.forEach((v, i) => {
      assert.ok(close(e[i]!, eulerHand(v, a, b)), `euler ${a}→${b}`);
      assert.ok(close(h[i]!, heunHand(v, a, b)), `heun ${a}→${b}`);
    });
  }
  // Integrated from σ 10 to 0.1 on Karras steps, Euler's error falls like 1/steps and Heun's like 1/steps².
  const err = (solver: 'euler' | 'heun', steps: number) => {
    const sig = karrasSigmas(steps + 1, { sigmaMin: 0.1, sigmaMax: 10, rho: 7 });
    let y = x;
    for (let i = 0; i + 1 < sig.length; i++) y = odeStep(gaussianDenoiser, y, sig[i]!, sig[i + 1]!, solver);
    return Math.max(...y.toArray().map((v, i) => Math.abs(v - exact(xs[i]!, 10, 0.1))));
  };
  const [e8, e32, h8, h32] = [err('euler', 8), err('euler', 32), err('heun', 8), err('heun', 32)];
  assert.ok(e8 / e32 > 3 && e8 / e32 < 5.5, `euler: 4× the steps, ${e8 / e32}× less error`);
  assert.ok(h8 / h32 > 10, `heun: 4× the steps, ${h8 / h32}× less error`);
  assert.ok(h32 < e32 / 10, `heun ${h32} vs euler ${e32} at 32 steps`);
  // Per-sample σ as tensors gives the same numbers as scalars.
  const sv = torch.full([4], 2, { dtype: 'float64' });
  const tv = torch.full([4], 1.2, { dtype: 'float64' });
  assert.deepEqual(
    odeStep(gaussianDenoiser, x, sv, tv, 'heun').toArray(),
    odeStep(gaussianDenoiser, x, 2, 1.2, 'heun').toArray(),
  );
  // To σ = 0 Heun takes no correction (EDM's last step): the same as Euler.
  assert.deepEqual(
    odeStep(gaussianDenoiser, x, 0.5, 0, 'heun').toArray(),
    odeStep(gaussianDenoiser, x, 0.5, 0, 'euler').toArray(),
  );
});

function batch(index: number[]) {
  const n = index.length;
  const latents = torch.tensor(
    Array.from({ length: n }, (_, i) => 0.1 + 0.4 * i),
    { shape: [n, 1, 1, 1], dtype: 'float64' },
  );
  const noise = torch.tensor(
    Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (0.5 + i)),
    { shape: [n, 1, 1, 1], dtype: 'float64' },
  );
  return { latents, noise, index: torch.tensor(index, { dtype: 'int64' }) };
}

/** The terms cdLoss should produce, by hand, with the Gaussian denoiser as teacher, student and target. */
function expected(index: number[], sig: number[], skip: number, solver: 'euler' | 'heun') {
  return index.map((n, i) => {
    const x0 = 0.1 + 0.4 * i;
    const eps = (i % 2 ? -1 : 1) * (0.5 + i);
    const a = sig[n]!;
    const b = sig[n + skip]!;
    const xS = x0 + a * eps;
    const xT = solver === 'euler' ? eulerHand(xS, a, b) : heunHand(xS, a, b);
    return { xS, xT, pred: dScalar(xS, a), target: dScalar(xT, b) };
  });
}

test('cdLoss: Euler and Heun teacher steps, skip 1 and skip 3, pseudo-Huber and L2, all as computed by hand', () => {
  const sigmas = karrasSigmas(10);
  const index = [0, 3, 5, 6];
  for (const solver of ['euler', 'heun'] as const) {
    for (const skip of [1, 3]) {
      const b = batch(index);
      const want = expected(index, sigmas, skip, solver);
      for (const loss of ['huber', 'l2'] as const) {
        const t = cdLoss(gaussianDenoiser, gaussianDenoiser, gaussianDenoiser, b, {
          sigmas,
          solver,
          skip,
          loss,
          huberC: 0.01,
        });
        const got = { xS: t.xS.toArray(), xT: t.xT.toArray(), pred: t.pred.toArray(), target: t.target.toArray() };
        want.forEach((w, i) => {
          for (const k of ['xS', 'xT', 'pred', 'target'] as const)
            assert.ok(close(got[k][i]!, w[k]), `${solver} skip ${skip} ${k}[${i}]: ${got[k][i]} vs ${w[k]}`);
        });
        const diffs = want.map((w) => w.pred - w.target);
        const wantLoss =
          loss === 'l2'
            ? diffs.reduce((acc, d) => acc + d * d, 0) / diffs.length
            : diffs.reduce((acc, d) => acc + Math.sqrt(d * d + 1e-4) - 0.01, 0) / diffs.length;
        assert.ok(close(t.loss.item(), wantLoss), `${solver} skip ${skip} ${loss}: ${t.loss.item()} vs ${wantLoss}`);
      }
    }
  }
});

test('CFG with a per-sample weight tensor (the guidance-embedding student): uncond + w·(cond − uncond) for each sample', () => {
  // An analytic "network": out = x + y_mean, so cond and uncond differ by the caption's mean exactly.
  const forward = (x: Tensor, _t: Tensor, y: Tensor) => x.add(y.mean([1, 2, 3], true).reshape(-1, 1, 1, 1));
  const y = torch.tensor([1, 1, 2, 2, 3, 3], { shape: [3, 1, 1, 2], dtype: 'float64' }); // caption means 1, 2, 3
  const x = torch.tensor([0.5, -1, 2], { shape: [3, 1, 1, 1], dtype: 'float64' });
  const w = torch.tensor([2, 5, 8], { dtype: 'float64' });
  const out = guidedNetwork(forward, y, w)(x, torch.zeros([3], { dtype: 'float64' })).toArray();
  // uncond = x (zero caption), cond = x + m: out = x + w·m
  assert.deepEqual(out, [0.5 + 2 * 1, -1 + 5 * 2, 2 + 8 * 3]);
  // w = 1 is the plain conditional model, with no doubled batch.
  let calls = 0;
  const counting = (a: Tensor, t: Tensor, yy: Tensor) => {
    calls += a.size(0);
    return forward(a, t, yy);
  };
  assert.deepEqual(guidedNetwork(counting, y, 1)(x, torch.zeros([3])).toArray(), [1.5, 1, 5]);
  assert.equal(calls, 3);
});

test('boundary parametrization: c_skip, c_out as Song et al. write them; D(x, σ_min) = x whatever the network says', () => {
  const sd = 0.9;
  const sMin = 0.002;
  const sigmas = [sMin, 0.01, 0.5, 3, 80];
  const sig = torch.tensor(sigmas, { dtype: 'float64' });
  const edm = preconditioning(sig, sd);
  const cm = preconditioning(sig, sd, sMin);
  const [eSkip, eOut, eIn] = [edm.cSkip.toArray(), edm.cOut.toArray(), edm.cIn.toArray()];
  const [cSkip, cOut, cIn] = [cm.cSkip.toArray(), cm.cOut.toArray(), cm.cIn.toArray()];
  sigmas.forEach((s, i) => {
    const root = Math.sqrt(s * s + sd * sd);
    assert.ok(close(eSkip[i]!, (sd * sd) / (s * s + sd * sd)), `EDM c_skip(${s})`);
    assert.ok(close(eOut[i]!, (s * sd) / root), `EDM c_out(${s})`);
    assert.ok(close(cSkip[i]!, (sd * sd) / ((s - sMin) ** 2 + sd * sd)), `CM c_skip(${s})`);
    assert.ok(close(cOut[i]!, ((s - sMin) * sd) / root), `CM c_out(${s})`);
    // c_in (and c_noise) stay EDM's: the network sees the inputs it was trained on.
    assert.equal(cIn[i], eIn[i]);
  });
  assert.deepEqual([cSkip[0], cOut[0]], [1, 0]);
  assert.ok(eOut[0]! > 1e-3, "EDM's own c_out(σ_min) is not 0");
  // Whatever F returns, the boundary denoiser gives back its input at σ_min; EDM's does not.
  const x = torch.tensor([0.7, -1.3, 2.1], { shape: [3, 1, 1, 1], dtype: 'float64' });
  const net = (xIn: Tensor) => xIn.mul(0).add(5);
  assert.deepEqual(denoiser(net, sd, 'float64', sMin)(x, sMin).toArray(), x.toArray());
  assert.notDeepEqual(denoiser(net, sd, 'float64')(x, sMin).toArray(), x.toArray());
  // Away from σ_min: c_skip·x + c_out·5 with the CM coefficients.
  const got = denoiser(net, sd, 'float64', sMin)(x, 3).toArray();
  x.toArray().forEach((v, i) => {
    const want = cSkip[3]! * v + cOut[3]! * 5;
    assert.ok(close(got[i]!, want), `D(x, 3)[${i}] = ${got[i]} vs ${want}`);
  });
});
