// The whole system end to end on tiny random models: every stage's files, skipping finished stages,
// bit-exact resume after kill -9, generation that survives a kill and does not depend on batch size.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';
import sharp from 'sharp';

import { loadStudent } from '../src/pipeline/student.js';
import { readPipelineConfig, runPipeline } from '../src/pipeline/run-pipeline.js';
import { PROMPTS, tinyModelDir } from './fixtures.js';
import { cliPath as cli, killWhen } from './util.js';

const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

test('pipeline: every stage on tiny random models, then a rerun skips them all', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-pipe-'));
  const model = tinyModelDir();
  const jsonl = join(root, 'annotations.jsonl');
  writeFileSync(
    jsonl,
    [...PROMPTS.map((p) => JSON.stringify({ prompt: p })), '', '{broken', JSON.stringify({ other: 1 })].join('\n'),
  );
  const configPath = join(root, 'run.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      out: join(root, 'out'),
      model,
      device: 'cpu',
      prompts: { from: jsonl, n: 5, seed: 0 },
      generate: { steps: 2, batch: 2 },
      train: {
        steps: 8,
        checkpointEvery: 4,
        validateEvery: 4,
        numScales: 10,
        warmupSteps: 2,
        lr: 1e-4,
        batchSize: 2,
        gradAccumulation: 2,
      },
      grid: { prompts: ['a red circle', 'a dog'] },
      bench: { n: 3, batch: 2, teacherSteps: 2 },
    }),
  );
  const lines: string[] = [];
  await runPipeline(readPipelineConfig(configPath), (l) => lines.push(l));
  const out = join(root, 'out');
  const prompts = JSON.parse(readFileSync(join(out, 'prompts_to_generate.json'), 'utf8')) as string[];
  assert.equal(prompts.length, 5);
  assert.ok(prompts.every((p) => PROMPTS.includes(p)));
  // generate: 5 PNGs of 32×32, captions for each, shards holding latents [.,4,8,8] and text [.,1,77,32]
  const images = readdirSync(join(out, 'data', 'images')).sort();
  assert.deepEqual(images, ['000000.png', '000001.png', '000002.png', '000003.png', '000004.png']);
  const meta = await sharp(join(out, 'data', 'images', '000003.png')).metadata();
  assert.deepEqual([meta.width, meta.height, meta.channels], [32, 32, 3]);
  const captions = JSON.parse(readFileSync(join(out, 'data', 'captions.json'), 'utf8')) as Record<string, string>;
  assert.deepEqual(Object.keys(captions).sort(), images);
  assert.equal(captions['000002.png'], prompts[2]);
  const shard = torch.io.loadSafetensors(
    join(out, 'data', 'latents', readdirSync(join(out, 'data', 'latents'))[0] as string),
  );
  assert.deepEqual(shard.get('latents')!.shape, [2, 4, 8, 8]);
  assert.deepEqual(shard.get('text')!.shape, [2, 1, 77, 32]);
  assert.deepEqual(shard.get('index')!.toArray(), [0, 1]);
  // train: 8 log lines with finite losses; checkpoints at 4 and 8; the student loads
  const log = readFileSync(join(out, 'run', 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number; lr: number });
  assert.deepEqual(
    log.map((l) => l.step),
    [1, 2, 3, 4, 5, 6, 7, 8],
  );
  assert.ok(log.every((l) => Number.isFinite(l.loss) && l.loss > 0));
  assert.equal(log[0]!.lr, 0, 'warmup starts at 0');
  assert.deepEqual(readdirSync(join(out, 'run', 'checkpoints')).sort(), ['latest.json', 'step-000004', 'step-000008']);
  assert.deepEqual(readdirSync(join(out, 'run', 'validation')).sort(), ['step-000004.png', 'step-000008.png']);
  const s = loadStudent(join(out, 'run'), { device: 'cpu' });
  assert.equal(s.checkpoint, join(out, 'run', 'checkpoints', 'step-000008'));
  s.dispose();
  // grid: 2 rows × 4 columns of 32 px with 2 px gaps
  const g = await sharp(join(out, 'run', 'grid.png')).metadata();
  assert.deepEqual([g.width, g.height], [4 * 32 + 5 * 2, 2 * 32 + 3 * 2]);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'run', 'grid.json'), 'utf8')).steps, [1, 2, 4, 8]);
  // bench: the first 3 PartiPrompts, for the student and the teacher
  for (const dir of ['bench', 'bench-teacher']) {
    const b = join(out, 'run', dir);
    assert.deepEqual(
      readdirSync(b)
        .filter((f) => f.endsWith('.png'))
        .sort(),
      ['0000.png', '0001.png', '0002.png'],
    );
    assert.deepEqual(readFileSync(join(b, 'prompts.txt'), 'utf8').trim().split('\n'), [
      '0000.png\tbond',
      '0001.png\telement',
      '0002.png\tmolecule',
    ]);
    const summary = JSON.parse(readFileSync(join(b, 'summary.json'), 'utf8'));
    assert.ok(summary.timings.per_image_ms > 0);
    assert.deepEqual(Object.keys(summary.timings.per_stage_ms).sort(), ['sampling', 'text_encode', 'vae_decode']);
  }
  assert.ok(existsSync(join(out, 'run', 'report.html')));
  // A second run finds every stage done.
  const again: string[] = [];
  await runPipeline(readPipelineConfig(configPath), (l) => again.push(l));
  for (const stage of ['prompts', 'generate', 'train', 'grid', 'bench'])
    assert.ok(
      again.some((l) => l.startsWith(`pipeline: ${stage}: skipped`)),
      `${stage} not skipped: ${again.join(' | ')}`,
    );
});

