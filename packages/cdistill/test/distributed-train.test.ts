// Data-parallel consistency distillation, end to end through the CLI: 2 ranks on this machine (Gloo on
// loopback, `cdistill train --nproc 2`) against 1 process, on a tiny random model and 6 images.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';

import * as torch from '@cdistill/torch';

import { checkpointsOf, train } from '../src/pipeline/train.js';
import { Checkpoint, latestCheckpoint } from '../src/training/checkpoint.js';
import { CdCheckpointStateSchema, TrainConfigSchema } from '../src/training/config.js';
import { tinyDataset, tinyModelDir } from './fixtures.js';
import { cliPath } from './util.js';

const root = mkdtempSync(join(tmpdir(), 'cdistill-dp-'));
const model = tinyModelDir();
const data = join(root, 'data');
// 4 optimizer steps of a global batch of 4, checkpoints at 2 and 4. lr 1e-3 so that the weights move
// far more than the tolerance below (≈ 2e-3 in 2 steps).
const options = (steps: number) => [
  ...['--model', model, '--data', data, '--device', 'cpu', '--steps', String(steps), '--checkpoint-every', '2'],
  ...['--validate-every', '100', '--num-scales', '10', '--warmup-steps', '1', '--lr', '1e-3'],
  ...['--batch-size', '4', '--grad-accumulation', '1'],
];
const COMMON = options(4);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], onSpawn?: (pid: number) => void): Promise<Run> {
  const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  onSpawn?.(child.pid!);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  return new Promise((res) => child.on('close', (code) => res({ code, stdout, stderr })));
}

