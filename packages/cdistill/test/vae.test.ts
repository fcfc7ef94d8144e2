import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import * as torch from '@cdistill/torch';

import {
  AutoencoderKL,
  IdentityVae,
  OSTRIS_KL_F8_D16_CONFIG,
  SDXL_VAE_CONFIG,
  latentShape,
  loadVaeConfig,
  parseVaeConfig,
  type VaeConfig,
} from '../src/models/vae.js';
import { relativeError, runVaeParityCase } from '../src/parity/vae-case.js';

import { referenceDir } from './util.js';

const refDir = join(referenceDir, 'vae');
const tinyDir = join(refDir, 'vae_tiny');
const ioPath = join(refDir, 'vae_tiny.io.safetensors');
const weightsName = 'diffusion_pytorch_model.safetensors';

function withTempDir<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'cdistill-vae-'));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A copy of vae_tiny whose weights went through `edit` (and whose config through `editConfig`). */
function writeVariant(
  dir: string,
  edit: (sd: Map<string, torch.Tensor>) => Map<string, torch.Tensor>,
  editConfig = (c: Record<string, unknown>) => c,
): void {
  const config = JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'config.json'), JSON.stringify(editConfig(config)));
  torch.tidy(() =>
    torch.io.saveSafetensors(join(dir, weightsName), edit(torch.io.loadSafetensors(join(tinyDir, weightsName)))),
  );
}

/** Encoder mean and decoded image for the reference input, as float64 arrays. */
function outputsOf(vae: AutoencoderKL): { mean: Float64Array; decoded: Float64Array } {
  return torch.tidy(() =>
    torch.noGrad(() => {
      const io = torch.io.loadSafetensors(ioPath);
      const dist = vae.encode(io.get('in.image') as torch.Tensor);
      return { mean: dist.mean.toFloat64Array(), decoded: vae.decode(vae.meanLatents(dist)).toFloat64Array() };
    }),
  );
}

for (const [dtype, tol] of [
  ['float32', 1e-4],
  ['float64', 1e-6],
] as const) {
  test(`parity with diffusers in ${dtype} (rel. error ≤ ${tol})`, (t) => {
    const checks = runVaeParityCase(tinyDir, ioPath, dtype);
    assert.deepEqual(
      checks.map((c) => c.check.split(' ')[2]),
      ['mean', 'logvar', 'latents_scaled', 'decoded', 'image01', 'decoded_end_to_end'],
    );
    for (const c of checks) t.diagnostic(`${dtype} ${c.check}: ${c.relErr.toExponential(2)}`);
    for (const c of checks) {
      assert.equal(c.tol, tol);
      assert.ok(c.pass && c.relErr <= tol, `${c.check}: relative error ${c.relErr} > ${tol}`);
    }
  });
}

test('legacy attention names (query/key/value/proj_attn) load to identical outputs', () => {
  const current = AutoencoderKL.fromFolder(tinyDir);
  const expected = outputsOf(current);
  current.dispose();
  const legacyName = (k: string) =>
    k
      .replace(/\.to_q\./, '.query.')
      .replace(/\.to_k\./, '.key.')
      .replace(/\.to_v\./, '.value.')
      .replace(/\.to_out\.0\./, '.proj_attn.');
  const renames = (sd: Map<string, torch.Tensor>) => new Map([...sd].map(([k, v]) => [legacyName(k), v]));
  // Also the LDM-conversion layout: projections as 1×1 convolutions.
  const asConv = (sd: Map<string, torch.Tensor>) =>
    new Map(
      [...renames(sd)].map(([k, v]) => [
        k,
        /attentions\.0\.\w+\.weight$/.test(k) && v.ndim === 2 ? v.reshape(v.size(0), v.size(1), 1, 1) : v,
      ]),
    );
  for (const edit of [renames, asConv]) {
    withTempDir((dir) => {
      writeVariant(dir, edit);
      const legacyKeys = [...torch.io.readSafetensorsHeader(join(dir, weightsName)).entries.map((e) => e.name)].filter(
        (k) => /\.(query|key|value|proj_attn)\./.test(k),
      );
      assert.equal(legacyKeys.length, 16); // 4 projections × weight/bias × encoder/decoder
      const legacy = AutoencoderKL.fromFolder(dir);
      const got = outputsOf(legacy);
      legacy.dispose();
      assert.deepEqual(got.mean, expected.mean);
      assert.deepEqual(got.decoded, expected.decoded);
    });
  }
});

