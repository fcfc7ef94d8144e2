// `cdistill demo --quick` keeps the embedded default's path alive: files and schema, not quality.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';

import { BUNDLED_STUDENT } from '../src/demo/bundled-student.js';
import { demo } from '../src/demo/demo.js';

const SAMPLERS = [
  'teacher_heun30',
  'teacher_heun4',
  'teacher_euler4',
  'student_1',
  'student_2',
  'student_4',
  'student_8',
  'undistilled_1',
  'undistilled_2',
  'undistilled_4',
  'student_2_tuned',
  'student_4_tuned',
  'undistilled_2_tuned',
  'undistilled_4_tuned',
];
const share = (x: unknown) => typeof x === 'number' && x >= 0 && x <= 1;

test('demo --quick writes report.html and metrics.json with every sampler in the schema (and a recipe variant)', async () => {
  const out = join(mkdtempSync(join(tmpdir(), 'cdistill-demo-')), 'demo');
  const lines: string[] = [];
  const r = await demo({ out, quick: true, device: 'cpu', variants: ['boundary-condition'] }, (l) => lines.push(l));
  assert.equal(r.report, join(out, 'report.html'));
  assert.ok(
    lines.some((l) => l.startsWith('report:')),
    'prints where the report is',
  );
  type Eval = {
    valid: number;
    named: number;
    coverage: number;
    coverage_by_attribute: Record<string, number>;
    ms_per_image: number;
    psnr_vs_teacher30?: number;
  };
  const metrics = JSON.parse(readFileSync(r.metrics, 'utf8')) as {
    seconds_total: number;
    eval: Record<string, Eval>;
    world: Eval;
    eval_set: Record<string, number>;
    recipes: Record<string, unknown>;
    schedules: Record<string, unknown>;
  };
  assert.ok(metrics.seconds_total > 0);
  assert.deepEqual(Object.keys(metrics.eval), SAMPLERS);
  // --quick: 4 open + 2 fully named prompts, 2 samples each
  assert.deepEqual(metrics.eval_set, {
    prompts: 6,
    open_prompts: 4,
    full_prompts: 2,
    samples_per_prompt: 2,
    images: 12,
  });
  for (const [name, m] of Object.entries(metrics.eval)) {
    for (const k of ['valid', 'named', 'coverage'] as const) assert.ok(share(m[k]), `${name}.${k} = ${m[k]}`);
    assert.ok(m.named <= m.valid, `${name}: named ≤ valid`);
    for (const [a, c] of Object.entries(m.coverage_by_attribute))
      assert.ok(
        share(c) && ['shape', 'color', 'position', 'size', 'background'].includes(a),
        `${name}.coverage_by_attribute.${a}`,
      );
    assert.ok(m.ms_per_image > 0, `${name}.ms_per_image`);
    if (name !== 'teacher_heun30') assert.ok(Number.isFinite(m.psnr_vs_teacher30), `${name}.psnr_vs_teacher30`);
  }
  // Each tuned sampler's schedule was searched on the held-out set (2 open + 1 full prompts × 2 here),
  // starts at σ_max, descends, and is the best of what it tried.
  assert.equal(metrics.schedules.held_out_images, 6);
  for (const n of ['student_2_tuned', 'student_4_tuned', 'undistilled_2_tuned', 'undistilled_4_tuned']) {
    const t = metrics.schedules[n] as {
      sigmas: number[];
      held_out_score: number;
      tried: { sigmas: number[]; score: number }[];
    };
    assert.equal(t.sigmas.length, Number(n.split('_')[1]), `${n}: steps`);
    assert.equal(t.sigmas[0], 80, `${n}: starts at σ_max`);
    assert.ok(
      t.sigmas.every((x, i) => i === 0 || x < t.sigmas[i - 1]!),
      `${n}: descending`,
    );
    assert.equal(t.held_out_score, Math.max(...t.tried.map((c) => c.score)), `${n}: the best tried`);
    assert.deepEqual(t.sigmas, t.tried.find((c) => c.score === t.held_out_score)!.sigmas);
  }
  assert.equal((metrics.schedules.student_2_tuned as { tried: unknown[] }).tried.length, 3);
  assert.equal((metrics.schedules.student_4_tuned as { tried: unknown[] }).tried.length, 9);
  // The world's own draws are valid and named by construction.
  assert.deepEqual([metrics.world.valid, metrics.world.named], [1, 1]);
  assert.ok(share(metrics.world.coverage));
  // The seed's recipe and the requested variant ran on the same budget and are scored on the same prompts.
  assert.deepEqual(Object.keys(metrics.recipes), ['steps', 'batch_size', 'demo', 'seed', 'demo + boundary-condition']);
  const variant = metrics.recipes['demo + boundary-condition'] as Record<string, unknown>;
  assert.deepEqual(variant.change, { boundaryCondition: true });
  assert.equal(variant.num_scales, 18, "the demo's recipe otherwise");
  const variantConfig = JSON.parse(readFileSync(join(out, 'variants', 'boundary-condition', 'config.json'), 'utf8'));
  assert.equal(variantConfig.boundaryCondition, true);
  assert.equal(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).boundaryCondition, false);
  const seed = metrics.recipes.seed as Record<string, unknown>;
  assert.deepEqual([seed.lr, seed.num_scales, seed.target_ema], [1e-5, 50, 0]);
  assert.equal((metrics.recipes.demo as Record<string, unknown>).num_scales, 18);
  for (const n of ['demo', 'seed', 'demo + boundary-condition']) {
    const e = (metrics.recipes[n] as Record<string, Eval>).student_4!;
    assert.ok(share(e.valid) && share(e.coverage) && Number.isFinite(e.psnr_vs_teacher30), `${n}.student_4`);
  }
  assert.ok(existsSync(join(out, 'seed-recipe', 'log.jsonl')));
  // The bundled student (distilled from the bundled teacher, which --quick uses here) is scored on the
  // same images, with its own schedule search.
  const bundled = (metrics as unknown as { bundled_student: Record<string, unknown> }).bundled_student;
  assert.deepEqual(Object.keys(bundled), [
    'source',
    'step',
    'lr',
    'num_scales',
    'target_ema',
    'warmup_steps',
    'batch_size',
    'eval',
    'schedules',
  ]);
  assert.equal(bundled.source, relative(process.cwd(), BUNDLED_STUDENT));
  assert.ok(Number.isInteger(bundled.step) && (bundled.step as number) > 150, 'distilled longer than the demo');
  const bundledEval = bundled.eval as Record<string, Eval>;
  assert.deepEqual(
    Object.keys(bundledEval),
    ['student_1', 'student_2', 'student_4', 'student_8', 'student_2_tuned', 'student_4_tuned'].map(
      (n) => `bundled_${n}`,
    ),
  );
  for (const [n, e] of Object.entries(bundledEval))
    assert.ok(share(e.valid) && share(e.coverage) && Number.isFinite(e.psnr_vs_teacher30), n);
  const bundledSchedules = bundled.schedules as Record<string, { sigmas: number[]; tried: unknown[] }>;
  assert.deepEqual(Object.keys(bundledSchedules), ['bundled_student_2_tuned', 'bundled_student_4_tuned']);
  assert.equal(bundledSchedules.bundled_student_4_tuned!.tried.length, 9);
  assert.deepEqual(readdirSync(join(out, 'world')).sort(), [
    '1-ground-truth.png',
    '2-teacher_heun30.png',
    '3-undistilled_1.png',
    '4-student_1.png',
    '5-student_4.png',
    '6-bundled_student_1.png',
    '7-bundled_student_4.png',
    'prompts.json',
  ]);
  for (const f of ['grid.png', 'grid.json', 'log.jsonl', 'config.json', 'prompts_to_generate.json'])
    assert.ok(existsSync(join(out, f)), f);
  // The report leads with the result: pictures and the metrics table before the steps grid, logs and config.
  const html = readFileSync(r.report, 'utf8');
  const order = ['result', 'recipes', 'grid', 'training', 'config'].map((id) => html.indexOf(`<section id="${id}"`));
  assert.ok(
    order.every((i) => i > 0),
    `sections ${order}`,
  );
  assert.deepEqual(
    order,
    [...order].sort((a, b) => a - b),
  );
  const result = html.slice(order[0], order[1]);
  assert.equal(
    (result.match(/<img /g) ?? []).length,
    7,
    'ground truth, teacher@30, undistilled@1, student@1, student@4, bundled student@1 and @4',
  );
  for (const s of ['teacher_heun30', 'undistilled_1', 'student_4', "world's own draws", 'bundled_student_4'])
    assert.ok(result.includes(`<th>${s.replace("'", '&#39;')}</th>`), `${s} row`);
});
