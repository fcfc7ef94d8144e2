import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as torch from '../src/index.js';
import { assertClose } from './util.js';

test('creation: zeros, ones, full, arange, linspace, eye with dtypes', () => {
  assert.deepEqual(torch.zeros([2, 3]).toArray(), [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(torch.ones([2], { dtype: 'int32' }).data(), new Int32Array([1, 1]));
  assert.deepEqual(torch.full([3], 2.5, { dtype: 'float64' }).toArray(), [2.5, 2.5, 2.5]);
  const a = torch.arange(5);
  assert.equal(a.dtype, 'int64', 'integer arange is int64 as in PyTorch');
  assert.deepEqual(a.toArray(), [0, 1, 2, 3, 4]);
  assert.deepEqual(torch.arange(1, 2, 0.25).toArray(), [1, 1.25, 1.5, 1.75]);
  assert.deepEqual(torch.linspace(0, 1, 5).toArray(), [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(torch.eye(2, 3).toArray(), [1, 0, 0, 0, 1, 0]);
  assert.deepEqual(torch.zeros([2, 3, 4]).shape, [2, 3, 4]);
  assert.deepEqual(torch.zeros([2, 3, 4]).strides, [12, 4, 1]);
});

test('tensor(): nested arrays, typed arrays, every dtype round-trips', () => {
  const t = torch.tensor([
    [1, 2],
    [3, 4],
  ]);
  assert.deepEqual(t.shape, [2, 2]);
  assert.equal(t.dtype, 'float32');
  for (const dtype of torch.DTYPES) {
    const x = torch.tensor([0, 1, 2, 3], { dtype });
    assert.equal(x.dtype, dtype);
    const expected = dtype === 'bool' ? [0, 1, 1, 1] : [0, 1, 2, 3];
    assert.deepEqual(x.toArray(), expected, dtype);
  }
  const big = torch.tensor(new BigInt64Array([1n, -2n, 9007199254740991n]));
  assert.equal(big.dtype, 'int64');
  assert.deepEqual(Array.from(big.data<'int64'>()), [1n, -2n, 9007199254740991n]);
  const f = torch.tensor(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] });
  assert.deepEqual(f.shape, [2, 3]);
  assert.equal(f.select(1, 2).toArray()[1], 6);
});

test('half types round to nearest even like PyTorch', () => {
  // 1 + 2^-11 is exactly between two float16 neighbours: ties to even → 1.
  assert.deepEqual(torch.tensor([1 + 2 ** -11, 1 + 3 * 2 ** -11], { dtype: 'float16' }).toArray(), [1, 1 + 2 ** -9]);
  // bfloat16 keeps 8 bits of mantissa: 1 + 2^-8 ties to 1, 1 + 3·2^-8 to 1 + 2^-6.
  assert.deepEqual(torch.tensor([1 + 2 ** -8, 1 + 3 * 2 ** -8], { dtype: 'bfloat16' }).toArray(), [1, 1 + 2 ** -6]);
  // biome-ignore lint/suspicious/noApproximativeNumericConstant: a literal with a known float16 encoding, not π
  assert.deepEqual(torch.tensor([3.14159], { dtype: 'float16' }).toBytes(), new Uint8Array([0x48, 0x42]));
});

test('item, to(dtype), clone, detach, contiguous', () => {
  assert.equal(torch.tensor([7.5]).item(), 7.5);
  assert.equal(torch.tensor([true]).item(), 1);
  assert.throws(() => torch.zeros([2]).item(), /item: a tensor with 2 elements cannot be converted to a number/);
  const x = torch.tensor([1.7, -1.7]);
  assert.deepEqual(x.to('int32').toArray(), [1, -1]);
  assert.equal(x.to('float32'), x, 'to() with the same dtype returns the tensor itself');
  const c = x.clone();
  c.add_(1);
  assert.deepEqual(
    x.toArray().map((v) => Math.round(v * 10)),
    [17, -17],
    'clone does not share memory',
  );
  const t = torch.arange(6).reshape(2, 3).transpose(0, 1);
  assert.equal(t.isContiguous, false);
  assert.equal(t.contiguous().isContiguous, true);
  assert.deepEqual(t.contiguous().toArray(), [0, 3, 1, 4, 2, 5]);
});

test('element-wise math against hand-computed values, with broadcasting', () => {
  const a = torch.tensor(
    [
      [1, 2, 3],
      [4, 5, 6],
    ],
    { dtype: 'float64' },
  );
  const b = torch.tensor([10, 20, 30], { dtype: 'float64' });
  assert.deepEqual(a.add(b).toArray(), [11, 22, 33, 14, 25, 36]);
  assert.deepEqual(a.sub(1).toArray(), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(a.mul(b).toArray(), [10, 40, 90, 40, 100, 180]);
  assert.deepEqual(b.div(a).toArray(), [10, 10, 10, 2.5, 4, 5]);
  assert.deepEqual(a.pow(2).toArray(), [1, 4, 9, 16, 25, 36]);
  assert.deepEqual(a.rsub(10).toArray(), [9, 8, 7, 6, 5, 4]);
  assert.deepEqual(a.rdiv(60).toArray(), [60, 30, 20, 15, 12, 10]);
  assert.deepEqual(a.neg().abs().toArray(), [1, 2, 3, 4, 5, 6]);
  assertClose(a.sqrt().toArray(), [1, Math.SQRT2, Math.sqrt(3), 2, Math.sqrt(5), Math.sqrt(6)], 1e-15);
  assertClose(
    a.rsqrt().toArray(),
    [1, 1 / Math.SQRT2, 1 / Math.sqrt(3), 0.5, 1 / Math.sqrt(5), 1 / Math.sqrt(6)],
    1e-15,
  );
  assertClose(a.exp().log().toArray(), [1, 2, 3, 4, 5, 6], 1e-14);
  const x = torch.tensor([-2, -0.5, 0, 0.5, 2], { dtype: 'float64' });
  const xs = [-2, -0.5, 0, 0.5, 2];
  const sig = (v: number) => 1 / (1 + Math.exp(-v));
  assertClose(x.sin().toArray(), xs.map(Math.sin), 1e-15);
  assertClose(x.cos().toArray(), xs.map(Math.cos), 1e-15);
  assertClose(x.tanh().toArray(), xs.map(Math.tanh), 1e-15);
  assertClose(x.sigmoid().toArray(), xs.map(sig), 1e-15);
  assertClose(
    x.silu().toArray(),
    xs.map((v) => v * sig(v)),
    1e-15,
  );
  // gelu exact: x·Φ(x); values of Φ from the error function.
  const phi = [0.022750131948179195, 0.3085375387259869, 0.5, 0.6914624612740131, 0.9772498680518208];
  assertClose(
    x.gelu().toArray(),
    xs.map((v, i) => v * phi[i]!),
    1e-12,
  );
  const tanhGelu = (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
  assertClose(x.gelu('tanh').toArray(), xs.map(tanhGelu), 1e-12);
  assert.deepEqual(x.clamp(-1, 1).toArray(), [-1, -0.5, 0, 0.5, 1]);
  assert.deepEqual(x.clamp(undefined, 0).toArray(), [-2, -0.5, 0, 0, 0]);
  assert.deepEqual(x.gt(0).toArray(), [0, 0, 0, 1, 1]);
  assert.deepEqual(x.le(-0.5).toArray(), [1, 1, 0, 0, 0]);
  assert.deepEqual(torch.where(x.gt(0), x, 0).toArray(), [0, 0, 0, 0.5, 2]);
  assert.deepEqual(torch.where(x.gt(0), 1, x).toArray(), [-2, -0.5, 0, 1, 1]);
});

test('type promotion follows PyTorch: int tensor + int stays int, + float becomes float', () => {
  const i = torch.tensor([1, 2], { dtype: 'int32' });
  assert.equal(i.add(1).dtype, 'int32');
  assert.equal(i.add(1.5).dtype, 'float32');
  assert.equal(torch.tensor([1], { dtype: 'float16' }).mul(2).dtype, 'float16');
  assert.equal(i.add(torch.tensor([1], { dtype: 'float64' })).dtype, 'float64');
  assert.equal(i.div(2).dtype, 'float32', 'true division of integers gives float');
});

test('reductions over dims with keepdim', () => {
  const a = torch.tensor([
    [1, 5, 3],
    [4, 2, 6],
  ]);
  assert.equal(a.sum().item(), 21);
  assert.deepEqual(a.sum(0).toArray(), [5, 7, 9]);
  assert.deepEqual(a.sum(1, true).shape, [2, 1]);
  assert.deepEqual(a.mean(1).toArray(), [3, 4]);
  assert.equal(a.max().item(), 6);
  const m = a.max(1);
  assert.deepEqual(m.values.toArray(), [5, 6]);
  assert.deepEqual(m.indices.toArray(), [1, 2]);
  assert.deepEqual(a.min(0).values.toArray(), [1, 2, 3]);
  assert.deepEqual(a.argmax(1).toArray(), [1, 2]);
  assert.equal(a.argmax().item(), 5);
  assert.deepEqual(a.amax(0).toArray(), [4, 5, 6]);
  assertClose(a.norm().toArray(), [Math.sqrt(1 + 25 + 9 + 16 + 4 + 36)], 1e-6);
  assertClose(a.norm(1, 1).toArray(), [9, 12], 1e-6);
  assertClose(a.var(1).toArray(), [4, 4], 1e-6);
  assertClose(a.std(1, { correction: 0 }).toArray(), [Math.sqrt(8 / 3), Math.sqrt(8 / 3)], 1e-6);
  const s = torch.tensor([1, 2, 3], { dtype: 'float64' }).softmax(0).toArray();
  const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
  assertClose(s, [Math.exp(1) / z, Math.exp(2) / z, Math.exp(3) / z], 1e-15);
  assertClose(
    torch.tensor([1, 2, 3], { dtype: 'float64' }).logSoftmax(0).toArray(),
    [1 - Math.log(z), 2 - Math.log(z), 3 - Math.log(z)],
    1e-15,
  );
});

test('orderings: topk, sort, argsort', () => {
  const x = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6]);
  const t = x.topk(3);
  assert.deepEqual(t.values.toArray(), [9, 6, 5]);
  assert.deepEqual(t.indices.toArray(), [5, 7, 4]);
  assert.deepEqual(x.sort().values.toArray(), [1, 1, 2, 3, 4, 5, 6, 9]);
  assert.deepEqual(x.argsort(-1, true).toArray().slice(0, 2), [5, 7]);
  assert.deepEqual(x.sort(0, false, true).indices.toArray().slice(0, 2), [1, 3], 'stable sort keeps tie order');
});

test('matmul, bmm, linear with and without bias, einsum', () => {
  const a = torch.tensor([
    [1, 2],
    [3, 4],
  ]);
  const b = torch.tensor([
    [5, 6],
    [7, 8],
  ]);
  assert.deepEqual(a.matmul(b).toArray(), [19, 22, 43, 50]);
  assert.deepEqual(
    torch
      .stack([a, b])
      .bmm(torch.stack([b, a]))
      .toArray(),
    [19, 22, 43, 50, 23, 34, 31, 46],
  );
  const w = torch.tensor([
    [1, 0],
    [1, 1],
    [0, 2],
  ]);
  assert.deepEqual(torch.linear(a, w).toArray(), [1, 3, 4, 3, 7, 8]);
  assert.deepEqual(torch.linear(a, w, torch.tensor([1, 1, 1])).toArray(), [2, 4, 5, 4, 8, 9]);
  assert.deepEqual(torch.einsum('ij,jk->ik', a, b).toArray(), [19, 22, 43, 50]);
  assert.deepEqual(torch.einsum('ii', a).toArray(), [5]);
});

test('shape ops: reshape, permute, squeeze, expand, repeat, cat, stack, chunk, split, narrow', () => {
  const x = torch.arange(24).reshape(2, 3, 4);
  assert.deepEqual(x.permute(2, 0, 1).shape, [4, 2, 3]);
  assert.equal(x.permute(2, 0, 1).contiguous().toArray()[1], 4);
  assert.deepEqual(x.flatten(1).shape, [2, 12]);
  assert.deepEqual(x.unsqueeze(1).shape, [2, 1, 3, 4]);
  assert.deepEqual(x.unsqueeze(1).squeeze(1).shape, [2, 3, 4]);
  assert.deepEqual(torch.tensor([1, 2]).reshape(2, 1).expand(2, 3).toArray(), [1, 1, 1, 2, 2, 2]);
  assert.deepEqual(torch.tensor([1, 2]).repeat(2).toArray(), [1, 2, 1, 2]);
  assert.deepEqual(torch.cat([torch.tensor([1]), torch.tensor([2, 3])]).toArray(), [1, 2, 3]);
  assert.deepEqual(torch.stack([torch.tensor([1, 2]), torch.tensor([3, 4])], 1).toArray(), [1, 3, 2, 4]);
  const parts = torch.arange(5).chunk(2);
  assert.deepEqual(
    parts.map((p) => p.toArray()),
    [
      [0, 1, 2],
      [3, 4],
    ],
  );
  assert.deepEqual(
    torch
      .arange(5)
      .split([1, 4])
      .map((p) => p.numel),
    [1, 4],
  );
  assert.deepEqual(
    torch
      .arange(5)
      .split(2)
      .map((p) => p.numel),
    [2, 2, 1],
  );
  assert.deepEqual(torch.arange(10).narrow(0, 2, 3).toArray(), [2, 3, 4]);
  assert.deepEqual(torch.arange(10).slice(0, 1, 8, 3).toArray(), [1, 4, 7]);
  const base = torch.zeros([4]);
  base.narrow(0, 1, 2).fill_(5);
  assert.deepEqual(base.toArray(), [0, 5, 5, 0], 'narrow is a view on the same storage');
});

test('indexing: indexSelect, gather, scatter, oneHot, embedding, index', () => {
  const x = torch.tensor([
    [1, 2],
    [3, 4],
    [5, 6],
  ]);
  const idx = torch.tensor([2, 0], { dtype: 'int64' });
  assert.deepEqual(x.indexSelect(0, idx).toArray(), [5, 6, 1, 2]);
  assert.deepEqual(x.index([idx]).toArray(), [5, 6, 1, 2]);
  assert.deepEqual(x.gather(1, torch.tensor([[1], [0], [1]], { dtype: 'int64' })).toArray(), [2, 3, 6]);
  const z = torch.zeros([2, 3]).scatter(1, torch.tensor([[2], [0]], { dtype: 'int64' }), torch.ones([2, 1]));
  assert.deepEqual(z.toArray(), [0, 0, 1, 1, 0, 0]);
  assert.deepEqual(torch.oneHot(torch.tensor([0, 2], { dtype: 'int64' }), 3).toArray(), [1, 0, 0, 0, 0, 1]);
  assert.deepEqual(torch.embedding(torch.tensor([1], { dtype: 'int64' }), x).toArray(), [3, 4]);
});

test('nn ops: conv2d, group_norm, layer_norm, interpolate, pad against hand computation', () => {
  // A 3x3 input, a 2x2 kernel of ones: each output is the sum of a 2x2 window.
  const x = torch.arange(9, undefined, 1, { dtype: 'float32' }).reshape(1, 1, 3, 3);
  const w = torch.ones([1, 1, 2, 2]);
  assert.deepEqual(torch.conv2d(x, w).toArray(), [8, 12, 20, 24]);
  // Zero-padded to 5x5, stride 2: windows sum to 0, 3, 9, 24; plus the bias 1.
  assert.deepEqual(torch.conv2d(x, w, torch.tensor([1]), { stride: 2, padding: 1 }).toArray(), [1, 4, 10, 25]);
  // Depthwise (groups = channels): each channel convolved with its own kernel.
  const x2 = torch.cat([x, x.mul(2)], 1);
  const w2 = torch.cat([w, w.neg()], 0);
  assert.deepEqual(torch.conv2d(x2, w2, undefined, { groups: 2 }).toArray(), [8, 12, 20, 24, -16, -24, -40, -48]);
  const gx = torch.tensor([[[[1, 3]], [[5, 7]]]]); // [1, 2, 1, 2]: one group of all 4 values, mean 4, var 5
  assertClose(
    torch.groupNorm(gx, 1, undefined, undefined, 0).toArray(),
    [-3, -1, 1, 3].map((v) => v / Math.sqrt(5)),
    1e-6,
  );
  const lx = torch.tensor([[1, 2, 3]]);
  const ln = torch.layerNorm(lx, [3], torch.tensor([1, 1, 2]), torch.tensor([0, 1, 0]), 0);
  const s = Math.sqrt(2 / 3);
  assertClose(ln.toArray(), [-1 / s, 1, 2 / s], 1e-6);
  assert.deepEqual(
    torch.interpolateNearest(torch.tensor([[[[1, 2]]]]), { scaleFactor: 2 }).toArray(),
    [1, 1, 2, 2, 1, 1, 2, 2],
  );
  assert.deepEqual(torch.pad(torch.tensor([[[[1]]]]), [1, 0, 0, 1]).toArray(), [0, 1, 0, 0]);
});

test('pooling with padding, TensorFlow-style averages, and bilinear resize, by hand', () => {
  const x = torch.tensor([
    [
      [
        [1, 2],
        [3, 4],
      ],
    ],
  ]);
  // Every padded 3×3 window covers the whole 2×2 input: max 4; mean 10/9 counting the 5 zeros, 10/4 not.
  assert.deepEqual(torch.maxPool2d(x, 3, { stride: 1, padding: 1 }).toArray(), [4, 4, 4, 4]);
  assertClose(torch.avgPool2d(x, 3, { stride: 1, padding: 1 }).toArray(), [10 / 9, 10 / 9, 10 / 9, 10 / 9], 1e-6);
  assert.deepEqual(
    torch.avgPool2d(x, 3, { stride: 1, padding: 1, countIncludePad: false }).toArray(),
    [2.5, 2.5, 2.5, 2.5],
  );
  assert.deepEqual(torch.avgPool2d(x, 2).toArray(), [2.5]);
  assert.deepEqual(torch.maxPool2d(torch.tensor([[[[1, 5, 2, 0, 3]]]]), [1, 3], { stride: [1, 2] }).toArray(), [5, 3]);
  // align_corners=False: output j samples input (j + 0.5)·(2/4) − 0.5, clamped to [0, 1]: −0.25, 0.25, 0.75, 1.25.
  assert.deepEqual(torch.interpolateBilinear(torch.tensor([[[[0, 1]]]]), [1, 4]).toArray(), [0, 0.25, 0.75, 1]);
  assert.deepEqual(
    torch.interpolateBilinear(torch.tensor([[[[0, 1]]]]), [1, 3], { alignCorners: true }).toArray(),
    [0, 0.5, 1],
  );
});

test('scaled dot-product attention equals softmax(q kᵀ/√d) v, masks and causal', () => {
  const gen = new torch.Generator(0);
  const q = torch.randn([2, 3, 5, 4], { dtype: 'float64', generator: gen });
  const k = torch.randn([2, 3, 6, 4], { dtype: 'float64', generator: gen });
  const v = torch.randn([2, 3, 6, 4], { dtype: 'float64', generator: gen });
  const ref = q.matmul(k.transpose(-2, -1)).div(2).softmax(-1).matmul(v);
  assertClose(torch.scaledDotProductAttention(q, k, v).toArray(), ref.toArray(), 1e-12);
  const mask = torch.tensor([1, 1, 1, 0, 0, 0], { dtype: 'bool' });
  const refMasked = q
    .matmul(k.transpose(-2, -1))
    .div(2)
    .add(torch.where(mask, 0, -Infinity))
    .softmax(-1)
    .matmul(v);
  assertClose(torch.scaledDotProductAttention(q, k, v, { mask }).toArray(), refMasked.toArray(), 1e-12);
  const kk = k.narrow(2, 0, 5);
  const vv = v.narrow(2, 0, 5);
  const causal = torch.ones([5, 5], { dtype: 'bool' }).tril();
  const refCausal = q
    .matmul(kk.transpose(-2, -1))
    .div(2)
    .add(torch.where(causal, 0, -Infinity))
    .softmax(-1)
    .matmul(vv);
  assertClose(torch.scaledDotProductAttention(q, kk, vv, { isCausal: true }).toArray(), refCausal.toArray(), 1e-12);
  assertClose(
    torch.scaledDotProductAttention(q, k, v, { forceMath: true, scale: 0.3 }).toArray(),
    q.matmul(k.transpose(-2, -1)).mul(0.3).softmax(-1).matmul(v).toArray(),
    1e-12,
  );
});

test('attention without grad on strided float32 heads (the BLAS path on 1.13) equals the composed math', () => {
  const gen = new torch.Generator(3);
  const [b, l, s, h, d] = [3, 7, 5, 2, 4];
  // Heads split off a fused projection, as the DiT's attention makes them: rows strided, not contiguous.
  const [q, k, v] = torch.randn([b, l, 3 * h * d], { generator: gen }).chunk(3, -1) as [
    torch.Tensor,
    torch.Tensor,
    torch.Tensor,
  ];
  const heads = (x: torch.Tensor, n: number) => x.view(b, n, h, d).transpose(1, 2);
  const qh = heads(q.contiguous(), l);
  const vh = v.narrow(1, 0, s).reshape(b, s, h, d).transpose(1, 2);
  const kh = heads(k.narrow(1, 0, s).contiguous(), s);
  const expected = (scale?: number) =>
    torch.scaledDotProductAttention(qh, kh, vh, { forceMath: true, ...(scale ? { scale } : {}) });
  const fast = torch.noGrad(() => torch.scaledDotProductAttention(qh, kh, vh));
  assert.deepEqual(fast.shape, [b, h, l, d]);
  assertClose(fast.toArray(), expected().toArray(), 1e-6);
  assertClose(
    torch.noGrad(() => torch.scaledDotProductAttention(qh, kh, vh, { scale: 0.3 })).toArray(),
    expected(0.3).toArray(),
    1e-6,
  );
  // Queries of one token (a row stride BLAS must not be handed as is) and a single head.
  const q1 = qh.narrow(2, 0, 1);
  assertClose(
    torch.noGrad(() => torch.scaledDotProductAttention(q1, kh, vh)).toArray(),
    torch.scaledDotProductAttention(q1, kh, vh, { forceMath: true }).toArray(),
    1e-6,
  );
  // Keys and values broadcast: one row for every token (row stride 0) and one batch for all (stride 0).
  const kRow = kh.narrow(2, 0, 1).expand([b, h, s, d]);
  const vAll = vh.narrow(0, 0, 1).expand([b, h, s, d]);
  assertClose(
    torch.noGrad(() => torch.scaledDotProductAttention(qh, kRow, vAll)).toArray(),
    torch.scaledDotProductAttention(qh, kRow.contiguous(), vAll.contiguous(), { forceMath: true }).toArray(),
    1e-6,
  );
  if (torch.blasThreads() !== undefined && torch.buildInfo().torchVersion.startsWith('1.')) {
    // The BLAS path writes [B, L, H, D] so that merging the heads back is a view.
    assert.equal(fast.transpose(1, 2).isContiguous, true);
  }
  // With a gradient wanted, autograd reaches q, k and v (the next test checks the values).
  const qg = qh.detach().requiresGrad_();
  torch.scaledDotProductAttention(qg, kh, vh).sum().backward();
  assert.deepEqual(qg.grad?.shape, [b, h, l, d]);
});

/** Heads split off fused projections as the DiT makes them, with grad; returns output and input grads. */
function attentionGrads(
  shape: { b: number; l: number; s: number; h: number; d: number },
  gen: torch.Generator,
  createGraph = false,
) {
  const { b, l, s, h, d } = shape;
  const x = torch.randn([b, l, 3 * h * d], { generator: gen });
  const y = torch.randn([b, s, 2 * h * d], { generator: gen });
  const upstream = torch.randn([b, h, l, d], { generator: gen });
  return (forceMath: boolean) => {
    const xg = x.detach().requiresGrad_();
    const yg = y.detach().requiresGrad_();
    const q = xg
      .narrow(2, 0, h * d)
      .view(b, l, h, d)
      .transpose(1, 2);
    const k = yg
      .narrow(2, 0, h * d)
      .view(b, s, h, d)
      .transpose(1, 2);
    const v = yg
      .narrow(2, h * d, h * d)
      .view(b, s, h, d)
      .transpose(1, 2);
    const out = torch.scaledDotProductAttention(q, k, v, { forceMath });
    const [gx, gy] = torch.grad([out.mul(upstream).sum()], [xg, yg], {
      createGraph,
      retainGraph: createGraph,
    }) as torch.Tensor[];
    return { out, gx: gx!, gy: gy!, xg, yg };
  };
}
const maxDiff = (a: torch.Tensor, b: torch.Tensor) => a.sub(b).abs().max().item();

test('attention with grad (the BLAS path on 1.13): output and gradients equal the composed math', () => {
  const gen = new torch.Generator(5);
  const blas = torch.blasThreads() !== undefined && torch.buildInfo().torchVersion.startsWith('1.');
  // The demo DiT's heads (64 tokens, width 32) and cross-attention to fewer keys: bit for bit on
  // BLAS, since every product is the composed graph's own sgemm with the same operands and flags.
  for (const shape of [
    { b: 4, l: 64, s: 64, h: 4, d: 32 },
    { b: 3, l: 64, s: 32, h: 2, d: 32 },
  ]) {
    const run = attentionGrads(shape, gen);
    const fast = run(false);
    const composed = run(true);
    const diffs = [maxDiff(fast.out, composed.out), maxDiff(fast.gx, composed.gx), maxDiff(fast.gy, composed.gy)];
    if (blas) assert.deepEqual(diffs, [0, 0, 0], `shape ${JSON.stringify(shape)}`);
    else for (const dd of diffs) assert.ok(dd < 1e-5, `shape ${JSON.stringify(shape)}: ${diffs}`);
    assert.ok(composed.gy.abs().max().item() > 0.1, 'the gradients must not be (near) zero');
  }
  // Tiny products, where ATen's bmm uses its own loops instead of BLAS: equal within rounding.
  const run = attentionGrads({ b: 3, l: 7, s: 5, h: 2, d: 4 }, gen);
  const fast = run(false);
  const composed = run(true);
  for (const [a, c] of [
    [fast.out, composed.out],
    [fast.gx, composed.gx],
    [fast.gy, composed.gy],
  ] as const)
    assertClose(a.toArray(), c.toArray(), 1e-6);
});

test('attention with grad (the BLAS path on 1.13): a double backward equals the composed math', () => {
  const gen = new torch.Generator(6);
  const run = attentionGrads({ b: 2, l: 16, s: 8, h: 2, d: 8 }, gen, true);
  const second = (r: ReturnType<typeof run>) =>
    torch.grad([r.gx.square().sum().add(r.gy.square().sum())], [r.xg, r.yg]) as torch.Tensor[];
  const [fx, fy] = second(run(false));
  const [cx, cy] = second(run(true));
  assertClose(fx!.toArray(), cx!.toArray(), 1e-5);
  assertClose(fy!.toArray(), cy!.toArray(), 1e-5);
  assert.ok(cx!.abs().max().item() > 0.01, 'the second derivative must not be (near) zero');
});

test('in-place ops return the same tensor and change it', () => {
  const x = torch.tensor([1, 2, 3]);
  assert.equal(x.add_(1), x);
  assert.deepEqual(x.toArray(), [2, 3, 4]);
  x.mul_(torch.tensor([1, 0, 2]));
  assert.deepEqual(x.toArray(), [2, 0, 8]);
  x.lerp_(torch.tensor([4, 4, 4]), 0.5);
  assert.deepEqual(x.toArray(), [3, 2, 6]);
  x.copy_(torch.tensor([9, 9, 9]));
  assert.deepEqual(x.toArray(), [9, 9, 9]);
  x.zero_();
  assert.deepEqual(x.toArray(), [0, 0, 0]);
  x.add_(torch.tensor([1, 1, 1]), 3);
  assert.deepEqual(x.toArray(), [3, 3, 3]);
});

test('seeded generators: same seed, same numbers; state restores the stream', () => {
  const a = torch.randn([5], { generator: new torch.Generator(42) }).toArray();
  const b = torch.randn([5], { generator: new torch.Generator(42) }).toArray();
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, torch.randn([5], { generator: new torch.Generator(43) }).toArray());
  const g = new torch.Generator(7);
  torch.rand([3], { generator: g });
  const state = g.getState();
  const next = torch.rand([4], { generator: g }).toArray();
  g.setState(state);
  assert.deepEqual(torch.rand([4], { generator: g }).toArray(), next);
  const r = torch.randint(0, 10, [1000], { generator: g });
  assert.equal(r.dtype, 'int64');
  assert.ok(r.min().item() >= 0 && r.max().item() <= 9);
  assert.equal(new torch.Generator(5).initialSeed, 5);
});

test('eigh: ascending eigenvalues of a symmetric matrix, orthonormal eigenvector columns that rebuild it', () => {
  const a = torch.tensor([4, 1, 2, 1, 3, 0, 2, 0, 5], { shape: [3, 3], dtype: 'float64' });
  const { values, vectors } = torch.eigh(a);
  const v = values.toArray();
  assert.ok(v[0]! <= v[1]! && v[1]! <= v[2]!, `ascending: ${v}`);
  // The characteristic polynomial's coefficients: trace 12, sum of 2×2 principal minors 42, determinant 43.
  assert.ok(Math.abs(v[0]! + v[1]! + v[2]! - 12) < 1e-12);
  assert.ok(Math.abs(v[0]! * v[1]! + v[0]! * v[2]! + v[1]! * v[2]! - 42) < 1e-10);
  assert.ok(Math.abs(v[0]! * v[1]! * v[2]! - 43) < 1e-10);
  const rebuilt = torch.matmul(vectors.mul(values.reshape(1, -1)), vectors.transpose(0, 1));
  assert.ok(rebuilt.sub(a).abs().max().item() < 1e-12);
  assert.ok(
    torch
      .matmul(vectors.transpose(0, 1), vectors)
      .sub(torch.eye(3, 3, { dtype: 'float64' }))
      .abs()
      .max()
      .item() < 1e-12,
  );
});