test('a config without a required key names the file and the key', () => {
  withTempDir((dir) => {
    writeVariant(
      dir,
      (sd) => sd,
      (c) => {
        delete c.latent_channels;
        return c;
      },
    );
    const configPath = join(dir, 'config.json');
    assert.throws(
      () => AutoencoderKL.fromFolder(dir),
      (e: Error) => e.message.includes(configPath) && e.message.includes("'latent_channels' is missing"),
    );
  });
  assert.throws(
    () => parseVaeConfig({ ...configJson(), norm_num_groups: 7 }, 'x.json'),
    /x\.json: 'norm_num_groups' 7 does not divide/,
  );
  assert.throws(
    () => parseVaeConfig({ ...configJson(), up_block_types: ['UpDecoderBlock2D'] }, 'x.json'),
    /x\.json: 'up_block_types' has 1 entries/,
  );
  assert.throws(
    () => parseVaeConfig({ ...configJson(), act_fn: 'gelu' }, 'x.json'),
    /x\.json: 'act_fn' 'gelu' is not supported/,
  );
  assert.throws(
    () => parseVaeConfig({ ...configJson(), force_upcast: 'yes' }, 'x.json'),
    /x\.json: 'force_upcast' must be a boolean/,
  );
});

function configJson(): Record<string, unknown> {
  return JSON.parse(readFileSync(join(tinyDir, 'config.json'), 'utf8')) as Record<string, unknown>;
}

test('the reference config parses with upstream defaults', () => {
  const c = loadVaeConfig(join(tinyDir, 'config.json'));
  assert.deepEqual(c.blockOutChannels, [32, 64, 64]);
  assert.equal(c.shiftFactor, null);
  assert.equal(c.midBlockAddAttention, true);
  assert.equal(c.forceUpcast, true);
  assert.equal(c.sampleSize, 32);
});

test('a checkpoint with a wrong shape is refused, naming the file and the key', () => {
  withTempDir((dir) => {
    const key = 'decoder.mid_block.attentions.0.to_k.weight';
    writeVariant(dir, (sd) => new Map([...sd].map(([k, v]) => [k, k === key ? v.narrow(0, 0, v.size(0) - 1) : v])));
    assert.throws(
      () => AutoencoderKL.fromFolder(dir),
      (e: Error) =>
        e instanceof torch.nn.StateDictError &&
        e.message.includes(join(dir, weightsName)) &&
        e.message.includes(`${key}: checkpoint [63, 64] vs model [64, 64]`),
    );
  });
  withTempDir((dir) => {
    writeVariant(dir, (sd) => new Map([...sd].filter(([k]) => k !== 'quant_conv.bias')));
    assert.throws(() => AutoencoderKL.fromFolder(dir), /missing keys \(1\): quant_conv\.bias/);
  });
});

test('state-dict keys follow the diffusers module tree', () => {
  const vae = new AutoencoderKL(loadVaeConfig(join(tinyDir, 'config.json')), { device: 'meta' });
  const ours = [...vae.stateDict().entries()].map(([k, v]) => `${k} ${v.shape.join('x')}`).sort();
  const theirs = torch.io
    .readSafetensorsHeader(join(tinyDir, weightsName))
    .entries.map((e) => `${e.name} ${e.shape.join('x')}`)
    .sort();
  assert.deepEqual(ours, theirs);
  const noAttention = new AutoencoderKL({ ...vae.config, midBlockAddAttention: false }, { device: 'meta' });
  assert.ok(![...noAttention.stateDict().keys()].some((k) => k.includes('attentions')));
});

