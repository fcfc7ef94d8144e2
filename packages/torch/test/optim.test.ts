import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { test } from 'node:test';

import * as torch from '../src/index.js';
import { assertClose } from './util.js';

// AdamW written out with plain numbers from Loshchilov & Hutter / torch.optim.AdamW's docs.
function referenceAdamW(
  p0: number[],
  grads: number[][],
  lr: number,
  b1: number,
  b2: number,
  eps: number,
  wd: number,
): number[] {
  const p = p0.slice();
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]!;
      p[i] = p[i]! * (1 - lr * wd);
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      const mHat = m[i]! / (1 - b1 ** t);
      const vHat = v[i]! / (1 - b2 ** t);
      p[i] = p[i]! - (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  });
  return p;
}

test('AdamW matches the written-out algorithm over several steps', () => {
  const p = torch.tensor([0.5, -1, 2, 0], { dtype: 'float64', requiresGrad: true });
  const opt = new torch.optim.AdamW([p], { lr: 0.1, betas: [0.8, 0.9], eps: 1e-8, weightDecay: 0.05 });
  const grads = [
    [1, -2, 0.5, 0],
    [0.3, 0.3, -1, 2],
    [-4, 1, 1, 1],
  ];
  for (const g of grads) {
    opt.zeroGrad();
    p.mul(torch.tensor(g, { dtype: 'float64' }))
      .sum()
      .backward();
    opt.step();
  }
  assertClose(p.detach().toArray(), referenceAdamW([0.5, -1, 2, 0], grads, 0.1, 0.8, 0.9, 1e-8, 0.05), 1e-12);
});

test('AdamW state saved and restored continues exactly', () => {
  const make = () => torch.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
  const stepWith = (opt: torch.optim.AdamW, p: torch.Tensor, k: number) => {
    opt.zeroGrad();
    p.pow(2).mul(k).sum().backward();
    opt.step();
  };
  const a = make();
  const optA = new torch.optim.AdamW([a], { lr: 0.01 });
  for (let k = 1; k <= 4; k++) stepWith(optA, a, k);
  const b = make();
  const optB = new torch.optim.AdamW([b], { lr: 0.01 });
  for (let k = 1; k <= 2; k++) stepWith(optB, b, k);
  const meta = optB.meta();
  const saved = new Map([...optB.stateTensors()].map(([n, t]) => [n, t.clone()]));
  const c = b.detach().clone().requiresGrad_();
  const optC = new torch.optim.AdamW([c], { lr: 0.5 });
  optC.loadState(meta, saved);
  for (let k = 3; k <= 4; k++) stepWith(optC, c, k);
  assert.ok(c.detach().equal(a.detach()), 'bit-identical after restore');
  assert.throws(() => optC.loadState(meta, new Map()), /AdamW.loadState: missing exp_avg.0; missing exp_avg_sq.0/);
});

// Machines whose libtorch kernels fuse the multiply-adds (AVX2 + FMA, libtorch 1.13's CPU build) must get
// the one-pass kernel; elsewhere its self-check may turn it off, and the comparisons below still hold.
const cpuFlags = existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '';
const expectFusedAdamW =
  process.arch === 'x64' &&
  /\bavx2\b/.test(cpuFlags) &&
  /\bfma\b/.test(cpuFlags) &&
  torch.buildInfo().torchVersion.startsWith('1.13');

test('fused AdamW on float32 CPU parameters equals the op-by-op update bit for bit', () => {
  if (expectFusedAdamW) assert.ok(torch.optim.fusedAdamWAvailable(), 'the fused kernel passed its self-check');
  // A matrix and vector (eight-lane loop and tail), odd sizes, and one large enough to be split across threads.
  const shapes = [[128, 64], [64], [7, 3], [13], [300, 130]];
  for (const weightDecay of [1e-2, 0]) {
    const gen = new torch.Generator(11);
    const init = shapes.map((s) => torch.randn(s, { generator: gen }));
    const targets = Array.from({ length: 12 }, () => shapes.map((s) => torch.randn(s, { generator: gen })));
    const run = (fused: boolean) => {
      const ps = init.map((t) => t.clone().requiresGrad_());
      const opt = new torch.optim.AdamW(ps, { lr: 3e-3, weightDecay, fused });
      for (const target of targets) {
        opt.zeroGrad();
        ps.reduce((acc, p, i) => acc.add(p.sub(target[i]!).pow(3).sum()), torch.tensor(0)).backward();
        opt.step();
      }
      return [...ps.map((p) => p.detach()), ...opt.stateTensors().values()];
    };
    const fused = run(true);
    const composed = run(false);
    for (const [i, t] of fused.entries())
      assert.ok(t.equal(composed[i]!), `tensor ${i} after 12 steps, weight decay ${weightDecay}`);
  }
});

