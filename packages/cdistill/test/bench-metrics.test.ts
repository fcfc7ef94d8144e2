// `bench --metrics` end to end on tiny random models: the pipeline (generate → train → bench with
// metrics → report) with a tiny random open_clip-layout CLIP folder, then `cdistill compare` on the
// two bench folders. The model math is pinned by the golden cases (clip-vision, metrics tests);
// here: the wiring (each image scored against its own prompt, the student against the teacher,
// the same numbers in metrics.json, summary.json, the report and compare).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import * as torch from '@cdistill/torch';

import { ClipModel, clipPixels, parseOpenClipConfig } from '../src/models/clip/index.js';
import { ClipTokenizer } from '../src/models/clip/tokenizer.js';
import { readRgb8 } from '../src/pipeline/images.js';
import { readPipelineConfig, runPipeline } from '../src/pipeline/run-pipeline.js';
import { metricsTable } from '../src/report/sections.js';
import { PROMPTS, tinyModelDir } from './fixtures.js';
import { cliPath, referenceDir, vocabPath } from './util.js';

/** The golden case's tiny random FID Inception (legacy torch.save, as pytorch-fid publishes its weights). */
const inception = join(referenceDir, 'inception', 'fid_inception_tiny.pth');

/** A tiny random CLIP laid out as an OpenCLIP Hub repository (vocab of the real tokenizer). */
function tinyClipDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cdistill-clip-'));
  const raw = {
    model_cfg: {
      embed_dim: 8,
      quick_gelu: true,
      vision_cfg: { image_size: 24, patch_size: 8, width: 16, layers: 1, head_width: 8 },
      text_cfg: { context_length: 77, vocab_size: 49408, width: 8, heads: 2, layers: 1 },
    },
    preprocess_cfg: { resize_mode: 'shortest' },
  };
  writeFileSync(join(dir, 'open_clip_config.json'), JSON.stringify(raw));
  const m = new ClipModel(parseOpenClipConfig(raw, 'tiny'), { generator: new torch.Generator(5) });
  torch.io.saveSafetensors(
    join(dir, 'open_clip_model.safetensors'),
    new Map([...m.text.stateDict(), ...m.joint.stateDict()]),
  );
  m.dispose();
  return dir;
}

