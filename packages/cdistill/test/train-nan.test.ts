// A non-finite loss stops training with a message naming the last good checkpoint, which stays intact.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';

import { train } from '../src/pipeline/train.js';
import { TrainConfigSchema } from '../src/training/config.js';
import { tinyDataset, tinyModelDir } from './fixtures.js';

test('NaN loss: the run stops, says where the last good checkpoint is, and leaves it intact', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-nan-'));
  const model = tinyModelDir();
  const data = join(root, 'data');
  await tinyDataset(model, data);
  const config = TrainConfigSchema.parse({
    steps: 8,
    checkpointEvery: 4,
    validateEvery: 100,
    numScales: 10,
    warmupSteps: 1,
    lr: 1e-4,
  });
  const out = join(root, 'run');
  const first = await train(
    { model, data, out, config, device: 'cpu', resume: false, stopAfter: 5, quiet: true },
    () => {},
  );
  assert.equal(first.step, 5);
  const ckpt = join(out, 'checkpoints', 'step-000004');
  const before = readFileSync(join(ckpt, 'student.safetensors'));
  // Poison the data: every latent becomes NaN.
  const shardFile = join(data, 'latents', readdirSync(join(data, 'latents'))[0] as string);
  const shard = torch.io.loadSafetensors(shardFile);
  shard.set('latents', torch.fullLike(shard.get('latents')!, Number.NaN));
  torch.io.saveSafetensors(shardFile, shard);
  const lines: string[] = [];
  const r = await train({ model, data, out, config, device: 'cpu', resume: true, quiet: true }, (l) => lines.push(l));
  assert.equal(r.stoppedOnNonFinite, true);
  assert.equal(r.step, 4, 'no step after the NaN was taken');
  assert.ok(
    lines.includes(`train: the loss is NaN at step 5; stopping. The last good checkpoint is ${ckpt} (intact).`),
    lines.join('\n'),
  );
  assert.ok(readFileSync(join(ckpt, 'student.safetensors')).equals(before));
  assert.deepEqual(readdirSync(join(out, 'checkpoints')).sort(), ['latest.json', 'step-000004']);
});
