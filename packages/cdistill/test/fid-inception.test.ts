// The FID Inception-v3 feature extractor against bench/reference/fid_inception_ref.py (a PyTorch
// implementation of the published architecture, run in float64 on random weights), loaded from the
// legacy torch.save file as pytorch-fid publishes its weights; and the loader's refusals.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

import * as torch from '@cdistill/torch';

import { FidInceptionV3, inceptionPixels } from '../src/models/inception/index.js';
import { discoverCases } from '../src/parity/discover.js';
import { runInceptionParityCase } from '../src/parity/inception-case.js';
import { referenceDir } from './util.js';

const dir = join(referenceDir, 'inception');
const casePath = join(dir, 'fid_inception_tiny.json');
const base = join(dir, 'fid_inception_tiny');
const tmp = mkdtempSync(join(tmpdir(), 'cdistill-inception-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

for (const dtype of ['float32', 'float64'] as const) {
  test(`tiny FID Inception from the legacy .pth matches the PyTorch reference (${dtype})`, () => {
    const before = torch.liveTensors();
    const checks = runInceptionParityCase(casePath, dtype);
    assert.deepEqual(
      checks.map((c) => c.check),
      [`fid_inception_tiny (pth) ${dtype} out.features_large`, `fid_inception_tiny (pth) ${dtype} out.features_small`],
    );
    for (const c of checks) {
      assert.equal(c.tol, dtype === 'float32' ? 1e-4 : 1e-6);
      assert.ok(c.pass, `${c.check}: relErr ${c.relErr} > ${c.tol}`);
    }
    assert.equal(torch.liveTensors(), before, 'the parity run leaks tensors');
  });
}

test("the zip .pt and the safetensors copy give the legacy file's features", () => {
  for (const ext of ['.pt', '.safetensors']) {
    for (const c of runInceptionParityCase(casePath, 'float32', base + ext))
      assert.ok(c.pass, `${ext}: ${c.check}: relErr ${c.relErr}`);
  }
});

test('parity discovery finds the Inception case by its inception_config key', () => {
  assert.deepEqual(discoverCases(dir), [{ kind: 'inception', json: casePath }]);
});

test('the width divisor is read from the first convolution; features have 2048/d channels', () => {
  const m = FidInceptionV3.fromCheckpoint(`${base}.safetensors`);
  assert.equal(m.widthDivisor, 16);
  assert.equal(m.featureSize, 128);
  // every image size maps to 299×299 pixels in [−1, 1]
  const px = inceptionPixels([
    {
      width: 3,
      height: 2,
      data: new Uint8Array([0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0, 255, 255, 255]),
    },
  ]);
  assert.deepEqual(px.shape, [1, 3, 299, 299]);
  // (float32 bilinear weights sum to 1 within one rounding)
  assert.ok(Math.abs(px.min().item() + 1) < 1e-6 && Math.abs(px.max().item() - 1) < 1e-6);
  const f = m.features(px);
  assert.deepEqual(f.shape, [1, 128]);
  for (const t of [px, f]) t.dispose();
  m.dispose();
});

test('checkpoints that are not the FID Inception are refused, naming the file and the keys', () => {
  const clip = join(referenceDir, 'clip', 'clip_vit_tiny.safetensors');
  assert.throws(
    () => FidInceptionV3.fromCheckpoint(clip),
    new Error(`${clip}: not an FID Inception-v3 state dict (no 'Conv2d_1a_3x3.conv.weight')`),
  );

  const sd = torch.io.loadSafetensors(`${base}.safetensors`);
  const missing = join(tmp, 'missing.safetensors');
  const without = new Map([...sd].filter(([k]) => k !== 'Mixed_6b.branch7x7_2.conv.weight'));
  torch.io.saveSafetensors(missing, without);
  assert.throws(
    () => FidInceptionV3.fromCheckpoint(missing),
    new Error(
      `${missing}: FID Inception-v3 weights do not match: FidInceptionV3.loadStateDict: missing keys (1): Mixed_6b.branch7x7_2.conv.weight`,
    ),
  );

  const wide = join(tmp, 'wide.safetensors');
  const first = torch.zeros([24, 3, 3, 3]);
  torch.io.saveSafetensors(wide, new Map([...sd, ['Conv2d_1a_3x3.conv.weight', first]]));
  assert.throws(
    () => FidInceptionV3.fromCheckpoint(wide),
    new Error(
      `${wide}: 'Conv2d_1a_3x3.conv.weight' has 24 output channels; the FID Inception has 32 (or 32/d for d in 1, 2, 4, 8, 16)`,
    ),
  );
  first.dispose();
  for (const t of sd.values()) t.dispose();
});

test('a truncated legacy .pth names the file and the storage that runs past its end', () => {
  const cut = join(tmp, 'cut.pth');
  copyFileSync(`${base}.pth`, cut);
  truncateSync(cut, statSync(cut).size - 100);
  assert.throws(
    () => FidInceptionV3.fromCheckpoint(cut),
    (err: Error) => err.message.startsWith(`${cut}: truncated file: `) && /storage '\d+'/.test(err.message),
  );
});
