// `cdistill demo --quick` keeps the embedded default's path alive: files and schema, not quality.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { demo } from '../src/demo/demo.js';
import { vocabPath } from './util.js';

test('demo --quick writes report.html and metrics.json with every sampler', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'cdistill-demo-')), 'demo');
  const lines: string[] = [];
  const r = await demo({ out, quick: true, device: 'cpu', vocab: vocabPath }, (l) => lines.push(l));
  assert.equal(r.report, join(out, 'report.html'));
  assert.ok(lines.some((l) => l.startsWith('report:')), 'prints where the report is');
  const metrics = JSON.parse(readFileSync(r.metrics, 'utf8')) as { seconds_total: number; eval: Record<string, Record<string, number>> };
  assert.ok(metrics.seconds_total > 0);
  assert.deepEqual(Object.keys(metrics.eval), ['teacher_heun30', 'teacher_heun4', 'teacher_euler4', 'student_1', 'student_2', 'student_4', 'student_8']);
  for (const [name, m] of Object.entries(metrics.eval)) {
    for (const k of ['all', 'shape', 'color', 'position', 'size', 'background']) {
      assert.ok(typeof m[k] === 'number' && m[k]! >= 0 && m[k]! <= 1, `${name}.${k} = ${m[k]}`);
    }
    assert.ok(m.ms_per_image! > 0, `${name}.ms_per_image`);
    if (name !== 'teacher_heun30') assert.ok(Number.isFinite(m.psnr_vs_teacher30), `${name}.psnr_vs_teacher30`);
  }
  // The seed's recipe ran on the same budget and is scored on the same prompts.
  const recipes = (JSON.parse(readFileSync(r.metrics, 'utf8')) as { recipes: Record<string, unknown> }).recipes;
  assert.deepEqual(Object.keys(recipes), ['steps', 'batch_size', 'before_distillation', 'demo', 'seed']);
  const seed = recipes.seed as Record<string, unknown>;
  assert.deepEqual([seed.lr, seed.num_scales, seed.target_ema], [1e-5, 50, 0]);
  assert.equal((recipes.demo as Record<string, unknown>).num_scales, 18);
  for (const n of ['before_distillation', 'demo', 'seed']) {
    const e = (recipes[n] as Record<string, Record<string, number>>).student_4!;
    assert.ok(e.all! >= 0 && e.all! <= 1 && Number.isFinite(e.psnr_vs_teacher30), `${n}.student_4`);
  }
  assert.ok(existsSync(join(out, 'seed-recipe', 'log.jsonl')));
  assert.deepEqual(readdirSync(join(out, 'world')).sort(), ['1-ground-truth.png', '2-teacher_heun30.png', '3-teacher_euler4.png', '4-student_4.png', '5-student_1.png', 'prompts.json']);
  for (const f of ['grid.png', 'grid.json', 'log.jsonl', 'config.json', 'prompts_to_generate.json']) assert.ok(existsSync(join(out, f)), f);
  const html = readFileSync(r.report, 'utf8');
  for (const section of ['id="metrics"', 'id="world"', 'id="grid"', 'id="training"', 'id="recipes"']) assert.ok(html.includes(section), section);
});
