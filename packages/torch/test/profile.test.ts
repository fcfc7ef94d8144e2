// profileOps: counts every dispatched op and autograd node exactly, splits nested time into self and
// total, and refuses to nest.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as torch from '../src/index.js';

test('profileOps counts each op and autograd node once per call, forward and backward', () => {
  const a = torch.randn([64, 32]).requiresGrad_(true);
  const w = torch.randn([16, 32]).requiresGrad_(true);
  const { result, ops } = torch.profileOps(() => {
    for (let i = 0; i < 5; i++) torch.tidy(() => torch.nn.functional.linear(a, w).mul(2).sum().backward());
    return 'done';
  });
  assert.equal(result, 'done');
  const byName = new Map(ops.map((o) => [o.name, o]));
  const calls = (name: string) => byName.get(name)?.calls;
  assert.equal(calls('aten::linear'), 5);
  assert.equal(calls('aten::mm'), 15, "5 in linear's forward, 2 in each MmBackward0 (one per input)");
  assert.equal(calls('MmBackward0'), 5);
  assert.equal(calls('MulBackward1'), 5, 'the scalar multiply');
  assert.equal(calls('torch::autograd::AccumulateGrad'), 10, 'a and w, each backward');
  assert.equal(calls('aten::add_'), 8, 'the gradients accumulate from the second backward on');
  // linear's time holds its matrix product's: total ≥ the product's total, self = total − children.
  const linear = byName.get('aten::linear')!;
  const mm = ops.filter((o) => o.name === 'aten::mm' || o.name === 'aten::addmm' || o.name === 'aten::matmul');
  assert.ok(mm.length > 0, 'a matrix product under linear');
  assert.ok(linear.totalUs >= linear.selfUs && linear.selfUs >= 0);
  for (const o of ops) assert.ok(o.selfUs <= o.totalUs + 1e-9, `${o.name}: self ${o.selfUs} > total ${o.totalUs}`);
  for (let i = 1; i < ops.length; i++) assert.ok(ops[i - 1]!.selfUs >= ops[i]!.selfUs, 'largest self time first');
  // Nothing is recorded after it returns.
  const again = torch.profileOps(() => torch.tidy(() => void torch.noGrad(() => a.add(a))));
  assert.deepEqual(
    again.ops.map((o) => [o.name, o.calls]),
    [['aten::add', 1]],
  );
});

test('profileOps refuses to nest, and stops when the function throws', () => {
  assert.throws(
    () => torch.profileOps(() => torch.profileOps(() => 0)),
    /^Error: profileOps: already profiling on this thread$/,
  );
  assert.throws(
    () =>
      torch.profileOps(() => {
        throw new Error('boom');
      }),
    /^Error: boom$/,
  );
  assert.deepEqual(torch.profileOps(() => 1).ops, [], 'the failed runs left no observer behind');
});
