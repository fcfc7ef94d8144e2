import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as torch from '@cdistill/torch';

import {
  ClipTextEncoder,
  ClipTextTower,
  DFN5B_CLIP_VIT_H_14_378_TEXT,
  loadClipTextConfig,
  parseClipTextConfig,
  type ClipTextConfig,
} from '../src/models/clip/index.js';
import { ClipTokenizer } from '../src/models/clip/tokenizer.js';
import { runClipTextParityCase } from '../src/parity/clip-case.js';
import { relativeError } from '../src/parity/checks.js';

import { referenceDir, vocabPath } from './util.js';

const clipDir = join(referenceDir, 'clip');
const casePath = join(clipDir, 'clip_text_tiny.json');
const tinyConfig = loadClipTextConfig(casePath);

function loadIo(): { ids: torch.Tensor; ref: torch.Tensor } {
  const m = torch.io.loadStateDictFile(join(clipDir, 'clip_text_tiny.io.safetensors'));
  return { ids: m.get('in.input_ids')!, ref: m.get('out.hidden_states')! };
}

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'clip-text-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const weights of ['safetensors', 'pt'] as const) {
  for (const dtype of ['float32', 'float64'] as const) {
    test(`tiny case matches OpenCLIP (${weights}, ${dtype})`, () => {
      const before = torch.liveTensors();
      const checks = runClipTextParityCase(casePath, dtype, {
        weightsPath: join(clipDir, `clip_text_tiny.${weights}`),
      });
      assert.equal(checks.length, 1);
      for (const c of checks) assert.ok(c.pass, `${c.check}: relErr ${c.relErr} > ${c.tol}`);
      assert.equal(torch.liveTensors(), before, 'the parity run leaks tensors');
    });
  }
}

test('tokenizer reproduces in.input_ids from the case texts', () => {
  const { texts } = JSON.parse(readFileSync(casePath, 'utf8')) as { texts: string[] };
  const { ids } = loadIo();
  assert.deepEqual(ids.shape, [5, 77]);
  assert.equal(ids.dtype, 'int64');
  const ours = ClipTokenizer.fromFile(vocabPath).tokenize(texts, 77);
  assert.deepEqual(ours.flat(), Array.from(ids.data<'int64'>(), Number));
  const checks = runClipTextParityCase(casePath, 'float32', { vocabPath });
  assert.ok(
    checks.every((c) => c.pass),
    JSON.stringify(checks),
  );
});

test('ClipTextEncoder.encode gives [B, 1, ctx, width] equal to the reference', () => {
  const enc = ClipTextEncoder.fromFiles(vocabPath, join(clipDir, 'clip_text_tiny.safetensors'), tinyConfig);
  const { texts } = JSON.parse(readFileSync(casePath, 'utf8')) as { texts: string[] };
  const { ids, ref } = loadIo();
  const out = enc.encode(texts);
  assert.deepEqual(out.shape, [5, 1, 77, 32]);
  assert.equal(out.requiresGrad, false);
  assert.ok(relativeError(out.squeeze(1), ref) < 1e-4);
  assert.ok(enc.encodeIds(ids).equal(out));
  enc.tower.dispose();
});

test('attention is causal: later tokens do not change earlier positions', () => {
  const tower = ClipTextTower.fromCheckpoint(join(clipDir, 'clip_text_tiny.safetensors'), tinyConfig);
  const { ids } = loadIo();
  const changed = ids.clone();
  changed.select(1, 40).fill_(1234);
  torch.noGrad(() => {
    const a = tower.forward(ids);
    const b = tower.forward(changed);
    assert.ok(a.narrow(1, 0, 40).equal(b.narrow(1, 0, 40)));
    assert.ok(!a.narrow(1, 40, 37).allclose(b.narrow(1, 40, 37)));
    // A shorter sequence uses the first rows of the positional table.
    assert.ok(tower.forward(ids.narrow(1, 0, 10)).allclose(a.narrow(1, 0, 10), 1e-5, 1e-6));
  });
  tower.dispose();
});

test("act 'gelu' (exact erf) changes the output", () => {
  const { ids, ref } = loadIo();
  const run = (act: ClipTextConfig['act']) => {
    const tower = ClipTextTower.fromCheckpoint(
      join(clipDir, 'clip_text_tiny.safetensors'),
      { ...tinyConfig, act },
      { dtype: 'float64' },
    );
    const out = torch.noGrad(() => tower.forward(ids));
    tower.dispose();
    return out;
  };
  const quick = run('quick_gelu');
  const gelu = run('gelu');
  assert.ok(relativeError(quick, ref) < 1e-6);
  const gap = relativeError(gelu, ref);
  assert.ok(gap > 1e-4 && Number.isFinite(gap), `gelu vs quick_gelu relErr ${gap}`);
});

