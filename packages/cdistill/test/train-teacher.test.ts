// `cdistill train-teacher`: an interrupted run (stopped, or killed with SIGKILL) resumed from its
// checkpoint ends bit-identical to an uninterrupted one; a frozen text tower stays at its init; a
// resume with other options is refused.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';

import { loadModel } from '../src/models/load.js';
import { trainTeacher } from '../src/pipeline/train-teacher.js';
import { TeacherConfigSchema, type TeacherConfig } from '../src/training/teacher-config.js';
import { cliPath, killWhen, vocabPath } from './util.js';

const quiet = () => {};
const tiny = (o: Partial<TeacherConfig> = {}) =>
  TeacherConfigSchema.parse({ steps: 4, batchSize: 2, warmupSteps: 1, checkpointEvery: 2, ...o });
const run = (out: string, config: TeacherConfig, stopAfter?: number) =>
  trainTeacher(
    {
      world: 'shapes',
      out,
      vocab: vocabPath,
      config,
      device: 'cpu',
      quiet: true,
      ...(stopAfter !== undefined ? { stopAfter } : {}),
    },
    quiet,
  );
const logOf = (dir: string) =>
  readFileSync(join(dir, 'teacher_log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { step: number; loss: number });

test('train-teacher: stopped after step 3, resumed from the step-2 checkpoint, ends bit-identical to one run', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-teacher-'));
  const whole = join(root, 'whole');
  const parts = join(root, 'parts');
  await run(whole, tiny());
  assert.equal((await run(parts, tiny(), 3)).step, 3);
  const resumed = await run(parts, tiny());
  assert.equal(resumed.step, 4);
  for (const f of ['dit.safetensors', 'text.safetensors'])
    assert.ok(readFileSync(join(parts, f)).equals(readFileSync(join(whole, f))), f);
  // The log of the resumed run drops step 3 (after the checkpoint) and redoes it with the same loss.
  assert.deepEqual(
    logOf(parts).map((l) => l.step),
    [1, 2, 3, 4],
  );
  assert.deepEqual(
    logOf(parts).map((l) => l.loss),
    logOf(whole).map((l) => l.loss),
  );
});

test('train-teacher: --text-lr-scale 0 keeps the text tower at its seeded init while the DiT learns', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'cdistill-teacher-')), 't');
  await run(out, tiny({ textLrScale: 0, steps: 2, ema: 0 }));
  const trained = loadModel(out, {});
  const init = loadModel(join(out, 'work'), {});
  try {
    torch.noGrad(() => {
      for (const [k, t] of trained.text.tower.stateDict())
        assert.equal(t.sub(init.text.tower.stateDict().get(k)!.to('float16').to('float32')).abs().max().item(), 0, k);
      const w = 'final_layer.linear.weight'; // zero-init adaLN gates keep the blocks' own weights still in the first steps
      assert.ok(
        trained.dit.stateDict().get(w)!.sub(init.dit.stateDict().get(w)!).abs().max().item() > 1e-4,
        `${w} did not move`,
      );
    });
  } finally {
    trained.dispose();
    init.dispose();
  }
});

test('train-teacher: resuming with another learning rate is refused, naming the checkpoint', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'cdistill-teacher-')), 't');
  await run(out, tiny(), 2);
  await assert.rejects(run(out, tiny({ lr: 2e-4 })), {
    message: `${join(out, 'work', 'checkpoints', 'step-000002')}: this run's options differ from the checkpoint's (lr: 0.001 → 0.0002); resume with the same options, or use a new --out`,
  });
  // The schedule may change between runs (a longer run, another σ phase): that resumes.
  assert.equal((await run(out, tiny({ steps: 6, pMean: 1 }))).step, 6);
});

test('train-teacher: killed with SIGKILL mid-run, rerun ends bit-identical to one run, each step logged once', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-teacher-kill-'));
  const args = (out: string) => [
    'train-teacher',
    '--out',
    out,
    '--vocab',
    vocabPath,
    '--steps',
    '30',
    '--batch-size',
    '2',
    '--warmup-steps',
    '1',
    '--checkpoint-every',
    '5',
    '--threads',
    '1',
  ];
  const straight = join(root, 'straight');
  const one = spawnSync(process.execPath, [cliPath, ...args(straight)], { encoding: 'utf8' });
  assert.equal(one.status, 0, one.stderr);
  const killed = join(root, 'killed');
  const log = join(killed, 'teacher_log.jsonl');
  await killWhen(args(killed), () => existsSync(log) && readFileSync(log, 'utf8').split('\n').length > 8); // no parse: a line may be half-written
  assert.ok(!existsSync(join(killed, 'dit.safetensors')), 'killed before the export');
  const rerun = spawnSync(process.execPath, [cliPath, ...args(killed)], { encoding: 'utf8' });
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stdout, /train-teacher: resumed at step (5|10|15|20|25)\n/);
  for (const f of ['dit.safetensors', 'text.safetensors'])
    assert.ok(readFileSync(join(killed, f)).equals(readFileSync(join(straight, f))), `${f} differs after the kill`);
  assert.deepEqual(
    logOf(killed).map((l) => l.step),
    Array.from({ length: 30 }, (_, i) => i + 1),
  );
});

