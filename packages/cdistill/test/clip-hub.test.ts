// A CLIP named hf://<owner>/<repo>, from a Hub on loopback (test/fake-hub.ts): the config and the
// preferred weights file, the .bin when the repository has no safetensors (as DFN5B's), the same
// from the cache when offline, and a repository without weights named in the error.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { resolveClip } from '../src/models/clip/clip-source.js';
import type { HubEnv } from '../src/hub/env.js';
import { startFakeHub, type FakeHub } from './fake-hub.js';
import { referenceDir } from './util.js';

const COMMIT = `${'c'.repeat(39)}1`;
const clipDir = join(referenceDir, 'clip');
const config = readFileSync(join(clipDir, 'clip_vit_tiny.json'));
const st = readFileSync(join(clipDir, 'clip_vit_tiny.safetensors'));
const bin = readFileSync(join(clipDir, 'clip_vit_tiny.pt'));
let hub: FakeHub;

before(async () => {
  const cfg = { content: config, lfs: false };
  hub = await startFakeHub([
    {
      type: 'model',
      id: 'org/clip-st',
      commit: COMMIT,
      files: {
        'open_clip_config.json': cfg,
        'open_clip_model.safetensors': { content: st, lfs: true },
        'open_clip_pytorch_model.bin': { content: bin, lfs: true },
      },
    },
    {
      type: 'model',
      id: 'org/clip-bin',
      commit: COMMIT,
      files: { 'open_clip_config.json': cfg, 'open_clip_pytorch_model.bin': { content: bin, lfs: true } },
    },
    { type: 'model', id: 'org/clip-none', commit: COMMIT, files: { 'open_clip_config.json': cfg } },
  ]);
});

after(async () => {
  await hub.close();
});

test('hf:// CLIP: safetensors preferred, the .bin otherwise (online and from the cache offline), missing weights named', async () => {
  const cacheDir = mkdtempSync(join(tmpdir(), 'clip-hub-'));
  const env: HubEnv = { endpoint: hub.url, token: undefined, offline: false, cacheDir };
  const a = await resolveClip('hf://org/clip-st', { env, quiet: true });
  assert.ok(a.weights.endsWith('/open_clip_model.safetensors'), a.weights);
  assert.deepEqual(readFileSync(a.weights), st);
  assert.equal(a.config.embedDim, 24);
  const b = await resolveClip('hf://org/clip-bin', { env, quiet: true });
  assert.ok(b.weights.endsWith('/open_clip_pytorch_model.bin'), b.weights);
  assert.deepEqual(readFileSync(b.weights), bin);
  const offline = await resolveClip('hf://org/clip-bin', { env: { ...env, offline: true }, quiet: true });
  assert.equal(offline.weights, b.weights);
  await assert.rejects(resolveClip('hf://org/clip-none', { env, quiet: true }), {
    message: `hf://org/clip-none/open_clip_pytorch_model.bin@main: no file open_clip_pytorch_model.bin in model org/clip-none at revision main (commit ${COMMIT})`,
  });
});