function trainArgs(model: string, data: string, out: string): string[] {
  return [
    'train',
    '--model',
    model,
    '--data',
    data,
    '--out',
    out,
    '--device',
    'cpu',
    '--steps',
    '40',
    '--checkpoint-every',
    '5',
    '--validate-every',
    '100',
    '--num-scales',
    '10',
    '--warmup-steps',
    '3',
    '--lr',
    '1e-4',
    '--target-ema',
    '0.9',
    '--ema',
    '0.99',
  ];
}

test('generate: a kill between a batch shard and its captions write is mended by the rerun', () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-gencap-'));
  const model = tinyModelDir();
  const promptsFile = join(root, 'prompts.json');
  writeFileSync(promptsFile, JSON.stringify(PROMPTS));
  const out = join(root, 'data');
  const gen = ['generate', '--model', model, '--prompts', promptsFile, '--out', out, '--batch', '2', '--steps', '2'];
  assert.equal(run(gen).status, 0);
  const full = JSON.parse(readFileSync(join(out, 'captions.json'), 'utf8')) as Record<string, string>;
  assert.equal(Object.keys(full).length, PROMPTS.length);
  // The state a kill leaves in that window: the last batch's shard written, its captions not.
  const partial = { ...full };
  delete partial['000004.png'];
  delete partial['000005.png'];
  writeFileSync(join(out, 'captions.json'), JSON.stringify(partial));
  const r = run(gen);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`${PROMPTS.length} already done, 0 to go`));
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'captions.json'), 'utf8')), full);
});

test('generate: killed mid-way then rerun equals one run; batch 1 equals batch 4', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-gen-'));
  const model = tinyModelDir();
  const promptsFile = join(root, 'prompts.json');
  writeFileSync(promptsFile, JSON.stringify([...PROMPTS, ...PROMPTS.map((p) => `${p}, again`)]));
  const gen = (out: string, batch: number) => [
    'generate',
    '--model',
    model,
    '--prompts',
    promptsFile,
    '--out',
    out,
    '--batch',
    String(batch),
    '--steps',
    '8',
    '--device',
    'cpu',
  ];
  assert.equal(run(gen(join(root, 'b4'), 4)).status, 0);
  const killed = join(root, 'killed');
  await killWhen(
    gen(killed, 1),
    () =>
      existsSync(join(killed, 'latents')) &&
      readdirSync(join(killed, 'latents')).filter((f) => f.endsWith('.safetensors')).length >= 3,
  );
  const r = run(gen(killed, 1));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /already done/);
  const names = readdirSync(join(root, 'b4', 'images')).sort();
  assert.equal(names.length, 12);
  for (const n of names) {
    assert.ok(
      readFileSync(join(killed, 'images', n)).equals(readFileSync(join(root, 'b4', 'images', n))),
      `${n}: batch 1 (killed and resumed) differs from batch 4`,
    );
  }
  assert.deepEqual(
    JSON.parse(readFileSync(join(killed, 'captions.json'), 'utf8')),
    JSON.parse(readFileSync(join(root, 'b4', 'captions.json'), 'utf8')),
  );
  // A rerun with other settings into the same folder is refused, naming what changed.
  const other = run([...gen(killed, 1).slice(0, -4), '--steps', '9', '--device', 'cpu']);
  assert.notEqual(other.status, 0);
  assert.match(other.stderr, /generate\.json: this folder was generated with different settings \(steps: 8 → 9\)/);
});