test('train-teacher: a non-finite loss stops the run as train does, naming the intact last checkpoint; nothing is exported', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'cdistill-teacher-nan-')), 't');
  const lines: string[] = [];
  // lr 1e30 blows the weights up after the first update: the second step's loss overflows.
  const r = await trainTeacher(
    {
      world: 'shapes',
      out,
      config: tiny({ steps: 6, lr: 1e30, warmupSteps: 0, checkpointEvery: 1 }),
      device: 'cpu',
      quiet: true,
    },
    (l) => lines.push(l),
  );
  const ckpt = join(out, 'work', 'checkpoints', 'step-000001');
  assert.deepEqual(r, { step: 1, lastCheckpoint: ckpt, stoppedOnNonFinite: true, dir: out });
  assert.deepEqual(lines, [
    `train-teacher: the loss is Infinity at step 2; stopping. The last good checkpoint is ${ckpt} (intact).`,
  ]);
  assert.ok(!existsSync(join(out, 'dit.safetensors')), 'no teacher exported');
  assert.deepEqual(
    logOf(out).map((l) => l.step),
    [1],
  );
  // The checkpoint is whole: a run with a sane learning rate is refused only for its options, not for damage.
  await assert.rejects(
    run(out, tiny({ steps: 6, warmupSteps: 0, checkpointEvery: 1 })),
    /this run's options differ from the checkpoint's \(lr: 1e\+30 → 0\.001\)/,
  );
});

test('train-teacher --lr-decay-from: warmup, constant, then a linear fall to 0 at the last step; earlier steps unchanged', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-teacher-decay-'));
  const plain = join(root, 'plain');
  const decay = join(root, 'decay');
  await run(plain, tiny({ steps: 6, checkpointEvery: 3 }));
  await run(decay, tiny({ steps: 6, checkpointEvery: 3, lrDecayFrom: 3 }));
  const lr = (d: string) =>
    readFileSync(join(d, 'teacher_log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { lr: number }).lr);
  // step k (1-based) logs the rate of optimizer step k − 1: warmup 1 step, then 1e-3, falling from step 3.
  assert.deepEqual(lr(plain), [0, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3]);
  assert.deepEqual(lr(decay), [0, 1e-3, 1e-3, 1e-3, 1e-3 * (2 / 3), 1e-3 * (1 / 3)]);
  assert.deepEqual(
    logOf(decay)
      .slice(0, 4)
      .map((l) => l.loss),
    logOf(plain)
      .slice(0, 4)
      .map((l) => l.loss),
    'the same losses before the decay starts',
  );
});

test('train-teacher --init-from: continues an exported teacher from its weights and its step; other options are refused', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-teacher-init-'));
  const first = join(root, 'first');
  const next = join(root, 'next');
  // EMA decay 1 never moves the EMA, so the second run exports exactly what it was initialized with; the
  // first exports its raw (trained) weights, which differ from the seeded init a run without
  // --init-from would keep.
  await run(first, tiny({ steps: 2, ema: 1, exportWeights: 'raw' }));
  const lines: string[] = [];
  await trainTeacher(
    {
      world: 'shapes',
      out: next,
      vocab: vocabPath,
      initFrom: first,
      config: tiny({ steps: 4, ema: 1 }),
      device: 'cpu',
      quiet: true,
    },
    (l) => lines.push(l),
  );
  assert.deepEqual(lines, [
    `train-teacher: continuing ${first} from step 2 (its exported weights; fresh optimizer moments)`,
  ]);
  // Equal values, not bytes: the EMA update a + 0·(b − a) turns −0 into +0.
  torch.tidy(() => {
    for (const f of ['dit.safetensors', 'text.safetensors']) {
      const want = torch.io.loadSafetensors(join(first, f));
      for (const [k, t] of torch.io.loadSafetensors(join(next, f)))
        assert.equal(t.sub(want.get(k)!).abs().max().item(), 0, `${f} ${k}: not the first run's weights`);
    }
  });
  assert.deepEqual(
    logOf(next).map((l) => l.step),
    [3, 4],
  );
  const again = (config: TeacherConfig) =>
    trainTeacher(
      {
        world: 'shapes',
        out: join(root, 'other'),
        vocab: vocabPath,
        initFrom: first,
        config,
        device: 'cpu',
        quiet: true,
      },
      quiet,
    );
  const info = join(first, 'train-teacher.json');
  await assert.rejects(again(tiny({ steps: 4, ema: 1, batchSize: 3 })), {
    message: `${info}: this run's options differ from the ones that trained it (batchSize: 2 → 3); continue with the same options`,
  });
  await assert.rejects(again(tiny({ steps: 2, ema: 1 })), {
    message: `${info}: trained for 2 steps already; --steps must be more than that`,
  });
  await assert.rejects(
    trainTeacher(
      { world: 'shapes', out: join(root, 'none'), initFrom: root, config: tiny(), device: 'cpu', quiet: true },
      quiet,
    ),
    {
      message: `${join(root, 'train-teacher.json')}: missing; --init-from takes a model folder written by train-teacher`,
    },
  );
});
