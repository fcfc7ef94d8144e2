// The torchrun environment contract, the rank-aware share of a batch and the --nproc argument rewrite:
// pure functions, checked against hand-written expectations and exact messages.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { withoutOption } from '../src/pipeline/launch-local.js';
import { rankDevice, rankShare } from '../src/training/data-parallel.js';
import { EpochSampler } from '../src/training/data.js';
import { readLaunchEnv } from '../src/util/torchrun-env.js';

const FULL = { RANK: '1', WORLD_SIZE: '4', LOCAL_RANK: '1', MASTER_ADDR: 'node-a', MASTER_PORT: '29500' };

test('launch env: none set is one process; all set is read; LOCAL_RANK may be absent', () => {
  assert.equal(readLaunchEnv({ PATH: '/bin' }), undefined);
  assert.deepEqual(readLaunchEnv(FULL), {
    rank: 1,
    worldSize: 4,
    localRank: 1,
    masterAddr: 'node-a',
    masterPort: 29500,
  });
  const { LOCAL_RANK: _, ...noLocal } = FULL;
  assert.equal(readLaunchEnv(noLocal)?.localRank, 0);
});

test('launch env: half a contract and bad values are refused by name', () => {
  assert.throws(
    () => readLaunchEnv({ RANK: '0' }),
    /^Error: RANK is set but WORLD_SIZE, MASTER_ADDR, MASTER_PORT are not: a distributed launch needs RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT \(and LOCAL_RANK per machine\)$/,
  );
  assert.throws(() => readLaunchEnv({ ...FULL, RANK: '4' }), /^Error: RANK=4 is not below WORLD_SIZE=4$/);
  assert.throws(
    () => readLaunchEnv({ ...FULL, WORLD_SIZE: 'two' }),
    /^Error: WORLD_SIZE=two: expected an integer ≥ 1 \(the torchrun environment contract\)$/,
  );
  assert.throws(
    () => readLaunchEnv({ ...FULL, MASTER_PORT: '70000' }),
    /^Error: MASTER_PORT=70000: not a TCP port \(1\.\.65535\)$/,
  );
  assert.throws(() => readLaunchEnv({ ...FULL, LOCAL_RANK: '-1' }), /^Error: LOCAL_RANK=-1: expected an integer ≥ 0/);
});

test('rank share: 2 ranks × 2 see exactly the samples 1 rank × 4 sees, in order, over several epochs', () => {
  // The sampler every rank runs (same seed), asked for the global batch of 4, five times (6 examples,
  // so batches cross epoch boundaries).
  const one = new EpochSampler(6, 3);
  const [r0, r1] = [new EpochSampler(6, 3), new EpochSampler(6, 3)];
  for (let k = 0; k < 5; k++) {
    const global = one.next(4);
    const a = rankShare(r0.next(4), 0, 2);
    const b = rankShare(r1.next(4), 1, 2);
    assert.deepEqual([...a, ...b], global, `batch ${k}`);
    assert.equal(a.length, 2);
  }
  assert.deepEqual(rankShare(['a', 'b', 'c', 'd', 'e', 'f'], 2, 3), ['e', 'f']);
  assert.throws(() => rankShare([1, 2, 3], 0, 2), /^Error: a batch of 3 does not split into 2 equal shares$/);
});

test('rank device: cuda is the local rank’s GPU; explicit devices stay', () => {
  const env = { rank: 5, worldSize: 8, localRank: 1, masterAddr: 'h', masterPort: 1 };
  assert.equal(rankDevice('cuda', env), 'cuda:1');
  assert.equal(rankDevice('cuda', undefined), 'cuda');
  assert.equal(rankDevice('cuda:3', env), 'cuda:3');
  assert.equal(rankDevice('cpu', env), 'cpu');
});

test('--nproc is removed from the ranks’ command line in both spellings, nothing else', () => {
  assert.deepEqual(withoutOption(['cli.js', 'train', '--nproc', '2', '--steps', '4'], '--nproc'), [
    'cli.js',
    'train',
    '--steps',
    '4',
  ]);
  assert.deepEqual(withoutOption(['train', '--nproc=2', '--nprocs', 'x'], '--nproc'), ['train', '--nprocs', 'x']);
});