test('bench --metrics: CLIP scores and FD/KID vs the teacher in metrics.json, summary.json, the report; compare agrees', async () => {
  const root = mkdtempSync(join(tmpdir(), 'cdistill-benchm-'));
  const clip = tinyClipDir();
  const jsonl = join(root, 'prompts.jsonl');
  writeFileSync(jsonl, PROMPTS.map((p) => JSON.stringify({ prompt: p })).join('\n'));
  const tsv = join(root, 'parti.tsv');
  writeFileSync(tsv, `Prompt\tCategory\n${PROMPTS.slice(0, 4).join('\tx\n')}\tx\n`);
  const configPath = join(root, 'run.json');
  writeFileSync(
    configPath,
    JSON.stringify({
      out: join(root, 'out'),
      model: tinyModelDir(),
      prompts: { from: jsonl, n: 4, seed: 0 },
      generate: { steps: 2, batch: 2 },
      train: { steps: 2, checkpointEvery: 2, validateEvery: 2, numScales: 10, warmupSteps: 1, batchSize: 2 },
      bench: { tsv, n: 4, batch: 2, steps: 2, teacherSteps: 2, metrics: true, clip, metricsBatch: 3, inception },
    }),
  );
  const lines: string[] = [];
  await runPipeline(readPipelineConfig(configPath), (l) => lines.push(l));
  const bench = join(root, 'out', 'run', 'bench');
  const m = JSON.parse(readFileSync(join(bench, 'metrics.json'), 'utf8'));
  assert.deepEqual(Object.keys(m.eval), ['student 2 steps', 'teacher 2 steps']);
  assert.deepEqual(Object.keys(m.eval['student 2 steps']), [
    'clip_score',
    'fd_vs_teacher',
    'kid_vs_teacher',
    'fd_inception_vs_teacher',
    'kid_inception_vs_teacher',
  ]);
  assert.equal(m.inception_weights, inception);
  assert.deepEqual(Object.keys(m.eval['teacher 2 steps']), ['clip_score']);
  assert.equal(m.features.dtype, 'float32');
  for (const [name, scores] of Object.entries(m.clip_scores) as [string, number[]][]) {
    assert.equal(scores.length, 4);
    assert.ok(scores.every((s) => s >= 0 && s <= 100));
    const mean = scores.reduce((a, b) => a + b, 0) / 4;
    assert.ok(Math.abs(m.eval[name].clip_score - mean) < 1e-12);
  }
  const st = m.eval['student 2 steps'];
  assert.ok(st.fd_vs_teacher > 0 && Number.isFinite(st.kid_vs_teacher), JSON.stringify(st));
  assert.ok(st.fd_inception_vs_teacher > 0 && Number.isFinite(st.kid_inception_vs_teacher), JSON.stringify(st));

  // Image 2 scored against prompt 2: recomputed here from the parts, cosine by hand.
  const raw = JSON.parse(readFileSync(join(clip, 'open_clip_config.json'), 'utf8'));
  const cfg = parseOpenClipConfig(raw, 'tiny');
  const model = ClipModel.fromCheckpoint(join(clip, 'open_clip_model.safetensors'), cfg);
  const img = model.encodeImage(clipPixels([await readRgb8(join(bench, '0002.png'))], 24, cfg.preprocess));
  const ids = ClipTokenizer.fromFile(vocabPath).tokenizeInt32([PROMPTS[2]!], 77);
  const txt = model.encodeText(torch.tensor(ids, { dtype: 'int64', shape: [1, 77] }));
  const [a, b] = [Array.from(img.data<'float32'>()), Array.from(txt.data<'float32'>())];
  const dot = (u: number[], v: number[]) => u.reduce((s, x, i) => s + x * v[i]!, 0);
  const cos = dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b));
  assert.ok(Math.abs(m.clip_scores['student 2 steps'][2] - 100 * Math.max(cos, 0)) < 1e-3);
  model.dispose();

  const summary = JSON.parse(readFileSync(join(bench, 'summary.json'), 'utf8'));
  assert.equal(summary.clip_score, st.clip_score);
  assert.ok(
    lines.some((l) => l.startsWith('metrics: student 2 steps: CLIP score ')),
    lines.join('\n'),
  );
  const html = readFileSync(join(root, 'out', 'run', 'report.html'), 'utf8');
  assert.match(html, /<h3>Quality \(/);
  assert.match(html, /FD vs teacher/);

  // A rerun with metrics.json gone measures the existing images again, the same numbers, no new images.
  rmSync(join(bench, 'metrics.json'));
  const again: string[] = [];
  await runPipeline(readPipelineConfig(configPath), (l) => again.push(l));
  assert.ok(again.includes(`pipeline: bench: images exist (${bench}/summary.json); computing the metrics only`));
  assert.deepEqual(JSON.parse(readFileSync(join(bench, 'metrics.json'), 'utf8')).eval, m.eval);

  // compare on the two folders in the same batches: the same features, so the same FD; KID with the same seed too.
  const out = join(root, 'cmp.json');
  const r = spawnSync(
    process.execPath,
    [cliPath, 'compare', bench, `${bench}-teacher`, '--clip', clip, '--batch', '3', '--seed', '2024', '--out', out],
    { encoding: 'utf8' },
  );
  assert.equal(r.status, 0, r.stderr);
  const c = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(c.a.images, 4);
  assert.ok(Math.abs(c.fd - st.fd_vs_teacher) <= 1e-9 * st.fd_vs_teacher, `${c.fd} vs ${st.fd_vs_teacher}`);
  assert.ok(Math.abs(c.kid - st.kid_vs_teacher) <= 1e-9 * Math.abs(st.kid_vs_teacher) + 1e-15);
  assert.match(r.stdout, /^compare: 4 vs 4 images: CLIP FD \d+\.\d{4}, KID -?\d+\.\d{5}$/m);
  assert.equal(c.inception, undefined);

  // Inception only: the FID and KID that bench --metrics wrote for the same two folders.
  const fid = spawnSync(
    process.execPath,
    [
      cliPath,
      'compare',
      bench,
      `${bench}-teacher`,
      '--no-clip',
      '--inception',
      inception,
      '--batch',
      '3',
      '--seed',
      '2024',
      '--out',
      out,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(fid.status, 0, fid.stderr);
  const ci = JSON.parse(readFileSync(out, 'utf8'));
  assert.equal(ci.fd, undefined);
  assert.equal(ci.inception.weights, inception);
  const rel = (x: number, y: number) => Math.abs(x - y) / Math.max(Math.abs(y), 1e-12);
  assert.ok(
    rel(ci.inception.fid, st.fd_inception_vs_teacher) <= 1e-9,
    `${ci.inception.fid} vs ${st.fd_inception_vs_teacher}`,
  );
  assert.ok(
    Math.abs(ci.inception.kid - st.kid_inception_vs_teacher) <= 1e-9 * Math.abs(st.kid_inception_vs_teacher) + 1e-15,
  );
  assert.match(fid.stdout, /^compare: 4 vs 4 images: Inception FID \d+\.\d{4}, KID -?\d+\.\d{5}$/m);
  const nothing = spawnSync(process.execPath, [cliPath, 'compare', bench, root, '--no-clip'], { encoding: 'utf8' });
  assert.equal(nothing.status, 1);
  assert.match(nothing.stderr, /cdistill: compare: nothing to compute: --no-clip needs --inception <weights>/);
  const bad = spawnSync(process.execPath, [cliPath, 'compare', bench, root, '--clip', join(root, 'nope')], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, new RegExp(`cdistill: ${root}: no images \\(\\.png, \\.jpg, \\.jpeg, \\.webp\\)`));
});

test('report metrics table: bold marks the lowest FD and KID and the highest CLIP score', () => {
  const html = metricsTable([
    ['student 1 steps', { clip_score: 20, fd_vs_teacher: 3, kid_vs_teacher: 0.5 }],
    ['student 4 steps', { clip_score: 30, fd_vs_teacher: 1, kid_vs_teacher: 0.25 }],
  ]);
  const bold = [...html.matchAll(/<td class="best">([^<]*)<\/td>/g)].map((m) => m[1]);
  assert.deepEqual(bold, ['30', '1', '0.25']);
  assert.match(html, /<th>FD vs teacher<\/th><th>KID vs teacher<\/th>/);
});