test('train: resume after kill -9 ends bit-identical to an uninterrupted run', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-resume-'));
  const model = tinyModelDir();
  const promptsFile = join(root, 'prompts.json');
  writeFileSync(promptsFile, JSON.stringify(PROMPTS));
  const data = join(root, 'data');
  assert.equal(
    run(['generate', '--model', model, '--prompts', promptsFile, '--out', data, '--steps', '2', '--device', 'cpu'])
      .status,
    0,
  );
  const straight = join(root, 'straight');
  assert.equal(run(trainArgs(model, data, straight)).status, 0);
  const killed = join(root, 'killed');
  const logPath = join(killed, 'log.jsonl');
  await killWhen(
    trainArgs(model, data, killed),
    () => existsSync(logPath) && readFileSync(logPath, 'utf8').split('\n').length > 13,
  );
  const resumed = run([...trainArgs(model, data, killed), '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /resumed from .*step-0000(05|10|15|20)/);
  for (const f of ['student', 'target', 'ema', 'optimizer', 'rng']) {
    const a = readFileSync(join(straight, 'checkpoints', 'step-000040', `${f}.safetensors`));
    const b = readFileSync(join(killed, 'checkpoints', 'step-000040', `${f}.safetensors`));
    assert.ok(a.equals(b), `${f}.safetensors differs after resume`);
  }
  const steps = readFileSync(logPath, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { step: number }).step);
  assert.deepEqual(
    steps,
    Array.from({ length: 40 }, (_, i) => i + 1),
    'the log has each step once',
  );
});

test('train: relative --model/--data are recorded absolute, so the student loads from any directory', () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-relpaths-'));
  const model = tinyModelDir();
  const promptsFile = join(root, 'prompts.json');
  writeFileSync(promptsFile, JSON.stringify(PROMPTS.slice(0, 2)));
  const inRoot = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', cwd: root });
  const gen = inRoot(['generate', '--model', relative(root, model), '--prompts', 'prompts.json', '--out', 'data']);
  assert.equal(gen.status, 0, gen.stderr);
  const args = [...trainArgs(relative(root, model), 'data', 'run'), '--steps', '2', '--checkpoint-every', '2'];
  const trained = inRoot(args);
  assert.equal(trained.status, 0, trained.stderr);
  const state = JSON.parse(readFileSync(join(root, 'run', 'checkpoints', 'step-000002', 'state.json'), 'utf8'));
  assert.equal(state.config.model, model);
  assert.equal(state.config.data, join(root, 'data'));
  // this process's working directory is not root
  const s = loadStudent(join(root, 'run'), { device: 'cpu' });
  assert.equal(s.checkpoint, join(root, 'run', 'checkpoints', 'step-000002'));
  s.dispose();
  // the same relative options resume without a complaint about changed options
  const resumed = inRoot([...args, '--resume']);
  assert.equal(resumed.status, 0, resumed.stderr);
});

test('generate --shard i/n: two shards into one folder make the same images as one run', () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-shard-'));
  const model = tinyModelDir();
  const promptsFile = join(root, 'prompts.json');
  writeFileSync(promptsFile, JSON.stringify(PROMPTS));
  const gen = (out: string, extra: string[]) =>
    run([
      'generate',
      '--model',
      model,
      '--prompts',
      promptsFile,
      '--out',
      out,
      '--steps',
      '2',
      '--device',
      'cpu',
      ...extra,
    ]);
  assert.equal(gen(join(root, 'one'), []).status, 0);
  for (const s of ['0/2', '1/2']) assert.equal(gen(join(root, 'sharded'), ['--shard', s]).status, 0);
  const names = readdirSync(join(root, 'one', 'images')).sort();
  assert.deepEqual(readdirSync(join(root, 'sharded', 'images')).sort(), names);
  for (const n of names)
    assert.ok(readFileSync(join(root, 'one', 'images', n)).equals(readFileSync(join(root, 'sharded', 'images', n))), n);
  const shard0 = JSON.parse(readFileSync(join(root, 'sharded', 'captions-shard-0-of-2.json'), 'utf8')) as Record<
    string,
    string
  >;
  assert.deepEqual(Object.keys(shard0).sort(), ['000000.png', '000002.png', '000004.png']);
  assert.equal(gen(join(root, 'bad'), ['--shard', '2/2']).status, 1);
});
