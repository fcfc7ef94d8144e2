import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';

import { DiT, microDiTTiny2, microDiTXL2, parseDitConfig } from '../src/models/microdit/index.js';
import { runMicroDiTCase } from '../src/parity/microdit-case.js';
import { referenceDir } from './util.js';

const microditDir = join(referenceDir, 'microdit');
const golden = join(microditDir, 'golden');

// keys_<preset>_latent_res<R>_in_channels<C>[_pos_interp_scale<S>].tsv
function configFromTsvName(file: string) {
  const m =
    /^keys_(MicroDiT_Tiny_2|MicroDiT_XL_2)_latent_res(\d+)_in_channels(\d+)(?:_pos_interp_scale([\d.]+))?\.tsv$/.exec(
      file,
    );
  assert.ok(m, `unexpected file name ${file}`);
  const o = { inputSize: Number(m[2]), inChannels: Number(m[3]), posInterpScale: m[4] ? Number(m[4]) : 1 };
  return m[1] === 'MicroDiT_XL_2' ? microDiTXL2(o) : microDiTTiny2(o);
}

test('all four released configurations have exactly the upstream keys, shapes and parameter counts', () => {
  const files = readdirSync(microditDir).filter((f) => f.startsWith('keys_') && f.endsWith('.tsv'));
  assert.equal(files.length, 4);
  for (const file of files) {
    const lines = readFileSync(join(microditDir, file), 'utf8').trim().split('\n');
    const params = Number(/([\d]+) parameters/.exec(lines[0]!)?.[1]);
    const expected = lines.slice(2).map((l) => l.split('\t') as [string, string]);
    // The meta device gives shapes without memory: no 1B-parameter allocation.
    const model = new DiT(configFromTsvName(file), { device: 'meta' });
    const actual = [...model.stateDict()].map(([k, t]) => [k, t.shape.join('x')]);
    assert.deepEqual(actual.map(([k]) => k).sort(), expected.map(([k]) => k).sort(), `${file}: key set`);
    const shapes = new Map(actual as [string, string][]);
    for (const [k, s] of expected) assert.equal(shapes.get(k), s, `${file}: ${k}`);
    assert.equal(model.parameterCount(), params, `${file}: parameter count`);
  }
});

test('golden case: every output within 1e-4 (float32) and 1e-6 (float64), gradients included', () => {
  for (const dtype of ['float32', 'float64'] as const) {
    const checks = runMicroDiTCase(join(golden, 'microdit_small.json'), dtype);
    assert.ok(checks.length >= 16, `only ${checks.length} checks ran`);
    for (const c of checks) assert.ok(c.pass, `${c.check}: relative error ${c.relErr} > ${c.tol}`);
    assert.ok(checks.some((c) => c.check.includes('cd_grad.x_embedder.proj.weight')));
  }
});

test('the f32/bf16/f16 .pt checkpoints give the same outputs within their rounding', () => {
  const cfg = parseDitConfig(
    JSON.parse(readFileSync(join(golden, 'microdit_small.json'), 'utf8')).dit_config,
    'golden',
  );
  const io = torch.io.loadSafetensors(join(golden, 'microdit_small.io.safetensors'));
  const run = (weights: string) =>
    torch.noGrad(() => {
      const m = new DiT(cfg);
      m.loadStateDict(torch.io.loadStateDictFile(join(golden, weights)));
      return m.forward(io.get('in.x')!, io.get('in.t')!, io.get('in.y')!).sample;
    });
  const ref = io.get('out.raw_out')!;
  const rel = (a: torch.Tensor) => a.sub(ref).norm().item() / ref.norm().item();
  const f32 = run('microdit_small.teacher.f32.pt');
  assert.ok(f32.equal(run('microdit_small.teacher.safetensors')), 'f32 .pt and safetensors are the same weights');
  assert.ok(rel(f32) < 1e-6);
  const bf16 = rel(run('microdit_small.teacher.bf16.pt'));
  const f16 = rel(run('microdit_small.teacher.f16.pt'));
  // bf16 keeps 8 mantissa bits (2^-9 relative rounding), f16 11 bits (2^-12).
  assert.ok(bf16 > 1e-5 && bf16 < 3e-2, `bf16 relative error ${bf16}`);
  assert.ok(f16 > 1e-7 && f16 < 4e-3, `f16 relative error ${f16}`);
  assert.ok(f16 < bf16);
});

