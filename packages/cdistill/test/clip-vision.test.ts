// The whole OpenCLIP model: golden parity of both towers and of the preprocessing (reference/clip/
// clip_vit_tiny.*, written by bench/reference/clip_vision_ref.py with Pillow and PyTorch), loading
// both towers from one open_clip-layout checkpoint, the config parser's refusals, CLIP folders and
// how image files are decoded.
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';
import sharp from 'sharp';

import {
  ClipModel,
  ClipTextTower,
  DFN5B_CLIP_VIT_H_14_378,
  loadOpenClipConfig,
  parseOpenClipConfig,
  resizeBicubic,
  resizeForClip,
} from '../src/models/clip/index.js';
import { resolveClip } from '../src/models/clip/clip-source.js';
import { runClipModelParityCase } from '../src/parity/clip-model-case.js';
import { readRgb8 } from '../src/pipeline/images.js';
import { discoverCases } from '../src/parity/discover.js';

import { referenceDir } from './util.js';

const clipDir = join(referenceDir, 'clip');
const casePath = join(clipDir, 'clip_vit_tiny.json');
const weightsPath = join(clipDir, 'clip_vit_tiny.safetensors');

for (const dtype of ['float32', 'float64'] as const) {
  test(`tiny ViT CLIP matches the PyTorch/Pillow reference (${dtype})`, () => {
    const before = torch.liveTensors();
    const checks = runClipModelParityCase(casePath, dtype);
    assert.deepEqual(
      checks.map((c) => c.check.split(' ')[2]),
      [
        'out.image_features',
        'out.text_features',
        'out.preprocessed_down_shortest',
        'out.preprocessed_down_squash',
        'out.preprocessed_tall_shortest',
        'out.preprocessed_tall_squash',
        'out.preprocessed_up_shortest',
        'out.preprocessed_up_squash',
        'out.image_embeds',
        'out.text_embeds',
      ],
    );
    const tol = dtype === 'float32' ? 1e-4 : 1e-6;
    for (const c of checks) {
      assert.equal(c.tol, tol);
      assert.ok(c.pass, `${c.check}: relErr ${c.relErr} > ${c.tol}`);
    }
    assert.equal(torch.liveTensors(), before, 'the parity run leaks tensors');
  });
}

test('parity discovery finds the CLIP model case by its clip_config key', () => {
  const kinds = discoverCases(clipDir).map((c) => `${c.kind} ${'json' in c ? c.json.split('/').pop() : ''}`);
  assert.ok(kinds.includes('clip-model clip_vit_tiny.json'), kinds.join(', '));
  assert.ok(kinds.includes('clip-text clip_text_tiny.json'), kinds.join(', '));
});

test('one open_clip checkpoint loads both towers; the text-only loader still ignores visual.*', () => {
  const config = loadOpenClipConfig(casePath);
  const file = torch.io.loadSafetensors(weightsPath);
  const model = ClipModel.fromCheckpoint(weightsPath, config);
  try {
    // Every key of the file landed in the model, the image tower's included.
    const own = new Map([...model.text.stateDict(), ...model.joint.stateDict()]);
    assert.deepEqual([...own.keys()].sort(), [...file.keys()].sort());
    for (const k of ['visual.conv1.weight', 'visual.class_embedding', 'visual.proj', 'text_projection']) {
      assert.ok(own.get(k)!.equal(file.get(k)!), k);
    }
    assert.equal(model.visual.conv1.bias, undefined);
    const text = ClipTextTower.fromCheckpoint(weightsPath, config.text);
    assert.ok(![...text.stateDict().keys()].some((k) => k.startsWith('visual.')));
    text.dispose();
  } finally {
    model.dispose();
    for (const t of file.values()) t.dispose();
  }
});

