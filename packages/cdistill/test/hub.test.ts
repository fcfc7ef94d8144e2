// Models and prompt files from the Hugging Face Hub, against a Hub on loopback (fake-hub.ts): download
// into the cache in exactly the layout Python's huggingface_hub writes, reuse of what Python left there,
// resume after kill -9, refusal of corrupted bytes, offline mode, gated repositories, missing files.
// Nothing here touches the network.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, before, test } from 'node:test';

import * as torch from '@cdistill/torch';

import { DiT, parseDitConfig } from '../src/models/microdit/index.js';
import { TINY_DIT_CONFIG } from './fixtures.js';
import { etagOf, startFakeHub, type FakeFile, type FakeHub, type FakeRepo } from './fake-hub.js';
import { cliPath, referenceDir } from './util.js';

const COMMIT = `${'a'.repeat(39)}1`;
const DATA_COMMIT = `${'b'.repeat(39)}2`;
const DIT_CONFIG = TINY_DIT_CONFIG;
const TEXT_CONFIG = JSON.parse(readFileSync(join(referenceDir, 'clip', 'clip_text_tiny.json'), 'utf8'))
  .config as Record<string, unknown>;

let hub: FakeHub;
let root: string;
let files: Record<string, FakeFile>;

function ditBytes(): Buffer {
  const dir = mkdtempSync(join(tmpdir(), 'cdistill-hub-dit-'));
  const dit = new DiT(parseDitConfig(DIT_CONFIG, 'test'), { generator: new torch.Generator(3) });
  torch.io.saveSafetensors(join(dir, 'dit.safetensors'), dit.stateDict());
  dit.dispose();
  return readFileSync(join(dir, 'dit.safetensors'));
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'cdistill-hub-'));
  const vae = join(referenceDir, 'vae', 'vae_tiny');
  files = {
    'dit.safetensors': { content: ditBytes(), lfs: true },
    'text.safetensors': { content: readFileSync(join(referenceDir, 'clip', 'clip_text_tiny.safetensors')), lfs: true },
    'vae/config.json': { content: readFileSync(join(vae, 'config.json')), lfs: false },
    'vae/diffusion_pytorch_model.safetensors': {
      content: readFileSync(join(vae, 'diffusion_pytorch_model.safetensors')),
      lfs: true,
    },
    'vae/diffusion_pytorch_model.bin': {
      content: Buffer.from('not needed: a .bin copy beside the safetensors'),
      lfs: true,
    },
    'README.md': { content: Buffer.from('# tiny\n'), lfs: false },
  };
  const repos: FakeRepo[] = [
    { type: 'model', id: 'org/tiny', commit: COMMIT, files },
    {
      type: 'model',
      id: 'org/gated',
      commit: COMMIT,
      files: { 'w.bin': { content: Buffer.from('secret weights'), lfs: true } },
      gatedToken: 'hf_secret',
    },
    {
      type: 'dataset',
      id: 'org/prompts',
      commit: DATA_COMMIT,
      gatedToken: 'hf_secret',
      files: {
        'data/train/anno.jsonl': {
          content: Buffer.from(
            ['a fox', 'a red barn', 'two owls'].map((p) => JSON.stringify({ prompt: p })).join('\n'),
          ),
          lfs: false,
        },
      },
    },
  ];
  hub = await startFakeHub(repos);
});

after(async () => {
  await hub.close();
});

/** A manifest naming the tiny model's parts on the fake Hub. */
function manifest(): string {
  const dir = mkdtempSync(join(root, 'manifest-'));
  writeFileSync(
    join(dir, 'cdistill-model.json'),
    JSON.stringify({
      name: 'tiny-hub',
      dit: { weights: 'hf://org/tiny/dit.safetensors', config: DIT_CONFIG },
      text: { weights: 'hf://org/tiny/text.safetensors', config: TEXT_CONFIG },
      vae: { folder: 'hf://org/tiny/vae' },
      sampling: { steps: 2, guidance: 3 },
    }),
  );
  return dir;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the CLI as a child (asynchronously: the fake Hub lives in this process). */
function cli(args: string[], env: Record<string, string>, onSpawn?: (kill: () => void) => void): Promise<Run> {
  return new Promise((ok) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      env: { ...process.env, HF_ENDPOINT: hub.url, HF_TOKEN: '', HF_HUB_OFFLINE: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (status) => ok({ status, stdout, stderr }));
    onSpawn?.(() => child.kill('SIGKILL'));
  });
}

const repoDir = (cache: string) => join(cache, 'models--org--tiny');
const NEEDED = ['dit.safetensors', 'text.safetensors', 'vae/config.json', 'vae/diffusion_pytorch_model.safetensors'];

/** Every file under `dir`, relative, sorted; symlinks listed as links. */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) walk(p);
      else out.push(`${relative(dir, p)}${st.isSymbolicLink() ? ` -> ${readlinkSync(p)}` : ''}`);
    }
  };
  walk(dir);
  return out.sort();
}

