// export-student: a run's student as a small folder that loads and samples as the checkpoint does.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';

import { exportStudent } from '../src/pipeline/export-student.js';
import { loadStudent, STUDENT_MANIFEST, STUDENT_WEIGHTS } from '../src/pipeline/student.js';
import { perImageNoise } from '../src/sampling/noise.js';
import { studentSample } from '../src/sampling/sample.js';
import { PROMPTS, tinyModelDir } from './fixtures.js';
import { cliPath as cli } from './util.js';

const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

/** A tiny teacher, its 2-image dataset and a 3-step CD run (with an EMA copy). */
function trainedRun(): { root: string; model: string; runDir: string } {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-export-'));
  const model = tinyModelDir();
  writeFileSync(join(root, 'prompts.json'), JSON.stringify(PROMPTS.slice(0, 2)));
  const gen = run(['generate', '--model', model, '--prompts', join(root, 'prompts.json'), '--out', join(root, 'data')]);
  assert.equal(gen.status, 0, gen.stderr);
  const runDir = join(root, 'run');
  const args = ['train', '--model', model, '--data', join(root, 'data'), '--out', runDir, '--steps', '3'];
  const trained = run([...args, '--lr', '1e-3', '--warmup-steps', '1', '--num-scales', '10', '--ema', '0.9']);
  assert.equal(trained.status, 0, trained.stderr);
  return { root, model, runDir };
}

const fixture = trainedRun();

function sampleOf(path: string, o: { useEma?: boolean } = {}): torch.Tensor {
  const s = loadStudent(path, { device: 'cpu', ...o });
  try {
    return torch.keep(
      torch.tidy(() =>
        studentSample(s.model, s.student, s.model.encodePrompts(['a red circle', 'a tree']), perImageNoise([3, 4]), {
          steps: 2,
        }),
      ),
    );
  } finally {
    s.dispose();
  }
}

test('export-student float32: the same weights and the same images as the checkpoint', async () => {
  const out = join(fixture.root, 'exported-f32');
  const m = await exportStudent({ checkpoint: fixture.runDir, out, dtype: 'float32', ema: false }, () => {});
  assert.equal(m.step, 3);
  assert.equal(m.copy, 'student');
  assert.equal(m.teacher, relative(out, fixture.model), 'the teacher is named relative to the folder');
  const a = sampleOf(fixture.runDir);
  const b = sampleOf(out);
  assert.ok(a.equal(b), 'an exported float32 student samples bit-identically');
  const fromRun = loadStudent(fixture.runDir, { device: 'cpu' });
  const fromExport = loadStudent(out, { device: 'cpu' });
  assert.equal(fromExport.checkpoint, out);
  assert.deepEqual(fromExport.config, fromRun.config);
  fromRun.dispose();
  fromExport.dispose();
});

test('export-student float16: weights stored in half precision, loaded back as their rounded float32 values', async () => {
  const out = join(fixture.root, 'exported-f16');
  await exportStudent({ checkpoint: fixture.runDir, out, dtype: 'float16', ema: false }, () => {});
  const stored = torch.io.loadSafetensors(join(out, STUDENT_WEIGHTS));
  const s = loadStudent(fixture.runDir, { device: 'cpu' });
  const e = loadStudent(out, { device: 'cpu' });
  const full = s.student.stateDict();
  const loaded = e.student.stateDict();
  assert.deepEqual([...stored.keys()].sort(), [...full.keys()].sort());
  for (const [k, t] of full) {
    assert.equal(stored.get(k)!.dtype, 'float16', k);
    assert.equal(loaded.get(k)!.dtype, 'float32', k);
    assert.ok(loaded.get(k)!.equal(t.to('float16').to('float32')), `${k}: not the float16 rounding of the weights`);
  }
  s.dispose();
  e.dispose();
});

test('export-student --ema exports the EMA copy, which differs from the student', () => {
  const out = join(fixture.root, 'exported-ema');
  const cli = run(['export-student', '--checkpoint', fixture.runDir, '--out', out, '--dtype', 'float32', '--ema']);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stdout, /export-student: .*step-000003 \(ema, step 3\) → .*exported-ema \(float32\)/);
  const ema = sampleOf(fixture.runDir, { useEma: true });
  assert.ok(sampleOf(out).equal(ema));
  assert.ok(!sampleOf(fixture.runDir).equal(ema));
});

test('export-student: clear errors for what cannot be loaded', async () => {
  const out = join(fixture.root, 'exported-errors');
  await exportStudent({ checkpoint: fixture.runDir, out, dtype: 'float16', ema: false }, () => {});
  const manifest = join(out, STUDENT_MANIFEST);
  assert.throws(
    () => loadStudent(out, { device: 'cpu', useEma: true }),
    new Error(
      `${manifest}: an exported student holds one set of weights (student); export the EMA copy with export-student --ema`,
    ),
  );
  const m = JSON.parse(readFileSync(manifest, 'utf8'));
  writeFileSync(manifest, JSON.stringify({ ...m, teacher: '../no-such-teacher' }));
  assert.throws(
    () => loadStudent(out, { device: 'cpu' }),
    new Error(
      `${manifest}: teacher ../no-such-teacher not found (${join(fixture.root, 'no-such-teacher')}); keep the student beside its teacher`,
    ),
  );
  writeFileSync(manifest, JSON.stringify({ ...m, weights: 'gone.safetensors' }));
  assert.throws(
    () => loadStudent(out, { device: 'cpu' }),
    new Error(`${manifest}: weights gone.safetensors not found (${join(out, 'gone.safetensors')})`),
  );
  writeFileSync(manifest, JSON.stringify({ ...m, dtype: 'int8' }));
  assert.throws(
    () => loadStudent(out, { device: 'cpu' }),
    new Error(`${manifest}: dtype: Invalid enum value. Expected 'float16' | 'bfloat16' | 'float32', received 'int8'`),
  );
});