test('a fused AdamW step counts as an in-place change of the parameter for autograd', () => {
  const p = torch.randn([16], { generator: new torch.Generator(2) }).requiresGrad_();
  const opt = new torch.optim.AdamW([p]);
  p.square().sum().backward();
  const y = p.mul(p);
  opt.step();
  assert.throws(() => y.sum().backward(), /modified by an inplace operation/);
});

test('clipGradNorm scales to the max norm and returns the norm before', () => {
  const a = torch.tensor([3, 0], { requiresGrad: true });
  const b = torch.tensor([4], { requiresGrad: true });
  a.mul(torch.tensor([1, 1]))
    .sum()
    .mul(0)
    .add(a.mul(torch.tensor([3, 0])).sum())
    .add(b.mul(4).sum())
    .backward();
  const norm = torch.optim.clipGradNorm([a, b], 1);
  assertClose([norm], [5], 1e-6);
  assertClose([...a.grad!.toArray(), ...b.grad!.toArray()], [0.6, 0, 0.8], 1e-5);
  assertClose([torch.optim.clipGradNorm([a, b], 10)], [1], 1e-5);
  assertClose(a.grad!.toArray(), [0.6, 0], 1e-5, 'below the limit nothing changes');
});

test('warmup then constant, as diffusers constant_with_warmup', () => {
  const lr = torch.optim.warmupConstant(1e-5, 100);
  assert.equal(lr(0), 0);
  assert.equal(lr(50), 5e-6);
  assert.equal(lr(100), 1e-5);
  assert.equal(lr(5000), 1e-5);
});

test('warmup, constant, then a linear fall to 0: the steps before the decay are warmupConstant exactly', () => {
  const plain = torch.optim.warmupConstant(1e-3, 10);
  const lr = torch.optim.warmupConstantLinearDecay(1e-3, 10, 60, 100);
  for (const s of [0, 5, 10, 59]) assert.equal(lr(s), plain(s), `step ${s}`);
  assert.equal(lr(60), 1e-3);
  assert.equal(lr(80), 1e-3 * 0.5);
  assert.equal(lr(99), 1e-3 * (1 / 40));
  assert.equal(lr(100), 0);
  const never = torch.optim.warmupConstantLinearDecay(1e-3, 10, 100, 100);
  assert.equal(never(99), 1e-3, 'a decay that starts at the end never starts');
});

test('lerpParameters is an EMA update', () => {
  const ema = torch.tensor([0, 10]);
  torch.optim.lerpParameters([ema], [torch.tensor([10, 0])], 0.1);
  assert.deepEqual(ema.toArray(), [1, 9]);
});

test('clipGradNorm is bit-identical to clip_grad_norm_ written as tensor ops (clipping or not)', () => {
  const gen = new torch.Generator(5);
  for (const maxNorm of [0.7, 1e6]) {
    const ps = [torch.randn([7, 3], { generator: gen }), torch.randn([5], { generator: gen })].map((p) =>
      p.requiresGrad_(),
    );
    const w = [torch.randn([7, 3], { generator: gen }), torch.randn([5], { generator: gen })];
    ps.reduce((acc, p, i) => acc.add(p.mul(w[i]!).square().sum()), torch.tensor(0)).backward();
    const grads = ps.map((p) => p.grad!.clone());
    // upstream: total = ‖[‖g‖₂ …]‖₂; coef = clamp(max_norm / (total + 1e-6), max=1); g *= coef
    const total = torch.stack(grads.map((g) => g.norm())).norm();
    const coef = torch.full([], maxNorm).div(total.add(1e-6)).clamp(undefined, 1);
    const norm = torch.optim.clipGradNorm(ps, maxNorm);
    assert.equal(norm, total.item());
    for (const [i, p] of ps.entries())
      assert.ok(p.grad!.equal(grads[i]!.mul(coef)), `grad ${i} at max norm ${maxNorm}`);
  }
});
