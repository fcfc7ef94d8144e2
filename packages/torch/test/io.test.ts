// Files → tensors: the golden checkpoints in every format load into exactly the same tensors.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as torch from '../src/index.js';
import { referenceDir } from './util.js';

const golden = join(referenceDir, 'microdit', 'golden');

test('each .pt variant holds the safetensors tensors (f32 exactly, bf16/f16 as their rounding)', () => {
  const ref = torch.io.loadSafetensors(join(golden, 'microdit_small.teacher.safetensors'));
  assert.ok(ref.size > 50);
  for (const [variant, dtype] of [
    ['f32', 'float32'],
    ['bf16', 'bfloat16'],
    ['f16', 'float16'],
  ] as const) {
    const pt = torch.io.loadStateDictFile(join(golden, `microdit_small.teacher.${variant}.pt`));
    assert.deepEqual([...pt.keys()].sort(), [...ref.keys()].sort(), variant);
    for (const [k, t] of ref) {
      const p = pt.get(k)!;
      assert.deepEqual(p.shape, t.shape, `${variant} ${k}`);
      const expected = t.dtype === 'float32' ? t.to(dtype) : t;
      assert.ok(p.equal(expected), `${variant} ${k}: values differ from the safetensors rounded to ${dtype}`);
    }
  }
});

test('the CLIP text checkpoint (.pt) equals its safetensors', () => {
  const a = torch.io.loadStateDictFile(join(referenceDir, 'clip', 'clip_text_tiny.pt'));
  const b = torch.io.loadStateDictFile(join(referenceDir, 'clip', 'clip_text_tiny.safetensors'));
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  for (const [k, t] of b) assert.ok(a.get(k)!.equal(t), k);
});

test('safetensors round trip of every dtype, non-contiguous input, metadata', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdt-io-'));
  try {
    const tensors = new Map<string, torch.Tensor>();
    for (const dtype of torch.DTYPES)
      tensors.set(
        `t.${dtype}`,
        torch.tensor(
          [
            [0, 1, 2],
            [3, 4, 5],
          ],
          { dtype },
        ),
      );
    tensors.set('transposed', torch.arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3).T);
    tensors.set('scalar', torch.full([], 3.5));
    const path = join(dir, 'x.safetensors');
    torch.io.saveSafetensors(path, tensors, { step: '12' });
    const back = torch.io.loadSafetensors(path);
    assert.deepEqual([...back.keys()], [...tensors.keys()]);
    for (const [k, t] of tensors) {
      assert.equal(back.get(k)!.dtype, t.dtype, k);
      assert.ok(back.get(k)!.equal(t), k);
    }
    assert.deepEqual(torch.io.readSafetensorsMetadata(path), new Map([['step', '12']]));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('unknown extension and a malicious .pt are refused with the file named', () => {
  assert.throws(() => torch.io.loadStateDictFile('/tmp/x.h5'), {
    message: "/tmp/x.h5: unknown checkpoint format '.h5' (expected .safetensors, .pt, .pth, .bin or .ckpt)",
  });
  const dir = mkdtempSync(join(tmpdir(), 'cdt-io-'));
  try {
    const bad = join(dir, 'bad.safetensors');
    writeFileSync(bad, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0x7b]));
    assert.throws(
      () => torch.io.loadSafetensors(bad),
      (e: Error) => e.message.startsWith(bad),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