test('presets have the published parameter counts', () => {
  const count = (c: VaeConfig) => new AutoencoderKL(c, { device: 'meta' }).parameterCount();
  assert.equal(count(SDXL_VAE_CONFIG), 83_653_863); // SDXL VAE, per diffusers / the Ostris model card
  assert.equal(count(OSTRIS_KL_F8_D16_CONFIG), 57_266_643); // Ostris KL-f8-d16 model card
  assert.equal(new AutoencoderKL(SDXL_VAE_CONFIG, { device: 'meta' }).downscale, 8);
});

test('force_upcast keeps the decoder in float32 for a float16 model', () => {
  const half = new AutoencoderKL(SDXL_VAE_CONFIG, { device: 'meta', dtype: 'float16' });
  assert.equal(half.encoder.convIn.weight.dtype, 'float16');
  assert.equal(half.decoder.convIn.weight.dtype, 'float32');
  assert.equal(half.postQuantConv?.weight.dtype, 'float32');
  const bf16 = new AutoencoderKL(SDXL_VAE_CONFIG, { device: 'meta', dtype: 'bfloat16' });
  assert.equal(bf16.decoder.convIn.weight.dtype, 'bfloat16');
  const noUpcast = new AutoencoderKL({ ...SDXL_VAE_CONFIG, forceUpcast: false }, { device: 'meta', dtype: 'float16' });
  assert.equal(noUpcast.decoder.convIn.weight.dtype, 'float16');
});

test('shift_factor is undone on decode', () => {
  const plain = AutoencoderKL.fromFolder(tinyDir);
  const shifted = new AutoencoderKL({ ...plain.config, shiftFactor: 0.25 });
  shifted.loadStateDict(plain.stateDict());
  torch.tidy(() =>
    torch.noGrad(() => {
      const io = torch.io.loadSafetensors(ioPath);
      const dist = plain.encode(io.get('in.image') as torch.Tensor);
      const a = plain.meanLatents(dist);
      const b = shifted.meanLatents(dist);
      assert.ok(b.allclose(a.sub(0.25 * plain.scalingFactor), 1e-6, 1e-7));
      // Not bit-identical: (z − shift)·s/s + shift rounds, and random decoder weights amplify it.
      assert.ok(relativeError(shifted.decode(b), plain.decode(a)) < 1e-5);
    }),
  );
  plain.dispose();
  shifted.dispose();
});

test('IdentityVae round-trips and shares the codec interface', () => {
  const codec = new IdentityVae();
  torch.tidy(() => {
    const image = torch.rand([2, 3, 8, 8]).mul(2).sub(1);
    const z = codec.encodeMean(image);
    assert.notEqual(z, image);
    assert.ok(codec.decode(z).equal(image));
    assert.ok(codec.encodeSample(image, torch.randn([2, 3, 8, 8])).equal(image));
    const img01 = codec.toImage01(codec.decode(z));
    assert.ok(img01.min().item() >= 0 && img01.max().item() <= 1);
    assert.ok(img01.allclose(image.add(1).div(2), 1e-6, 1e-7));
  });
  assert.deepEqual(latentShape(codec, 2, 32, 48), [2, 3, 32, 48]);
  assert.deepEqual(latentShape(new AutoencoderKL(SDXL_VAE_CONFIG, { device: 'meta' }), 1, 1024, 768), [1, 4, 128, 96]);
  assert.throws(
    () => latentShape(new AutoencoderKL(OSTRIS_KL_F8_D16_CONFIG, { device: 'meta' }), 1, 1020, 768),
    /not a multiple of the latent downscale 8/,
  );
});

test('encode/decode leave no tensors behind', () => {
  const vae = AutoencoderKL.fromFolder(tinyDir);
  const image = torch.keep(torch.rand([1, 3, 32, 32]).mul(2).sub(1));
  const before = torch.liveTensors();
  torch.tidy(() => {
    vae.decode(vae.encodeSample(image, torch.randn([1, 4, 8, 8])));
  });
  assert.equal(torch.liveTensors(), before);
  image.dispose();
  vae.dispose();
});