/** What huggingface_hub writes for these files at COMMIT on revision main (its documented layout). */
function pythonLayout(paths: string[]): string[] {
  const blobs = paths.map((p) => `blobs/${etagOf(files[p]!)}`);
  const links = paths.map(
    (p) => `snapshots/${COMMIT}/${p} -> ${'../'.repeat(p.split('/').length + 1)}blobs/${etagOf(files[p]!)}`,
  );
  return [...blobs, 'refs/main', ...links].sort();
}

test('download: every hf:// part of a manifest lands in the cache exactly as Python lays it out; the model then runs offline', async () => {
  const cache = join(root, 'cache-1');
  const m = manifest();
  const r = await cli(['download', m], { HF_HUB_CACHE: cache });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    tree(repoDir(cache)),
    pythonLayout(NEEDED),
    'blobs named by sha256 (LFS) or git sha1, relative snapshot links, refs/main',
  );
  assert.equal(readFileSync(join(repoDir(cache), 'refs', 'main'), 'utf8'), COMMIT);
  for (const p of NEEDED)
    assert.ok(readFileSync(join(repoDir(cache), 'snapshots', COMMIT, p)).equals(files[p]!.content), p);
  assert.ok(
    !hub.requests.some((q) => q.url.includes('diffusion_pytorch_model.bin')),
    'the .bin beside the safetensors is not fetched',
  );
  assert.match(r.stdout, /download: dit\.weights → .*snapshots\/a{39}1\/dit\.safetensors/);

  // Offline, with no network request at all, the model loads from the cache and generates an image.
  const before = hub.requests.length;
  const out = join(root, 'offline.png');
  const g = await cli(['generate-one', '--model', m, '--prompt', 'a red circle', '--out', out], {
    HF_HUB_CACHE: cache,
    HF_HUB_OFFLINE: '1',
  });
  assert.equal(g.status, 0, g.stderr);
  assert.ok(statSync(out).size > 0);
  assert.equal(hub.requests.length, before, 'offline mode makes no request');
  // Online again: everything is in the cache, so only the revision is asked for; no byte is transferred.
  const again = await cli(['download', m], { HF_HUB_CACHE: cache });
  assert.equal(again.status, 0, again.stderr);
  assert.deepEqual(
    hub.requests.slice(before).filter((q) => q.url.includes('/resolve/') || q.url.startsWith('/cdn/')),
    [],
  );
});

test("download: files Python's huggingface_hub already cached are reused, not fetched again", async () => {
  const cache = join(root, 'cache-python');
  const dir = repoDir(cache);
  // The cache as `hf_hub_download` leaves it, written by hand from its documented layout.
  for (const p of NEEDED) {
    const blob = join(dir, 'blobs', etagOf(files[p]!));
    mkdirSync(dirname(blob), { recursive: true });
    writeFileSync(blob, files[p]!.content);
    const link = join(dir, 'snapshots', COMMIT, p);
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(relative(dirname(link), blob), link);
  }
  mkdirSync(join(dir, 'refs'));
  writeFileSync(join(dir, 'refs', 'main'), COMMIT);
  const before = hub.requests.length;
  const r = await cli(['download', manifest()], { HF_HUB_CACHE: cache });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    hub.requests.slice(before).filter((q) => q.url.includes('/resolve/') || q.url.startsWith('/cdn/')),
    [],
    'no file transferred',
  );
  assert.deepEqual(tree(dir), pythonLayout(NEEDED));
});

test('download: kill -9 mid-file leaves nothing that looks complete; the rerun resumes with a Range request', async () => {
  const cache = join(root, 'cache-kill');
  const etag = etagOf(files['text.safetensors']!);
  const partial = join(repoDir(cache), 'blobs', `${etag}.incomplete`);
  hub.options = { throttle: { paths: ['text.safetensors'], chunk: 64 * 1024, delayMs: 25 } };
  const killed = await cli(['download', 'hf://org/tiny/text.safetensors'], { HF_HUB_CACHE: cache }, (kill) => {
    const poll = setInterval(() => {
      if (existsSync(partial) && statSync(partial).size >= 512 * 1024) {
        clearInterval(poll);
        kill();
      }
    }, 10);
  });
  assert.equal(killed.status, null, 'killed by the signal');
  const have = statSync(partial).size;
  assert.ok(have >= 512 * 1024 && have < files['text.safetensors']!.content.length);
  assert.ok(!existsSync(join(repoDir(cache), 'blobs', etag)), 'no blob under its final name');
  assert.ok(!existsSync(join(repoDir(cache), 'snapshots', COMMIT, 'text.safetensors')), 'no snapshot link');

  hub.options = {};
  const before = hub.requests.length;
  const r = await cli(['download', 'hf://org/tiny/text.safetensors'], { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '0' });
  assert.equal(r.status, 0, r.stderr);
  const transfer = hub.requests.slice(before).filter((q) => q.url.startsWith('/cdn/'));
  assert.deepEqual(
    transfer.map((q) => q.range),
    [`bytes=${have}-`],
    'one ranged request for the rest',
  );
  assert.ok(
    readFileSync(join(repoDir(cache), 'snapshots', COMMIT, 'text.safetensors')).equals(
      files['text.safetensors']!.content,
    ),
  );
  assert.ok(!existsSync(partial));
});

