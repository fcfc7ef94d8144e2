import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as torch from '../src/index.js';
import { assertClose } from './util.js';

const { nn } = torch;

class Block extends nn.Module {
  readonly norm: torch.nn.LayerNorm;
  readonly proj: torch.nn.Linear;
  readonly scale: torch.Tensor;
  constructor(gen: torch.Generator) {
    super();
    this.norm = this.module('norm', new nn.LayerNorm(4, { eps: 1e-6, bias: false }));
    this.proj = this.module('proj', new nn.Linear(4, 3, { bias: false, generator: gen }));
    this.scale = this.param('scale', torch.ones([3]));
    this.buffer('table', torch.arange(3, undefined, 1, { dtype: 'float32' }));
    this.buffer('scratch', torch.zeros([1]), false);
  }
  forward(x: torch.Tensor): torch.Tensor {
    return this.proj.forward(this.norm.forward(x)).mul(this.scale);
  }
}
class Net extends nn.Module {
  readonly blocks: torch.nn.ModuleList<Block>;
  readonly head: torch.nn.Linear;
  constructor(gen: torch.Generator) {
    super();
    this.blocks = this.module('blocks', new nn.ModuleList([new Block(gen), new Block(gen)]));
    this.head = this.module('head', new nn.Linear(3, 2, { generator: gen }));
  }
}

test('state-dict keys are dotted PyTorch names in registration order', () => {
  const net = new Net(new torch.Generator(0));
  assert.deepEqual(
    [...net.stateDict().keys()],
    [
      'blocks.0.scale',
      'blocks.0.table',
      'blocks.0.norm.weight',
      'blocks.0.proj.weight',
      'blocks.1.scale',
      'blocks.1.table',
      'blocks.1.norm.weight',
      'blocks.1.proj.weight',
      'head.weight',
      'head.bias',
    ],
  );
  assert.deepEqual(
    net
      .namedParameters()
      .map(([k]) => k)
      .filter((k) => k.endsWith('table')),
    [],
  );
  assert.equal(net.parameterCount(), 2 * (3 + 4 + 12) + 6 + 2);
  assert.ok(net.parameters().every((p) => p.requiresGrad));
});

test('loadStateDict copies values and names every missing, unexpected and mis-shaped key at once', () => {
  const a = new Net(new torch.Generator(1));
  const b = new Net(new torch.Generator(2));
  b.loadStateDict(a.stateDict());
  assert.deepEqual(b.head.weight.toArray(), a.head.weight.toArray());
  const sd = new Map(a.stateDict());
  sd.delete('head.bias');
  sd.set('head.extra', torch.zeros([1]));
  sd.set('blocks.1.proj.weight', torch.zeros([3, 5]));
  assert.throws(() => b.loadStateDict(sd), {
    name: 'StateDictError',
    message:
      'Net.loadStateDict: missing keys (1): head.bias | unexpected keys (1): head.extra | ' +
      'shape mismatches (1): blocks.1.proj.weight: checkpoint [3, 5] vs model [3, 4]',
  });
  sd.set('blocks.1.proj.weight', torch.zeros([3, 4]));
  const r = b.loadStateDict(sd, { strict: false });
  assert.deepEqual(r, { missing: ['head.bias'], unexpected: ['head.extra'] });
});

test('Linear, LayerNorm, GroupNorm, Conv2d, Embedding compute their formulas', () => {
  const lin = new nn.Linear(2, 2);
  lin.loadStateDict({
    weight: torch.tensor([
      [1, 2],
      [3, 4],
    ]),
    bias: torch.tensor([0.5, -0.5]),
  });
  assert.deepEqual(lin.forward(torch.tensor([[1, 1]])).toArray(), [3.5, 6.5]);
  const bound = 1 / Math.sqrt(7);
  const wide = new nn.Linear(7, 50, { generator: new torch.Generator(0) });
  assert.ok(wide.weight.abs().max().item() <= bound, 'default init is U(±1/√fan_in)');
  const gn = new nn.GroupNorm(2, 4, { eps: 0 });
  const x = torch.tensor([1, 3, 10, 30], { shape: [1, 4, 1, 1] });
  assertClose(gn.forward(x).toArray(), [-1, 1, -1, 1], 1e-6);
  const conv = new nn.Conv2d(1, 1, 3, { padding: 1, bias: false });
  conv.loadStateDict({ weight: torch.zeros([1, 1, 3, 3]).add(1 / 9) });
  assertClose(
    conv.forward(torch.ones([1, 1, 3, 3])).toArray(),
    [4, 6, 4, 6, 9, 6, 4, 6, 4].map((v) => v / 9),
    1e-6,
  );
  const emb = new nn.Embedding(5, 2, { generator: new torch.Generator(0) });
  assert.deepEqual(emb.forward(torch.tensor([3], { dtype: 'int64' })).toArray(), emb.weight.select(0, 3).toArray());
  const ln = new nn.LayerNorm(2, { elementwiseAffine: false });
  assert.deepEqual([...ln.stateDict().keys()], []);
});

test('copy() is deep: new memory, same values, fields point at the new tensors', () => {
  const a = new Net(new torch.Generator(3));
  const b = a.copy();
  assert.deepEqual(b.head.weight.toArray(), a.head.weight.toArray());
  torch.noGrad(() => b.head.weight.add_(1));
  assert.notDeepEqual(b.head.weight.toArray(), a.head.weight.toArray());
  assert.equal(b.stateDict().get('head.weight'), b.head.weight, 'registry and field agree');
  assert.equal(b.blocks.at(0).proj, (b.blocks.children()[0]![1] as Block).proj);
  assert.ok(b.head.weight.requiresGrad);
});

test('to(dtype) casts floating tensors and re-points fields; train/eval propagate', () => {
  const net = new Net(new torch.Generator(4)).to({ dtype: 'float64' });
  assert.equal(net.head.weight.dtype, 'float64');
  assert.equal(net.stateDict().get('head.weight'), net.head.weight);
  assert.equal(net.blocks.at(1).scale.dtype, 'float64');
  net.eval();
  assert.equal(net.blocks.at(1).norm.training, false);
});

test('meta tensors give shapes without memory', () => {
  const big = new nn.Linear(100_000, 100_000, { device: 'meta', bias: false });
  assert.deepEqual(big.weight.shape, [100_000, 100_000]);
  assert.equal(big.weight.device, 'meta');
});
