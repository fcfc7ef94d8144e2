import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as torch from '../src/index.js';
import { assertClose } from './util.js';

// A composite function touching matmul, layer norm, softmax, attention, silu, conv and reductions.
function composite(x: torch.Tensor, w: torch.Tensor): torch.Tensor {
  const h = torch.layerNorm(x.matmul(w), [w.size(1)], undefined, undefined, 1e-5).silu(); // [4, 6]
  const q = h.reshape(1, 2, 2, 6);
  const att = torch.scaledDotProductAttention(q, q, q, { forceMath: true });
  const img = att.reshape(1, 2, 2, 6).narrow(3, 0, 4).reshape(1, 2, 4, 2);
  const conv = torch.conv2d(
    img,
    w.narrow(0, 0, 2).reshape(2, 1, 2, 3).narrow(3, 0, 2).expand(2, 2, 2, 2).contiguous(),
    undefined,
    { padding: 1 },
  );
  return conv.tanh().pow(2).sum().add(h.softmax(-1).mul(h).mean().mul(3)).add(x.sigmoid().sum());
}

test('gradients of a composite function match central finite differences (float64)', () => {
  const gen = new torch.Generator(3);
  const x = torch.randn([4, 5], { dtype: 'float64', generator: gen }).requiresGrad_();
  const w = torch.randn([5, 6], { dtype: 'float64', generator: gen }).requiresGrad_();
  composite(x, w).backward();
  const analytic = [x.grad!.toArray(), w.grad!.toArray()];
  const eps = 1e-6;
  [x, w].forEach((param, which) => {
    const base = param.detach().toArray();
    const numeric: number[] = [];
    for (let i = 0; i < base.length; i++) {
      const f = (delta: number) => {
        const values = base.slice();
        values[i] = values[i]! + delta;
        const p = torch.tensor(values, { dtype: 'float64', shape: [...param.shape] });
        return torch.noGrad(() => (which === 0 ? composite(p, w.detach()) : composite(x.detach(), p)).item());
      };
      numeric.push((f(eps) - f(-eps)) / (2 * eps));
    }
    assertClose(analytic[which] as number[], numeric, 1e-6, which === 0 ? 'dL/dx' : 'dL/dw');
  });
});

test('backward with a gradient tensor; gradients accumulate; grad() leaves .grad alone', () => {
  const x = torch.tensor([1, 2, 3], { dtype: 'float64', requiresGrad: true });
  const y = x.mul(x); // dy/dx = 2x
  y.backward(torch.tensor([1, 0.5, 2], { dtype: 'float64' }));
  assert.deepEqual(x.grad!.toArray(), [2, 2, 12]);
  x.mul(3).sum().backward();
  assert.deepEqual(x.grad!.toArray(), [5, 5, 15], 'second backward accumulates');
  x.grad = undefined;
  assert.equal(x.grad, undefined);
  const [g] = torch.grad([x.pow(3).sum()], [x]);
  assert.deepEqual(g!.toArray(), [3, 12, 27]);
  assert.equal(x.grad, undefined);
});

test('noGrad records nothing and restores the mode, even on throw', () => {
  const x = torch.ones([2], { requiresGrad: true });
  const y = torch.noGrad(() => x.mul(2));
  assert.equal(y.requiresGrad, false);
  assert.equal(torch.isGradEnabled(), true);
  assert.throws(
    () =>
      torch.noGrad(() => {
        throw new Error('inside');
      }),
    /inside/,
  );
  assert.equal(torch.isGradEnabled(), true);
  assert.equal(torch.noGrad(() => torch.enableGrad(() => x.mul(2))).requiresGrad, true);
  const d = x.mul(2).detach();
  assert.equal(d.requiresGrad, false);
  assert.equal(x.isLeaf, true);
  assert.equal(x.mul(2).isLeaf, false);
  assert.equal(x.mul(x).gradFn, 'MulBackward0');
});

test('autocast is a no-op on CPU', () => {
  const a = torch.ones([2, 2]);
  const r = torch.autocast({ device: 'cpu', dtype: 'bfloat16' }, () => a.matmul(a));
  assert.equal(r.dtype, 'float32');
});
