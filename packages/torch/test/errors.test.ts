import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as torch from '../src/index.js';

test('libtorch errors become JS Errors with the op name and libtorch message', () => {
  assert.throws(() => torch.ones([2, 3]).matmul(torch.ones([2, 3])), {
    message: 'matmul: mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)',
  });
  assert.throws(() => torch.ones([2, 3]).add(torch.ones([4])), {
    message: 'add: The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1',
  });
  assert.throws(() => torch.ones([6]).view(4), { message: "view: shape '[4]' is invalid for input of size 6" });
  assert.throws(() => torch.ones([2]).to('cuda:7'), { message: /^to: / });
});

test('bad dtype and device names are refused clearly', () => {
  assert.throws(() => torch.zeros([1], { dtype: 'float8' as never }), {
    message:
      "unknown dtype 'float8' (known: float32, float16, bfloat16, float64, int64, int32, int16, int8, uint8, bool)",
  });
  assert.throws(() => torch.zeros([1], { device: 'tpu' }), {
    message: /^zeros: Expected one of cpu, cuda.* device string: tpu$/,
  });
});

test('out of memory is an Error, not an abort', () => {
  assert.throws(() => torch.empty([1 << 20, 1 << 20]), {
    // The addon's CPU allocator (native/cpu_block_cache.cc) words it as libtorch's default does.
    message: 'empty: CPU allocator: not enough memory: you tried to allocate 4398046511104 bytes.',
  });
  assert.throws(() => torch.empty([1 << 30, 1 << 30, 64]), { message: /^empty: Storage size calculation overflowed/ });
});

test('a buffer of the wrong size is refused', () => {
  assert.throws(() => torch.fromBytes(new Uint8Array(7), 'float32', [2]), {
    message: 'fromBuffer: buffer has 7 bytes, shape and dtype need 8',
  });
});
