// The boundary-condition parametrization end to end: `train --boundary-condition` records it, and a
// student loaded from that run samples with it (D(x, σ_min) = x exactly), while one trained without it
// does not. The coefficients themselves are checked by hand in cd-branches.test.ts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';

import { sampleImages } from '../src/pipeline/sample.js';
import { loadStudent } from '../src/pipeline/student.js';
import { perBatchNoise } from '../src/sampling/noise.js';
import { latentShapeOf } from '../src/sampling/sample.js';
import { tinyDataset, tinyModelDir } from './fixtures.js';
import { cliPath } from './util.js';

const PROMPTS = ['a red circle', 'a blue square'];

test('train --boundary-condition: recorded in config.json, and the student samples with c_skip(σ_min) = 1, c_out(σ_min) = 0', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-boundary-'));
  const model = tinyModelDir();
  const data = join(root, 'data');
  await tinyDataset(model, data);
  const trainRun = (out: string, extra: string[]) => {
    const r = spawnSync(
      process.execPath,
      [cliPath, 'train', '--model', model, '--data', data, '--out', out, '--steps', '2', '--num-scales', '6']
        .concat(['--batch-size', '2', '--grad-accumulation', '1', '--warmup-steps', '1', '--lr', '1e-3'])
        .concat(['--checkpoint-every', '2', '--validate-every', '2', '--device', 'cpu', ...extra]),
      { encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
  };
  trainRun(join(root, 'cm'), ['--boundary-condition']);
  trainRun(join(root, 'edm'), []);
  const recorded = (dir: string) =>
    (JSON.parse(readFileSync(join(root, dir, 'config.json'), 'utf8')) as { boundaryCondition: boolean })
      .boundaryCondition;
  assert.deepEqual([recorded('cm'), recorded('edm')], [true, false]);

  // One consistency step at σ_min is the identity under the boundary parametrization: the image is the
  // decoded z·σ_min, bit for bit, whatever the network has learnt.
  for (const [dir, identity] of [
    ['cm', true],
    ['edm', false],
  ] as const) {
    const s = loadStudent(join(root, dir), { device: 'cpu' });
    const sigmaMin = s.model.edm.sigmaMin;
    const got = sampleImages(s, PROMPTS, 1, 3, { sigmas: [sigmaMin] });
    const want = torch.tidy(() => {
      const z = perBatchNoise(3, PROMPTS.length).next(latentShapeOf(s.model), 'cpu').to('float64');
      return s.model.decodeImages(z.mul(sigmaMin).to('float32'));
    });
    assert.equal(s.config.boundaryCondition, identity);
    if (identity) assert.deepEqual(got.toArray(), want.toArray(), `${dir}: D(x, σ_min) = x`);
    else assert.notDeepEqual(got.toArray(), want.toArray(), `${dir}: EDM's D(x, σ_min) is not the identity`);
    s.dispose();
  }
});
