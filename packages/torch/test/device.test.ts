// The same checks on whatever device CDISTILL_TEST_DEVICE names (cpu by default; scripts/gpu/run.sh
// sets cuda): results on the device must match a float64 CPU reference, gradients included.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as torch from '../src/index.js';
import { relativeError } from './util.js';

const device = process.env.CDISTILL_TEST_DEVICE ?? 'cpu';
const onCuda = device.startsWith('cuda');

test(`device under test (${device}) is available`, () => {
  if (onCuda) {
    assert.ok(torch.cuda.isAvailable(), 'CUDA requested but not available');
    assert.ok(torch.cuda.deviceCount() >= 1);
    assert.equal(torch.buildInfo().cudaBuild, true);
  }
  assert.equal(torch.zeros([1], { device }).device, device === 'cuda' ? 'cuda:0' : device);
});

function composite(x: torch.Tensor, w: torch.Tensor, k: torch.Tensor): torch.Tensor {
  const h = torch.layerNorm(x.matmul(w), [w.size(1)], undefined, undefined, 1e-5).gelu('tanh'); // [8, 16]
  const q = h.reshape(2, 2, 4, 8);
  const a = torch.scaledDotProductAttention(q, q, q).reshape(2, 2, 4, 8);
  const c = torch.conv2d(a, k, undefined, { padding: 1 }).silu();
  return torch.groupNorm(c, 1, undefined, undefined, 1e-5).softmax(-1).mul(c).sum();
}

test(`ops and gradients on ${device} match the float64 CPU reference`, () => {
  const gen = new torch.Generator(11);
  const inputs = [
    [8, 12],
    [12, 16],
    [3, 2, 3, 3],
  ].map((s) => torch.randn(s, { dtype: 'float64', generator: gen }));
  const run = (dtype: torch.DType, dev: string) => {
    const leaves = inputs.map((t) => t.toOptions({ dtype, device: dev }).detach().requiresGrad_());
    const y = composite(leaves[0]!, leaves[1]!, leaves[2]!);
    y.backward();
    return { y: y.detach().to('cpu'), grads: leaves.map((l) => l.grad!.to('cpu')) };
  };
  const ref = run('float64', 'cpu');
  const ours = run('float32', device);
  assert.ok(relativeError(ours.y.toArray(), ref.y.toArray()) < 1e-5);
  for (const [i, g] of ours.grads.entries())
    assert.ok(relativeError(g.toArray(), ref.grads[i]!.toArray()) < 1e-4, `grad ${i}`);
});

test(`autocast on ${device}: bf16 matmuls on CUDA, a no-op on CPU`, () => {
  const a = torch.ones([16, 16], { device });
  const r = torch.autocast({ device, dtype: 'bfloat16' }, () => a.matmul(a));
  assert.equal(r.dtype, onCuda ? 'bfloat16' : 'float32');
  assert.equal(a.matmul(a).dtype, 'float32', 'autocast ends with its scope');
});

test(`a CPU generator gives the same numbers on ${device} as on CPU (batch- and device-independent noise)`, () => {
  const a = torch.randn([4, 5], { generator: new torch.Generator(3), device });
  const b = torch.randn([4, 5], { generator: new torch.Generator(3) });
  assert.deepEqual(a.to('cpu').toArray(), b.toArray());
  const g1 = torch
    .randn([3], { generator: new torch.Generator(9, device), device })
    .to('cpu')
    .toArray();
  const g2 = torch
    .randn([3], { generator: new torch.Generator(9, device), device })
    .to('cpu')
    .toArray();
  assert.deepEqual(g1, g2);
});

test(`AdamW steps on ${device} equal the CPU steps`, () => {
  const stepOn = (dev: string) => {
    const p = torch.tensor([0.5, -1, 2, 3], { dtype: 'float64', device: dev, requiresGrad: true });
    const opt = new torch.optim.AdamW([p], { lr: 0.1, weightDecay: 0.01 });
    for (let i = 0; i < 3; i++) {
      opt.zeroGrad();
      p.pow(3).sum().backward();
      torch.optim.clipGradNorm([p], 5);
      opt.step();
    }
    return p.detach().to('cpu').toArray();
  };
  assert.ok(relativeError(stepOn(device), stepOn('cpu')) < 1e-12);
});

test(`tensors load from safetensors onto ${device} and scopes free them`, () => {
  const before = torch.liveTensors();
  torch.tidy(() => {
    const t = torch.arange(12, undefined, 1, { dtype: 'float32', device }).reshape(3, 4);
    assert.deepEqual(t.sum(1).to('cpu').toArray(), [6, 22, 38]);
  });
  assert.equal(torch.liveTensors(), before);
});
