import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as torch from '../src/index.js';

test('tidy frees what it made, keeps what it returns and what was kept', () => {
  const before = torch.liveTensors();
  let inner: torch.Tensor | undefined;
  let kept: torch.Tensor | undefined;
  const out = torch.tidy(() => {
    inner = torch.ones([3]);
    kept = torch.keep(torch.ones([3]));
    const a = inner.add(1);
    return { result: a.mul(2), list: [a] };
  });
  assert.equal(inner!.isDisposed, true);
  assert.equal(kept!.isDisposed, false);
  assert.deepEqual(out.result.toArray(), [4, 4, 4]);
  assert.deepEqual(out.list[0]!.toArray(), [2, 2, 2]);
  assert.equal(torch.liveTensors(), before + 3);
  out.result.dispose();
  out.list[0]!.dispose();
  kept!.dispose();
  assert.equal(torch.liveTensors(), before);
});

test('nested tidy hands results to the enclosing scope; a throw frees everything', () => {
  const before = torch.liveTensors();
  torch.tidy(() => {
    const fromInner = torch.tidy(() => torch.zeros([2]).add(1));
    assert.equal(fromInner.isDisposed, false);
  });
  assert.equal(torch.liveTensors(), before, 'the outer scope freed the inner result');
  assert.throws(
    () =>
      torch.tidy(() => {
        torch.zeros([100]);
        throw new Error('boom');
      }),
    /boom/,
  );
  assert.equal(torch.liveTensors(), before);
  assert.throws(() => torch.tidy(() => Promise.resolve(1)), /tidy: the function must be synchronous/);
});

test('tidy returning one tensor, a number or a kept tensor frees exactly the rest', () => {
  const before = torch.liveTensors();
  let tmp: torch.Tensor | undefined;
  const one = torch.tidy(() => {
    tmp = torch.ones([2]).add(1);
    return tmp.mul(3);
  });
  assert.equal(tmp!.isDisposed, true);
  assert.deepEqual(one.toArray(), [6, 6]);
  assert.equal(torch.liveTensors(), before + 1);
  const n = torch.tidy(() => torch.ones([4]).sum().item());
  assert.equal(n, 4);
  assert.equal(torch.liveTensors(), before + 1, 'a number result frees every tensor');
  const param = torch.keep(torch.zeros([1]));
  assert.equal(
    torch.tidy(() => {
      param.add(1);
      return param;
    }),
    param,
  );
  assert.equal(param.isDisposed, false);
  assert.equal(torch.liveTensors(), before + 2);
  one.dispose();
  param.dispose();
  assert.equal(torch.liveTensors(), before);
});

test('a disposed tensor gives a clear error naming the op', () => {
  const t = torch.ones([2]);
  t.dispose();
  t.dispose(); // idempotent
  assert.throws(() => t.add(1), { message: 'addScalar: argument 0 is a disposed tensor' });
});

test('10,000 train steps inside scopes leave the live-tensor count where it started', () => {
  const gen = new torch.Generator(0);
  const model = new torch.nn.Linear(8, 4, { generator: gen });
  const opt = new torch.optim.AdamW(model.parameters(), { lr: 1e-3 });
  const x = torch.keep(torch.randn([16, 8], { generator: gen }));
  const y = torch.keep(torch.randn([16, 4], { generator: gen }));
  const before = torch.liveTensors();
  let last = Infinity;
  for (let i = 0; i < 10_000; i++) {
    last = torch.tidy(() => {
      opt.zeroGrad();
      const loss = torch.mseLoss(model.forward(x).tanh(), y);
      loss.backward();
      torch.optim.clipGradNorm(model.parameters(), 1.0);
      opt.step();
      return loss.item();
    });
    assert.equal(torch.liveTensors(), before, `step ${i} leaked`);
  }
  assert.ok(Number.isFinite(last));
});

test('only tensors the GC may free count as V8 external memory: a scoped tensor never does', () => {
  const mib = 1 << 20;
  const before = torch.externalBytes();
  torch.tidy(() => {
    torch.zeros([mib]); // 4 MiB, freed by the scope: V8 must not see it as memory pressure
    assert.equal(torch.externalBytes(), before);
  });
  const escaped = torch.zeros([mib]); // no scope owns it: the GC does, and V8 hears of its bytes
  assert.equal(torch.externalBytes(), before + 4 * mib);
  const kept = torch.tidy(() => torch.keep(torch.zeros([mib / 2])));
  assert.equal(torch.externalBytes(), before + 6 * mib);
  escaped.dispose();
  kept.dispose();
  assert.equal(torch.externalBytes(), before);
});