async function ok(args: string[]): Promise<Run> {
  const r = await cli(args);
  assert.equal(r.code, 0, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`);
  return r;
}

const student = (run: string, step: number) =>
  torch.io.loadSafetensors(join(checkpointsOf(run), `step-${String(step).padStart(6, '0')}`, 'student.safetensors'));

function maxAbsDiff(a: Map<string, torch.Tensor>, b: Map<string, torch.Tensor>): number {
  assert.deepEqual([...a.keys()].sort(), [...b.keys()].sort());
  let m = 0;
  for (const [k, t] of a)
    m = Math.max(
      m,
      torch.tidy(() => t.sub(b.get(k)!).abs().max().item()),
    );
  return m;
}

// Tolerance: float32. The two runs compute the same sums in another order (the batch mean over 4 rows
// vs. the mean of two means over 2 rows, each reduced by Gloo), so each gradient differs by a few ulps
// of its terms; AdamW turns a gradient error δ into an update error of about lr·δ/|g|, and 4 steps add
// four of them to weights of size ~1 (ulp 1.2e-7). Measured: 3e-8. 1e-5 leaves room for other BLAS
// summation orders and is still 100× below what a missing all-reduce gives here (5e-3: each rank
// stepping on its own half of the batch) and below the 2 steps' own movement (2e-3), which is checked.
const TOLERANCE = 1e-5;

const single = join(root, 'single');

before(async () => {
  await tinyDataset(model, data);
  // The 1-process reference both comparisons below are made against.
  await ok(['train', ...COMMON, '--out', single]);
});

test('data parallel: 2 ranks × batch 2 give the weights of 1 rank × batch 4 (float32, within 1e-5)', async () => {
  const two = join(root, 'two');
  const r = await ok(['train', ...COMMON, '--out', two, '--nproc', '2']);
  assert.match(r.stdout, /^\[rank 0\] train: done at step 4; checkpoint .+step-000004$/m);
  assert.match(r.stdout, /^\[rank 1\] train: done at step 4$/m);
  const moved = maxAbsDiff(student(single, 2), student(single, 4));
  assert.ok(
    moved > 100 * TOLERANCE,
    `the weights moved ${moved} in 2 steps: too little for the check to mean anything`,
  );
  for (const step of [2, 4]) {
    const d = maxAbsDiff(student(single, step), student(two, step));
    assert.ok(d <= TOLERANCE, `step ${step}: max |Δw| = ${d} > ${TOLERANCE}`);
  }
  // Rank 0 alone wrote the log: one line per step, the loss the same as one process's (averaged over ranks).
  const log = (run: string) =>
    readFileSync(join(run, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; loss: number; grad_norm: number });
  const [a, b] = [log(single), log(two)];
  assert.deepEqual(
    b.map((l) => l.step),
    [1, 2, 3, 4],
  );
  for (let i = 0; i < 4; i++) {
    assert.ok(Math.abs(a[i]!.loss - b[i]!.loss) <= 1e-6 * Math.abs(a[i]!.loss), `loss of step ${i + 1}`);
    assert.ok(Math.abs(a[i]!.grad_norm - b[i]!.grad_norm) <= 1e-5 * a[i]!.grad_norm, `grad norm of step ${i + 1}`);
  }
  const state = new Checkpoint(latestCheckpoint(checkpointsOf(two))!, CdCheckpointStateSchema).state;
  assert.equal(state.worldSize, 2);
});

test('data parallel: a run checkpointed by 1 rank resumes on 2 and ends where 1 rank would', async () => {
  const run = join(root, 'resumed');
  await ok(['train', ...COMMON, '--out', run, '--stop-after', '2']);
  assert.equal(existsSync(join(checkpointsOf(run), 'step-000004')), false);
  const r = await ok(['train', ...COMMON, '--out', run, '--resume', '--nproc', '2']);
  assert.match(r.stdout, /^\[rank 0\] train: resumed from .+step-000002 at step 2 \(written by 1 rank, now 2\)$/m);
  const d = maxAbsDiff(student(single, 4), student(run, 4));
  assert.ok(d <= TOLERANCE, `max |Δw| = ${d} > ${TOLERANCE}`);
});

/** The child of `parent` whose environment has RANK=<rank> (Linux /proc). */
function rankPid(parent: number, rank: number): number | undefined {
  const kids = readFileSync(`/proc/${parent}/task/${parent}/children`, 'utf8').trim().split(/\s+/).filter(Boolean);
  return kids.map(Number).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`RANK=${rank}`);
    } catch {
      return false;
    }
  });
}

test('data parallel: killing rank 1 stops rank 0 within seconds, naming rank 1; the last checkpoint is intact', async () => {
  const run = join(root, 'killed');
  // A long run, killed in the middle.
  let launcher = 0;
  const done = cli(['train', ...options(100_000), '--out', run, '--nproc', '2'], (pid) => {
    launcher = pid;
  });
  let victim: number | undefined;
  try {
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(checkpointsOf(run), 'latest.json'))) {
      assert.ok(Date.now() < deadline, 'no checkpoint within 60 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    victim = rankPid(launcher, 1);
    assert.ok(victim !== undefined, 'rank 1 found among the launcher children');
  } catch (e) {
    if (launcher) process.kill(launcher, 'SIGTERM'); // its ranks go with it
    throw e;
  }
  process.kill(victim, 'SIGKILL');
  const killedAt = Date.now();
  const r = await done;
  const took = Date.now() - killedAt;
  assert.equal(r.code, 1);
  assert.ok(took < 10_000, `the launcher took ${took} ms to stop after the kill`);
  assert.match(
    r.stderr,
    new RegExp(
      `^train --nproc: rank 1 \\(pid ${victim}\\) was killed by SIGKILL; stopping the other ranks \\(they are killed in 15 s if still running\\)$`,
      'm',
    ),
  );
  // Rank 0 stopped by itself (not killed by the launcher), with an error naming the lost rank.
  assert.match(
    r.stderr,
    new RegExp(
      `^\\[rank 0\\] cdistill: rank 0 of 2: the gradients of step \\d+ failed: .+\\. Lost: rank 1 \\(pid ${victim} on .+\\) has exited\\.$`,
      'm',
    ),
  );
  assert.match(r.stderr, /^train --nproc: rank 0 \(pid \d+\) exited with status 1$/m);
  // The checkpoint latest.json names is whole: its state parses and every part loads into the model.
  const ckpt = new Checkpoint(latestCheckpoint(checkpointsOf(run))!, CdCheckpointStateSchema);
  assert.equal(ckpt.state.step % 2, 0);
  assert.equal(ckpt.state.worldSize, 2);
  const weights = ckpt.part('student');
  assert.equal(maxAbsDiff(weights, weights), 0);
  assert.deepEqual([...weights.keys()].sort(), [...student(single, 2).keys()].sort());
  ckpt.part('optimizer');
  ckpt.tensor('rng', 'train');
});

test('data parallel: a global batch that does not split over the ranks is refused before any rank joins', async () => {
  const world = { rank: 0, worldSize: 2, localRank: 0, masterAddr: '127.0.0.1', masterPort: 1 };
  const out = join(root, 'odd');
  await assert.rejects(
    train(
      { model, data, out, config: TrainConfigSchema.parse({ batchSize: 3 }), device: 'cpu', resume: false, world },
      () => {},
    ),
    {
      message:
        '--batch-size 3 does not split over 2 ranks: it is the global micro-batch, each rank takes an equal share; use a multiple of 2',
    },
  );
  assert.equal(existsSync(out), false);
});