test('a checkpoint with module. prefixes loads; one without visual.proj is refused by name', () => {
  const config = loadOpenClipConfig(casePath);
  const file = torch.io.loadSafetensors(weightsPath);
  const dir = mkdtempSync(join(tmpdir(), 'clip-vision-'));
  try {
    const prefixed = join(dir, 'ddp.safetensors');
    torch.io.saveSafetensors(prefixed, new Map([...file].map(([k, t]) => [`module.${k}`, t])));
    const m = ClipModel.fromCheckpoint(prefixed, config);
    assert.ok(m.visual.proj.equal(file.get('visual.proj')!));
    m.dispose();
    const broken = join(dir, 'broken.safetensors');
    torch.io.saveSafetensors(broken, new Map([...file].filter(([k]) => k !== 'visual.proj')));
    assert.throws(() => ClipModel.fromCheckpoint(broken, config), {
      name: 'StateDictError',
      message: `${broken}: CLIP image tower / projection weights do not match: ClipJointParts.loadStateDict: missing keys (1): visual.proj`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
    for (const t of file.values()) t.dispose();
  }
});

test('open_clip_config.json: defaults, the DFN5B numbers, and refusals of math not implemented', () => {
  const dfn = parseOpenClipConfig(
    {
      model_cfg: {
        embed_dim: 1024,
        quick_gelu: true,
        vision_cfg: { image_size: 378, layers: 32, width: 1280, head_width: 80, patch_size: 14 },
        text_cfg: { context_length: 77, vocab_size: 49408, width: 1024, heads: 16, layers: 24 },
      },
      preprocess_cfg: {
        mean: [0.48145466, 0.4578275, 0.40821073],
        std: [0.26862954, 0.26130258, 0.27577711],
        interpolation: 'bicubic',
        resize_mode: 'squash',
      },
    },
    'dfn.json',
  );
  assert.deepEqual(dfn, DFN5B_CLIP_VIT_H_14_378);
  const base = { embed_dim: 8, vision_cfg: {}, text_cfg: {} };
  const plain = parseOpenClipConfig({ model_cfg: base }, 'p.json');
  assert.equal(plain.vision.act, 'gelu');
  assert.equal(plain.vision.imageSize, 224);
  assert.equal(plain.vision.headWidth, 64);
  assert.equal(plain.preprocess.resizeMode, 'shortest');
  assert.throws(() => parseOpenClipConfig({ model_cfg: { ...base, vision_cfg: { pool_type: 'avg' } } }, 'p.json'), {
    message: 'p.json: model_cfg.vision_cfg.pool_type: only "tok" is supported (class-token pooling)',
  });
  assert.throws(() => parseOpenClipConfig({ model_cfg: { ...base, text_cfg: { hf_model_name: 'x' } } }, 'p.json'), {
    message: "p.json: model_cfg.text_cfg: Unrecognized key(s) in object: 'hf_model_name'",
  });
  assert.throws(() => parseOpenClipConfig({ model_cfg: { ...base, custom_text: true } }, 'p.json'), {
    message: 'p.json: model_cfg.custom_text: only false is supported (the text tower at the checkpoint root)',
  });
  assert.throws(
    () => parseOpenClipConfig({ model_cfg: base, preprocess_cfg: { interpolation: 'bilinear' } }, 'p.json'),
    { message: 'p.json: preprocess_cfg.interpolation: only "bicubic" is supported (Pillow bicubic resampling)' },
  );
  assert.throws(() => parseOpenClipConfig({ model_cfg: { ...base, vision_cfg: { width: 100 } } }, 'p.json'), {
    message: 'p.json: model_cfg.vision_cfg: width 100 is not divisible by headWidth 64',
  });
});

test('resizing: same size is the identity; shortest-side crop offsets round half to even', () => {
  const data = Uint8Array.from({ length: 5 * 4 * 3 }, (_, i) => (i * 37) % 256);
  const img = { width: 5, height: 4, data };
  assert.deepEqual(resizeBicubic(img, 5, 4).data, data);
  // 4×5 (h×w) to side 4 keeps the height, width 5 → crop offset round(0.5) = 0 (Python), not 1.
  const cropped = resizeForClip(img, 4, 'shortest');
  assert.deepEqual(
    cropped.data,
    Uint8Array.from({ length: 4 * 4 * 3 }, (_, i) => data[Math.floor(i / 12) * 15 + (i % 12)]!),
  );
  assert.throws(() => resizeBicubic({ width: 2, height: 2, data: new Uint8Array(11) }, 1, 1), {
    message: 'resizeBicubic: 11 bytes is not 2×2 RGB',
  });
});

test('a CLIP folder needs open_clip_config.json and one of the two weight files, each named when missing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-source-'));
  try {
    await assert.rejects(resolveClip(dir), { message: `${dir}: no open_clip_config.json in this folder` });
    copyFileSync(casePath, join(dir, 'open_clip_config.json'));
    await assert.rejects(resolveClip(dir), {
      message: `${dir}: no open_clip_model.safetensors or open_clip_pytorch_model.bin in this folder`,
    });
    copyFileSync(weightsPath, join(dir, 'open_clip_model.safetensors'));
    const s = await resolveClip(dir);
    assert.equal(s.weights, join(dir, 'open_clip_model.safetensors'));
    assert.equal(s.config.vision.patchSize, 4); // read through the case file's clip_config wrapper
    await assert.rejects(resolveClip(join(dir, 'nope')), {
      message: `${join(dir, 'nope')}: not a CLIP folder (open_clip_config.json + weights) nor an hf:// repository`,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('image files decode as OpenCLIP converts them to RGB: grey replicated, alpha dropped (not composited)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-rgb-'));
  try {
    const grey = join(dir, 'grey.png');
    await sharp(Buffer.from([0, 100, 200, 255]), { raw: { width: 2, height: 2, channels: 1 } })
      .png()
      .toFile(grey);
    const g = await readRgb8(grey);
    assert.deepEqual([g.width, g.height], [2, 2]);
    assert.deepEqual(Array.from(g.data), [0, 0, 0, 100, 100, 100, 200, 200, 200, 255, 255, 255]);
    const rgba = join(dir, 'rgba.png');
    await sharp(Buffer.from([10, 20, 30, 0, 40, 50, 60, 128]), { raw: { width: 2, height: 1, channels: 4 } })
      .png()
      .toFile(rgba);
    assert.deepEqual(Array.from((await readRgb8(rgba)).data), [10, 20, 30, 40, 50, 60]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the same checkpoint as torch.save writes it (open_clip_pytorch_model.bin) loads the same tensors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clip-bin-'));
  try {
    copyFileSync(casePath, join(dir, 'open_clip_config.json'));
    copyFileSync(join(clipDir, 'clip_vit_tiny.pt'), join(dir, 'open_clip_pytorch_model.bin'));
    const s = await resolveClip(dir);
    assert.equal(s.weights, join(dir, 'open_clip_pytorch_model.bin'));
    const fromBin = ClipModel.fromCheckpoint(s.weights, s.config);
    const fromSt = ClipModel.fromCheckpoint(weightsPath, s.config);
    const all = (m: ClipModel) => new Map([...m.text.stateDict(), ...m.joint.stateDict()]);
    const st = all(fromSt);
    for (const [k, t] of all(fromBin)) assert.ok(t.equal(st.get(k)!), k);
    fromBin.dispose();
    fromSt.dispose();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
