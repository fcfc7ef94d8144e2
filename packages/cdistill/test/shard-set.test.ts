// checkShardSet on hand-made `generate --shard` folders (generate.json, captions-shard-I-of-N.json,
// latents shards with their index tensor): complete sets pass, every kind of gap or clash is named.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';

import { checkShardSet } from '../src/data/shard-set.js';
import { train } from '../src/pipeline/train.js';
import { defaultTrainConfig } from '../src/training/config.js';
import { imageName, shardName } from '../src/data/teacher-dataset.js';
import { cliPath } from './util.js';

const root = mkdtempSync(join(tmpdir(), 'cdistill-shardset-'));
const PLAN = { model: 'tiny', steps: 2, guidance: 5, seed: 1, solver: 'heun', prompts: 5 };

/** A folder as `generate --shard s/n` leaves it, holding `indices` of shard s (or of any shard given). */
function folder(name: string, shards: { s: number; n: number; indices: number[] }[], plan = PLAN): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'latents'), { recursive: true });
  writeFileSync(join(dir, 'generate.json'), JSON.stringify(plan));
  for (const { s, n, indices } of shards) {
    const captions = Object.fromEntries(indices.map((i) => [imageName(i), `prompt ${i}`]));
    writeFileSync(join(dir, n === 1 ? 'captions.json' : `captions-shard-${s}-of-${n}.json`), JSON.stringify(captions));
    if (indices.length === 0) continue;
    torch.io.saveSafetensors(join(dir, 'latents', shardName(indices[0]!, indices.length)), {
      latents: torch.zeros([indices.length, 4, 2, 2]),
      text: torch.zeros([indices.length, 1, 3, 2]),
      index: torch.tensor(indices, { dtype: 'int64' }),
    });
  }
  return dir;
}

const A = folder('a', [{ s: 0, n: 2, indices: [0, 2, 4] }]);
const B = folder('b', [{ s: 1, n: 2, indices: [1, 3] }]);

test('shard set: one folder per shard, or all shards in one folder, is complete', () => {
  assert.deepEqual(checkShardSet([A, B]), { prompts: 5, count: 2, folders: [A, B] });
  const both = folder('both', [
    { s: 0, n: 2, indices: [0, 2, 4] },
    { s: 1, n: 2, indices: [1, 3] },
  ]);
  assert.deepEqual(checkShardSet([both, `${both}/`]), { prompts: 5, count: 2, folders: [both] });
  const single = folder('single', [{ s: 0, n: 1, indices: [0, 1, 2, 3, 4] }]);
  assert.equal(checkShardSet([single]).count, 1);
});

test('shard set: a missing shard, missing images and other settings are named', () => {
  assert.throws(() => checkShardSet([A]), { message: `shard 1/2: missing (no captions-shard-1-of-2.json in ${A})` });
  const partial = folder('partial', [{ s: 1, n: 2, indices: [1] }]);
  assert.throws(() => checkShardSet([A, partial]), {
    message: `shard 1/2 in ${partial}: 1 of 2 images not made (000003.png); run cdistill generate --shard 1/2 --out ${partial} again to finish it`,
  });
  const other = folder('other', [{ s: 1, n: 2, indices: [1, 3] }], { ...PLAN, seed: 7 });
  assert.throws(() => checkShardSet([A, other]), {
    message: `${join(other, 'generate.json')}: other settings than ${join(A, 'generate.json')} (seed: 1 → 7)`,
  });
  assert.throws(() => checkShardSet([join(root, 'nothing-here')]), {
    message: `${join(root, 'nothing-here')}: no generate.json (not a folder written by cdistill generate)`,
  });
});

test('shard set: overlaps, another split and images in the wrong folder are named', () => {
  const again = folder('again', [{ s: 0, n: 2, indices: [0, 2, 4] }]);
  assert.throws(() => checkShardSet([A, B, again]), {
    message: [
      `shard 0/2: in more than one folder (${A}, ${again})`,
      ...[0, 2, 4].map((i) => `${imageName(i)}: in both ${A} and ${again}`),
    ].join('\n'),
  });
  const thirds = folder('thirds', [{ s: 1, n: 3, indices: [1, 4] }]);
  assert.throws(() => checkShardSet([A, thirds]), {
    message: `${join(thirds, 'captions-shard-1-of-3.json')}: a split into 3 shards, but ${join(A, 'captions-shard-0-of-2.json')} is of 2`,
  });
  // B's folder also holds image 4, which is shard 0's (made by a run with the wrong --shard).
  const stray = folder('stray', [{ s: 1, n: 2, indices: [1, 3] }]);
  torch.io.saveSafetensors(join(stray, 'latents', shardName(4, 1)), {
    latents: torch.zeros([1, 4, 2, 2]),
    text: torch.zeros([1, 1, 3, 2]),
    index: torch.tensor([4], { dtype: 'int64' }),
  });
  assert.throws(() => checkShardSet([A, stray]), {
    message: [
      `${join(stray, 'latents', shardName(4, 1))}: holds 000004.png of shard 0/2, which is ${A}'s`,
      `000004.png: in both ${A} and ${stray}`,
    ].join('\n'),
  });
});

test('check-shards: the command prints the set, or the problems with exit status 1', () => {
  const okRun = spawnSync(process.execPath, [cliPath, 'check-shards', A, B], { encoding: 'utf8' });
  assert.equal(okRun.status, 0, okRun.stderr);
  assert.equal(okRun.stdout, `check-shards: complete: 2 shards, 5 images, in ${A}, ${B}\n`);
  const bad = spawnSync(process.execPath, [cliPath, 'check-shards', A], { encoding: 'utf8' });
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, `cdistill: shard 1/2: missing (no captions-shard-1-of-2.json in ${A})\n`);
});

test('train: a data folder missing a shard is refused before anything is written', async () => {
  const out = join(root, 'run');
  await assert.rejects(
    train({ model: 'unused', data: A, out, config: defaultTrainConfig(), device: 'cpu', resume: false }, () => {}),
    { message: `shard 1/2: missing (no captions-shard-1-of-2.json in ${A})` },
  );
  assert.equal(existsSync(out), false);
});
