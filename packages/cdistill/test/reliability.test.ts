// Nothing lost, nothing mislabelled: concurrent runs into one folder, leftovers of killed writers,
// damaged outputs a rerun must not trust, and each kind of bad input getting one message in our words.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';

import { writePromptList } from '../src/data/prompts.js';
import { PROMPTS, tinyModelDir } from './fixtures.js';
import { cliPath } from './util.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'cdistill-rel-'));
const run = (args: string[]) => spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8' });
const model = tinyModelDir();
const promptsFile = join(tmp(), 'prompts.json');
writePromptList(promptsFile, PROMPTS);
const gen = (out: string, seed: number, extra: string[] = []) => [
  'generate',
  '--model',
  model,
  '--prompts',
  promptsFile,
  '--out',
  out,
  '--steps',
  '3',
  '--batch',
  '1',
  '--seed',
  String(seed),
  ...extra,
];

/** A pid that certainly belongs to no process: one that just exited. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(r.stdout);
}

function runAsync(args: string[]): {
  done: Promise<{ status: number | null; stdout: string; stderr: string }>;
  pid: number;
} {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return { pid: child.pid!, done: new Promise((ok) => child.on('exit', (status) => ok({ status, stdout, stderr }))) };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const lastLine = (s: string) => s.trimEnd().split('\n').pop();

test('generate: a second run into a folder in use fails at once naming the folder and the holder; nothing is mislabelled', async () => {
  const root = tmp();
  const out = join(root, 'data');
  const lock = join(out, '.generate-shard-0-of-1.lock');
  const slow = (o: string, seed: number) => [...gen(o, seed), '--steps', '40'];
  const a = runAsync(slow(out, 1));
  await until(() => existsSync(lock), 'the first run to take its lock');
  // The first run is paused while the second runs: on a loaded machine it could otherwise finish
  // before the second has started (seen with a training job on the other core).
  process.kill(a.pid, 'SIGSTOP');
  let b: ReturnType<typeof run>;
  try {
    b = run(slow(out, 99));
  } finally {
    process.kill(a.pid, 'SIGCONT');
  }
  assert.equal(b.status, 1);
  assert.match(
    lastLine(b.stderr)!,
    new RegExp(
      `^cdistill: data folder ${out} is in use by another run: pid ${a.pid} on ${hostname()}, since \\S+ \\(.*generate.*\\); wait for it to finish, or use another folder\\. Lock file: ${lock}$`,
    ),
  );
  const ra = await a.done;
  assert.equal(ra.status, 0, ra.stderr);
  assert.equal(JSON.parse(readFileSync(join(out, 'generate.json'), 'utf8')).seed, 1);
  // The images are the seed-1 run's: the same bytes as a clean seed-1 run elsewhere.
  const clean = join(root, 'clean');
  assert.equal(run(slow(clean, 1)).status, 0);
  for (const n of readdirSync(join(clean, 'images')))
    assert.ok(readFileSync(join(out, 'images', n)).equals(readFileSync(join(clean, 'images', n))), n);
  assert.ok(!existsSync(lock), 'the lock is released');
  // Run after it with other settings: the settings check names what differs.
  const later = run(slow(out, 99));
  assert.equal(
    lastLine(later.stderr),
    `cdistill: ${join(out, 'generate.json')}: this folder was generated with different settings (seed: 1 → 99); use a new --out folder or the same settings`,
  );
});

test('generate: shards of one plan run at once into one folder (one lock per shard); the folder ends complete', async () => {
  const root = tmp();
  const out = join(root, 'data');
  const runs = [0, 1].map((i) => runAsync(gen(out, 5, ['--shard', `${i}/2`])));
  for (const r of runs) assert.equal((await r.done).status, 0);
  const one = join(root, 'one');
  assert.equal(run(gen(one, 5)).status, 0);
  assert.deepEqual(readdirSync(join(out, 'images')).sort(), readdirSync(join(one, 'images')).sort());
  for (const n of readdirSync(join(one, 'images')))
    assert.ok(readFileSync(join(out, 'images', n)).equals(readFileSync(join(one, 'images', n))), n);
});

test("generate: a dead run's lock is taken over, saying so once; its temporary files are removed; damaged outputs are redone", async () => {
  const out = join(tmp(), 'data');
  assert.equal(run(gen(out, 3)).status, 0);
  const images = join(out, 'images');
  const original = readFileSync(join(images, '000002.png'));
  // What a kill -9 leaves: a lock of a dead process, half-written temporaries, a truncated image.
  const pid = deadPid();
  const host = hostname().replace(/[^A-Za-z0-9_-]/g, '_');
  writeFileSync(
    join(out, '.generate-shard-0-of-1.lock'),
    JSON.stringify({ pid, host: hostname(), started: 'earlier', command: 'generate' }),
  );
  writeFileSync(join(images, `.000004.png.tmp-${host}-${pid}`), 'half a png');
  const shardTemp = `.${readdirSync(join(out, 'latents'))[0]}.tmp-${host}-${pid}`;
  writeFileSync(join(out, 'latents', shardTemp), 'half a shard');
  truncateSync(join(images, '000002.png'), 40);
  const r = run(gen(out, 3));
  assert.equal(r.status, 0, r.stderr);
  assert.match(
    r.stderr,
    new RegExp(`data folder ${out}: taking over a stale lock \\(pid ${pid} on ${hostname()} is gone\\)`),
  );
  assert.match(r.stdout, new RegExp(`generate: removed 1 temporary file left by a killed run in ${images}\n`));
  assert.match(
    r.stdout,
    new RegExp(`generate: removed 1 temporary file left by a killed run in ${join(out, 'latents')}\n`),
  );
  assert.match(r.stdout, /generate: 1 image is missing or damaged \(000002\.png\): making it again\n/);
  assert.match(r.stdout, /6 prompts in this shard, 5 already done, 1 to go/);
  assert.ok(readFileSync(join(images, '000002.png')).equals(original), 'redone byte for byte');
  assert.deepEqual(
    readdirSync(images).filter((f) => !/^\d{6}\.png$/.test(f)),
    [],
    'no leftover that a *.png glob could pick up',
  );
  // A damaged shard is moved aside (not deleted) and its images made again.
  const shard = join(out, 'latents', readdirSync(join(out, 'latents')).find((f) => f.endsWith('.safetensors'))!);
  truncateSync(shard, 100);
  const r2 = run(gen(out, 3));
  assert.equal(r2.status, 0, r2.stderr);
  assert.match(
    r2.stdout,
    new RegExp(`generate: ${shard}: .*; moved aside to ${basename(shard)}\\.broken, its images will be made again\n`),
  );
  assert.ok(existsSync(`${shard}.broken`));
});

test('temporary names never end in the final extension', () => {
  for (const p of ['/d/000001.png', '/d/shard-000000-0004.safetensors', '/d/captions.json']) {
    const t = torch.io.tempPathFor(p);
    assert.ok(
      basename(t).startsWith('.') && !t.endsWith('.png') && !t.endsWith('.safetensors') && !t.endsWith('.json'),
      t,
    );
    assert.equal(join(t, '..'), '/d');
  }
});

test('resume and run folders: a missing checkpoint file, broken JSON in latest.json, state.json and captions.json each name the file', async () => {
  const root = tmp();
  const data = join(root, 'data');
  assert.equal(run(gen(data, 1)).status, 0);
  const runDir = join(root, 'run');
  const trainArgs = [
    'train',
    '--model',
    model,
    '--data',
    data,
    '--out',
    runDir,
    '--steps',
    '4',
    '--checkpoint-every',
    '2',
    '--validate-every',
    '100',
    '--num-scales',
    '10',
    '--batch-size',
    '2',
    '--grad-accumulation',
    '1',
  ];
  assert.equal(run(trainArgs).status, 0);
  const ckpt = join(runDir, 'checkpoints', 'step-000004');
  const resume = [...trainArgs, '--resume'];
  rmSync(join(ckpt, 'rng.safetensors'));
  let r = run(resume);
  assert.equal(
    lastLine(r.stderr),
    `cdistill: ${join(ckpt, 'rng.safetensors')}: missing, so this checkpoint is incomplete; resume from an earlier checkpoint (point ${join(ckpt, '..', 'latest.json')} at it) or start a new run`,
  );
  writeFileSync(join(ckpt, 'state.json'), '{"step": 4,');
  r = run(resume);
  assert.match(lastLine(r.stderr)!, new RegExp(`^cdistill: ${join(ckpt, 'state.json')}: not valid JSON: `));
  writeFileSync(join(runDir, 'checkpoints', 'latest.json'), '{"dir": 7}');
  r = run(resume);
  const latest = join(runDir, 'checkpoints', 'latest.json');
  assert.equal(
    r.stderr,
    `cdistill: ${latest}: step: Required\n${latest}: dir: Expected string, received number\n`,
    'one line per problem, each naming file and key',
  );
  writeFileSync(join(data, 'captions.json'), '{"000000.png": 3}');
  r = run(['train', '--model', model, '--data', data, '--out', join(root, 'run2'), '--steps', '1']);
  assert.equal(lastLine(r.stderr), `cdistill: ${join(data, 'captions.json')}: 000000.png: caption must be a string`);
});

test('bad input gets one message in our words, before anything is written', () => {
  const root = tmp();
  const out = join(root, 'never');
  const cases: [string[], string][] = [
    [
      gen(out, 1, ['--device', 'cuda']),
      "error: option '--device <device>' argument 'cuda' is invalid. cuda requested but this libtorch has no CUDA (a CPU build); use --device cpu, or build against a CUDA libtorch (LIBTORCH_USE_PYTORCH=1)",
    ],
    [
      gen(out, 1, ['--device', 'banana']),
      "error: option '--device <device>' argument 'banana' is invalid. unknown device; use cpu, cuda or cuda:N",
    ],
    [
      gen(out, 1, ['--device', 'mps']),
      "error: option '--device <device>' argument 'mps' is invalid. unknown device; use cpu, cuda or cuda:N (this project runs on cpu and cuda; mps is not supported)",
    ],
    [
      gen(out, 1, ['--dtype', 'float16']),
      "cdistill: --dtype float16: libtorch's CPU kernels have no float16 LayerNorm; use --dtype bfloat16 or float32 on the CPU, or --device cuda",
    ],
    [
      ['train', '--model', model, '--data', out, '--out', out, '--skip', '10', '--num-scales', '10'],
      'cdistill: train options: skip: must be smaller than numScales (skip 10, N = 10): the teacher steps from σ[n] to σ[n + skip] among N levels',
    ],
    [
      ['train', '--model', model, '--data', out, '--out', out, '--betas', '0.9,1'],
      'cdistill: train options: betas.1: each beta must be in [0, 1)',
    ],
    [
      ['train', '--model', model, '--data', out, '--out', out, '--guidance-range', '8,2'],
      'cdistill: train options: guidanceRange: the lower end 8 is above the upper end 2',
    ],
    [
      ['prompts', '--from', promptsFile, '--out', join(out, 'p.json'), '--n', '1e30'],
      "error: option '--n <n>' argument '1e30' is invalid. expected a positive integer up to 9007199254740991, got '1e30'",
    ],
    [
      ['generate-one', '--model', model, '--prompt', 'a cat', '--out', join(out, 'x.gif')],
      `cdistill: ${join(out, 'x.gif')}: unknown image extension '.gif'; use .png, .jpg, .jpeg, .webp`,
    ],
  ];
  for (const [args, message] of cases) {
    const r = run(args);
    assert.equal(r.status, 1, args.join(' '));
    assert.equal(r.stderr.split('\n')[0], message, args.join(' '));
  }
  assert.ok(!existsSync(out), 'no output folder was created');
});

test('manifests: absurd DiT sizes and a missing or wrong vae are named by key before anything is allocated', () => {
  const dir = tmp();
  const m = JSON.parse(readFileSync(join(model, 'cdistill-model.json'), 'utf8'));
  const write = (v: unknown) => writeFileSync(join(dir, 'cdistill-model.json'), JSON.stringify(v));
  const one = (v: unknown) => {
    write(v);
    return lastLine(run(['generate-one', '--model', dir, '--prompt', 'x', '--out', join(dir, 'x.png')]).stderr);
  };
  const file = join(dir, 'cdistill-model.json');
  assert.equal(
    one({ ...m, dit: { ...m.dit, config: { ...m.dit.config, dim: 1e9 } } }),
    `cdistill: ${file}: dit.config: dim must be an integer in [1, 65536], got 1000000000`,
  );
  assert.equal(
    one({ ...m, dit: { ...m.dit, config: { ...m.dit.config, depth: -2 } } }),
    `cdistill: ${file}: dit.config: depth must be an integer in [1, 1024], got -2`,
  );
  const { vae: _vae, ...noVae } = m;
  assert.equal(
    one(noVae),
    `cdistill: ${file}: vae: missing; give "identity" (the DiT works in pixel space) or {"folder": "<a diffusers AutoencoderKL folder, relative, absolute or hf://>"}`,
  );
  assert.equal(
    one({ ...m, vae: 'sdxl' }),
    `cdistill: ${file}: vae: expected "identity" (the DiT works in pixel space) or {"folder": "<a diffusers AutoencoderKL folder, relative, absolute or hf://>"}`,
  );
});

test('empty results are errors: no valid prompt, a TSV with a header and no rows', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'empty.jsonl'), '');
  writeFileSync(join(dir, 'other.jsonl'), `${JSON.stringify({ caption: 'a' })}\n${JSON.stringify({ caption: 'b' })}\n`);
  let r = run(['prompts', '--from', join(dir, 'empty.jsonl'), '--out', join(dir, 'p.json')]);
  assert.equal(
    lastLine(r.stderr),
    `cdistill: ${join(dir, 'empty.jsonl')}: no valid prompt (0 lines: 0 blank, 0 invalid, 0 without a string at 'prompt' (--field))`,
  );
  r = run(['prompts', '--from', join(dir, 'other.jsonl'), '--out', join(dir, 'p.json')]);
  assert.equal(
    lastLine(r.stderr),
    `cdistill: ${join(dir, 'other.jsonl')}: no valid prompt (2 lines: 0 blank, 0 invalid, 2 without a string at 'prompt' (--field))`,
  );
  assert.ok(!existsSync(join(dir, 'p.json')));
  writeFileSync(join(dir, 'head.tsv'), 'Prompt\tCategory\n');
  r = run(['bench', '--checkpoint', dir, '--tsv', join(dir, 'head.tsv'), '--out', join(dir, 'bench')]);
  assert.equal(
    lastLine(r.stderr),
    `cdistill: ${join(dir, 'head.tsv')}: no prompts in column Prompt (a header and no rows)`,
  );
});

test('generate-one writes the format its extension names', async () => {
  const dir = tmp();
  for (const [name, magic] of [
    ['x.jpg', [0xff, 0xd8, 0xff]],
    ['x.webp', [0x52, 0x49, 0x46, 0x46]],
    ['x.png', [0x89, 0x50, 0x4e, 0x47]],
  ] as const) {
    const r = run(['generate-one', '--model', model, '--prompt', 'a cat', '--out', join(dir, name), '--steps', '2']);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual([...readFileSync(join(dir, name)).subarray(0, magic.length)], [...magic], name);
  }
});

test('a FIFO or a folder given as a checkpoint is refused at once, not read forever', {
  skip: spawnSync('mkfifo', ['--version']).status !== 0 && 'no mkfifo',
}, () => {
  const dir = tmp();
  const fifo = join(dir, 'weights.safetensors');
  assert.equal(spawnSync('mkfifo', [fifo]).status, 0);
  let r = run(['inspect', fifo]);
  assert.equal(r.status, 1);
  assert.equal(lastLine(r.stderr), `cdistill: ${fifo}: cannot open safetensors file: not a regular file (a FIFO)`);
  mkdirSync(join(dir, 'w.pt'));
  r = run(['inspect', join(dir, 'w.pt')]);
  assert.equal(
    lastLine(r.stderr),
    `cdistill: ${join(dir, 'w.pt')}: no weights file found (looked for diffusion_pytorch_model.safetensors, diffusion_pytorch_model.bin, open_clip_model.safetensors, open_clip_pytorch_model.bin, model.safetensors, pytorch_model.bin)`,
  );
});