test('a checkpoint with a missing key, an extra key and a wrong shape is refused naming all three', () => {
  const cfg = parseDitConfig(
    JSON.parse(readFileSync(join(golden, 'microdit_small.json'), 'utf8')).dit_config,
    'golden',
  );
  const sd = torch.io.loadSafetensors(join(golden, 'microdit_small.teacher.safetensors'));
  sd.delete('final_layer.linear.bias');
  sd.set('blocks.9.attn.qkv.weight', torch.zeros([1]));
  sd.set('y_embedder.y_proj.fc1.weight', torch.zeros([64, 31]));
  const m = new DiT(cfg);
  assert.throws(() => m.loadStateDict(sd), {
    message:
      'DiT.loadStateDict: missing keys (1): final_layer.linear.bias | unexpected keys (1): blocks.9.attn.qkv.weight | ' +
      'shape mismatches (1): y_embedder.y_proj.fc1.weight: checkpoint [64, 31] vs model [64, 32]',
  });
});

test('dit_config errors name the key', () => {
  assert.throws(() => parseDitConfig({ dim: 'big' }, 'x.json'), {
    message: 'x.json: dit_config.dim must be a number, got "big"',
  });
  assert.throws(() => parseDitConfig({ dims: 3 }, 'x.json'), {
    message: 'x.json: dit_config.dims is not a DiT argument',
  });
});

test('patch masking drops tokens and reports which (teacher training)', () => {
  const cfg = parseDitConfig(
    JSON.parse(readFileSync(join(golden, 'microdit_small.json'), 'utf8')).dit_config,
    'golden',
  );
  const m = new DiT(cfg, { generator: new torch.Generator(0) });
  const x = torch.randn([2, 4, 8, 8], { generator: new torch.Generator(1) });
  const out = m.forward(x, torch.zeros([2]), torch.randn([2, 1, 7, 32]), {
    maskRatio: 0.5,
    generator: new torch.Generator(2),
  });
  assert.deepEqual(out.sample.shape, [2, 4, 8, 8]);
  assert.deepEqual(out.mask!.sum(1).toArray(), [8, 8], 'half of the 16 tokens masked in each sample');
});

test('a DiT block frees its intermediates when it returns, forward and under autograd', () => {
  const cfg = parseDitConfig(
    JSON.parse(readFileSync(join(golden, 'microdit_small.json'), 'utf8')).dit_config,
    'golden',
  );
  const m = new DiT(cfg, { generator: new torch.Generator(0) });
  const gen = new torch.Generator(3);
  torch.tidy(() => {
    const h = torch.randn([2, 16, cfg.dim], { generator: gen });
    const y = torch.randn([2, 7, cfg.dim], { generator: gen });
    const c = torch.randn([2, cfg.dim], { generator: gen });
    for (const block of [m.blocks.at(0), m.blocks.at(1)]) {
      const before = torch.liveTensors();
      torch.noGrad(() => block.forward(h, y, c));
      assert.equal(torch.liveTensors(), before + 1, 'only the output is alive after a no-grad block forward');
    }
    // Under autograd the graph keeps what backward needs inside libtorch; our handles still go.
    const hg = h.detach().requiresGrad_();
    const before = torch.liveTensors();
    const out = m.blocks.at(1).forward(hg, y, c);
    assert.equal(torch.liveTensors(), before + 1);
    out.square().sum().backward();
    assert.ok(hg.grad!.abs().sum().item() > 0, 'the gradient reached the block input');
  });
});
