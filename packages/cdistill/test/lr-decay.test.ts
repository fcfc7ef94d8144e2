// `train --lr-decay-from`: the rate the CD trainer actually steps with (log.jsonl's lr) is warmup, then
// constant, then a linear fall to 0 at the last step; it is recorded in config.json, and the steps before
// the decay are the constant-rate run's exactly, as are a shorter run's.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { tinyDataset, tinyModelDir } from './fixtures.js';
import { cliPath } from './util.js';

test('train --lr-decay-from: warmup, constant, then a linear fall to 0 at the last step; earlier steps unchanged', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-lr-decay-'));
  const model = tinyModelDir();
  const data = join(root, 'data');
  await tinyDataset(model, data);
  const trainRun = (out: string, extra: string[], steps = 5) => {
    const r = spawnSync(
      process.execPath,
      [cliPath, 'train', '--model', model, '--data', data, '--out', out, '--steps', String(steps), '--num-scales', '6']
        .concat(['--batch-size', '2', '--grad-accumulation', '1', '--warmup-steps', '1', '--lr', '1e-3'])
        .concat(['--checkpoint-every', '5', '--validate-every', '5', '--device', 'cpu', ...extra]),
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    return readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number; lr: number; loss: number });
  };
  const plain = trainRun(join(root, 'plain'), []);
  const decay = trainRun(join(root, 'decay'), ['--lr-decay-from', '2']);
  assert.deepEqual(
    plain.map((l) => l.lr),
    [0, 1e-3, 1e-3, 1e-3, 1e-3],
  );
  // Optimizer step k (0-based) of 5: 0 in warmup, 1e-3, then (5 − k)/(5 − 2) of it from k = 2.
  assert.deepEqual(
    decay.map((l) => l.lr),
    [0, 1e-3, 1e-3, 1e-3 * (2 / 3), 1e-3 * (1 / 3)],
  );
  assert.deepEqual(
    decay.slice(0, 3).map((l) => l.loss),
    plain.slice(0, 3).map((l) => l.loss),
    'the same losses before the decay starts',
  );
  const short = trainRun(join(root, 'short'), [], 3);
  assert.deepEqual(
    short.map((l) => l.loss),
    plain.slice(0, 3).map((l) => l.loss),
    'a shorter run takes the same first steps: nothing before the decay depends on --steps',
  );
  assert.notDeepEqual(decay[4]!.loss, plain[4]!.loss, 'the decayed steps train differently');
  const recorded = (dir: string) =>
    (JSON.parse(readFileSync(join(root, dir, 'config.json'), 'utf8')) as { lrDecayFrom?: number }).lrDecayFrom;
  assert.deepEqual([recorded('decay'), recorded('plain')], [2, undefined]);
});