test('download: corrupted bytes are refused by the hash check and nothing is left in the cache', async () => {
  const cache = join(root, 'cache-corrupt');
  hub.options = { corrupt: ['dit.safetensors'] };
  try {
    const r = await cli(['download', 'hf://org/tiny/dit.safetensors'], { HF_HUB_CACHE: cache });
    assert.equal(r.status, 1);
    const etag = etagOf(files['dit.safetensors']!);
    const last = r.stderr.split('\n').slice(-2).join('\n'); // after the progress line
    assert.match(
      last,
      new RegExp(
        `^cdistill: hf://org/tiny/dit\\.safetensors@main: the downloaded bytes do not match what the Hub reports \\(sha256 [0-9a-f]{64}, expected ${etag}\\); the partial file was removed, run again\\n$`,
      ),
    );
    assert.deepEqual(tree(repoDir(cache)), ['refs/main'], 'no blob, no .incomplete, no snapshot link');
  } finally {
    hub.options = {};
  }
});

test('download: offline with an empty cache, a missing file, an unknown revision and an unknown model each get one clear error', async () => {
  const cache = join(root, 'cache-errors');
  let r = await cli(['download', 'hf://org/tiny/dit.safetensors'], { HF_HUB_CACHE: cache, HF_HUB_OFFLINE: '1' });
  assert.equal(
    r.stderr,
    `cdistill: hf://org/tiny/dit.safetensors@main: not in the cache ${cache}, and HF_HUB_OFFLINE is set; download it once with network access\n`,
  );
  r = await cli(['download', 'hf://org/tiny/nope.bin'], { HF_HUB_CACHE: cache });
  assert.equal(
    r.stderr,
    `cdistill: hf://org/tiny/nope.bin@main: no file nope.bin in model org/tiny at revision main (commit ${COMMIT})\n`,
  );
  r = await cli(['download', 'hf://org/tiny/dit.safetensors@v9'], { HF_HUB_CACHE: cache });
  assert.equal(r.stderr, 'cdistill: hf://org/tiny/dit.safetensors@v9: model org/tiny has no revision v9\n');
  r = await cli(['download', 'hf://org/nothing/x.bin'], { HF_HUB_CACHE: cache });
  assert.equal(
    r.stderr,
    `cdistill: hf://org/nothing/x.bin@main: no model repository org/nothing with revision main at ${hub.url} (or it is private: set HF_TOKEN)\n`,
  );
  r = await cli(['download', 'microdit'], { HF_HUB_CACHE: cache });
  assert.equal(
    r.stderr,
    'cdistill: microdit: no such model: not a file or folder, and not a built-in model (microdit-xl-512, microdit-xl-512-37m, microdit-xl-512-22m-real, microdit-xl-512-16ch-37m)\n',
  );
  for (const x of [r]) assert.equal(x.status, 1);
});

test('gated repositories: 401 names HF_TOKEN and the page to accept; the right token downloads; prompts --from hf://datasets/ works', async () => {
  const cache = join(root, 'cache-gated');
  let r = await cli(['download', 'hf://org/gated/w.bin'], { HF_HUB_CACHE: cache });
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr,
    `cdistill: hf://org/gated/w.bin@main: access denied (HTTP 401): org/gated is gated or private. Accept its terms at ${hub.url}/org/gated while logged in, then set HF_TOKEN to a token of that account (HF_TOKEN is not set)\n`,
  );
  r = await cli(['download', 'hf://org/gated/w.bin'], { HF_HUB_CACHE: cache, HF_TOKEN: 'hf_wrong' });
  assert.match(r.stderr, /\(HF_TOKEN is set, but that token has no access\)\n$/);
  r = await cli(['download', 'hf://org/gated/w.bin'], { HF_HUB_CACHE: cache, HF_TOKEN: 'hf_secret' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(join(cache, 'models--org--gated', 'snapshots', COMMIT, 'w.bin'), 'utf8'), 'secret weights');

  const out = join(root, 'prompts.json');
  const from = 'hf://datasets/org/prompts/data/train/anno.jsonl';
  r = await cli(['prompts', '--from', from, '--n', '2', '--out', out], { HF_HUB_CACHE: cache });
  assert.equal(
    r.stderr,
    `cdistill: ${from}@main: access denied (HTTP 401): org/prompts is gated or private. Accept its terms at ${hub.url}/datasets/org/prompts while logged in, then set HF_TOKEN to a token of that account (HF_TOKEN is not set)\n`,
  );
  r = await cli(['prompts', '--from', from, '--n', '2', '--out', out], { HF_HUB_CACHE: cache, HF_TOKEN: 'hf_secret' });
  assert.equal(r.status, 0, r.stderr);
  const got = JSON.parse(readFileSync(out, 'utf8')) as string[];
  assert.equal(got.length, 2);
  assert.ok(got.every((p) => ['a fox', 'a red barn', 'two owls'].includes(p)));
  assert.ok(
    existsSync(join(cache, 'datasets--org--prompts', 'snapshots', DATA_COMMIT, 'data', 'train', 'anno.jsonl')),
    'datasets-- prefix, as Python',
  );
});