test('full-model keys outside the text tower are ignored; text keys are strict', () => {
  const sd = torch.io.loadStateDictFile(join(clipDir, 'clip_text_tiny.safetensors'));
  const text = new Map(
    [...sd].filter(([k]) => !k.startsWith('visual.') && k !== 'text_projection' && k !== 'logit_scale'),
  );
  const extras = {
    'visual.conv1.weight': torch.zeros([4, 3, 2, 2]),
    'visual.transformer.resblocks.0.ln_1.weight': torch.ones([8]),
    text_projection: torch.zeros([32, 16]),
    logit_scale: torch.zeros([]),
    attn_pool_whatever: torch.zeros([2]),
  };
  const { ids, ref } = loadIo();
  withTempDir((dir) => {
    const save = (name: string, entries: [string, torch.Tensor][]) => {
      const p = join(dir, name);
      torch.io.saveSafetensors(p, new Map(entries));
      return p;
    };
    const full = save('full.safetensors', [...text, ...Object.entries(extras)]);
    const tower = ClipTextTower.fromCheckpoint(full, tinyConfig);
    assert.ok(
      relativeError(
        torch.noGrad(() => tower.forward(ids)),
        ref,
      ) < 1e-4,
    );
    tower.dispose();

    // A DistributedDataParallel `module.` prefix is accepted too.
    const ddp = save(
      'ddp.safetensors',
      [...text].map(([k, v]) => [`module.${k}`, v] as [string, torch.Tensor]),
    );
    ClipTextTower.fromCheckpoint(ddp, tinyConfig).dispose();

    const drop = 'transformer.resblocks.1.mlp.c_fc.bias';
    const missing = save(
      'missing.safetensors',
      [...text].filter(([k]) => k !== drop),
    );
    assert.throws(
      () => ClipTextTower.fromCheckpoint(missing, tinyConfig),
      (e: Error) => e.message.includes(drop) && e.message.includes('missing'),
    );

    const bad = save(
      'bad.safetensors',
      [...text].map(([k, v]) => [k, k === 'ln_final.bias' ? torch.zeros([31]) : v] as [string, torch.Tensor]),
    );
    assert.throws(
      () => ClipTextTower.fromCheckpoint(bad, tinyConfig),
      /ln_final\.bias: checkpoint \[31\] vs model \[32\]/,
    );

    // An extra block means the config is wrong, not that the key belongs to another tower.
    const extra = save('extra.safetensors', [...text, ['transformer.resblocks.2.ln_1.weight', torch.ones([32])]]);
    assert.throws(
      () => ClipTextTower.fromCheckpoint(extra, tinyConfig),
      /unexpected keys.*transformer\.resblocks\.2\.ln_1\.weight/,
    );
  });
});

test('config parser: the tiny case and errors that name the file and key', () => {
  assert.deepEqual(tinyConfig, {
    width: 32,
    heads: 4,
    layers: 2,
    contextLength: 77,
    vocabSize: 49408,
    act: 'quick_gelu',
    lnEps: 1e-5,
  });
  const good = { width: 32, heads: 4, layers: 2, context_length: 77, vocab_size: 49408, act: 'gelu', ln_eps: 1e-6 };
  assert.equal(parseClipTextConfig(good, 'x.json').lnEps, 1e-6);
  const { ln_eps: _omit, ...noEps } = good;
  assert.equal(parseClipTextConfig(noEps, 'x.json').lnEps, 1e-5);
  const { heads: _h, ...noHeads } = good;
  assert.throws(() => parseClipTextConfig(noHeads, 'x.json'), /x\.json: missing config\.heads/);
  assert.throws(
    () => parseClipTextConfig({ ...good, act: 'relu' }, 'x.json'),
    /x\.json: config\.act must be 'quick_gelu' or 'gelu'/,
  );
  assert.throws(
    () => parseClipTextConfig({ ...good, heads: 5 }, 'x.json'),
    /config\.width 32 is not divisible by config\.heads 5/,
  );
  assert.throws(
    () => parseClipTextConfig({ ...good, context_length: 0 }, 'x.json'),
    /config\.context_length must be a positive integer/,
  );
  assert.throws(() => parseClipTextConfig({ ...good, width: '32' }, 'x.json'), /config\.width must be a number/);
  assert.throws(
    () => parseClipTextConfig({ ...good, no_causal_mask: true }, 'x.json'),
    /unsupported config key\(s\) config\.no_causal_mask/,
  );
  withTempDir((dir) => {
    const p = join(dir, 'case.json');
    writeFileSync(p, JSON.stringify({ texts: [] }));
    assert.throws(
      () => loadClipTextConfig(p),
      (e: Error) => e.message.startsWith(p) && e.message.includes('"config"'),
    );
  });
});

test('DFN5B ViT-H-14-378 text tower builds on the meta device with the expected parameter count', () => {
  const c = DFN5B_CLIP_VIT_H_14_378_TEXT;
  assert.deepEqual(
    { ...c },
    { width: 1024, heads: 16, layers: 24, contextLength: 77, vocabSize: 49408, act: 'quick_gelu', lnEps: 1e-5 },
  );
  const tower = new ClipTextTower(c, { device: 'meta' });
  // Per block: in_proj 3w²+3w, out_proj w²+w, c_fc 4w²+4w, c_proj 4w²+w, two LayerNorms 4w → 12w² + 13w.
  const w = 1024;
  const expected = 49408 * w + 77 * w + 24 * (12 * w * w + 13 * w) + 2 * w;
  // 354.0M in upstream tables includes text_projection (w², not part of this tower).
  assert.equal(expected, 352_984_064);
  assert.equal(tower.parameterCount(), expected);
  const keys = [...tower.stateDict().keys()];
  assert.equal(keys.length, 2 + 24 * 12 + 2);
  assert.ok(keys.includes('transformer.resblocks.23.attn.in_proj_weight'));
  assert.deepEqual(tower.stateDict().get('transformer.resblocks.0.attn.in_proj_weight')!.shape, [3072, 1024]);
  assert.deepEqual(tower.stateDict().get('transformer.resblocks.0.mlp.c_fc.weight')!.shape, [4096, 1024]);
  assert.ok(tower.parameters().every((p) => p.device === 'meta'));
});
