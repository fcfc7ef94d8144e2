// The demo's own report sections, shown first: the result in one paragraph, the headline pictures
// (ground truth, teacher@30, undistilled@1, student@1, student@4 for the same prompts and noise), the
// metrics table with the world's own ceiling, then the recipe comparison.
import { join } from 'node:path';

import {
  esc,
  evalEntries,
  figure,
  fmtNum,
  fmtPct,
  isDir,
  isFile,
  isNum,
  isObject,
  logSection,
  metricsTable,
  pngsIn,
  readJsonLoose,
  readMetrics,
  type ReportSection,
} from '../report/index.js';

const CAPTIONS: Record<string, string> = {
  'ground-truth': 'ground truth (the world’s own draws)',
  teacher_heun30: 'teacher, 30 Heun steps (59 evaluations ×2 for CFG)',
  undistilled_1: 'undistilled student, 1 step',
  student_1: 'distilled student, 1 step',
  student_4: 'distilled student, 4 steps',
  bundled_student_1: 'bundled student (distilled longer), 1 step',
  bundled_student_4: 'bundled student (distilled longer), 4 steps',
};

const num = (o: unknown, ...path: string[]): number | undefined => {
  let v: unknown = o;
  for (const k of path) v = isObject(v) ? v[k] : undefined;
  return isNum(v) ? v : undefined;
};

/** One sentence per claim the demo makes, each with its numbers (absent numbers are left out). */
function summary(m: Record<string, unknown>): string {
  const e = m.eval;
  const pct = (x: number | undefined) => (x === undefined ? '—' : fmtPct(x));
  const trio = (n: string) =>
    `valid ${pct(num(e, n, 'valid'))}, named ${pct(num(e, n, 'named'))}, coverage ${pct(num(e, n, 'coverage'))}`;
  const lines = [
    `<strong>Distilled student, 4 steps:</strong> ${trio('student_4')}; 1 step: ${trio('student_1')}.`,
    `<strong>Teacher, 30 Heun steps:</strong> ${trio('teacher_heun30')}.`,
    `<strong>Before distillation</strong> (the teacher's DiT as a 1-step consistency model): ${trio('undistilled_1')} — its one-step estimate is the mean of what the caption allows, a blur.`,
    `<strong>Few-step ODE solvers:</strong> Heun 4: ${trio('teacher_heun4')}; Euler 4: ${trio('teacher_euler4')}.`,
  ];
  const sched = (n: string) => {
    const v = isObject(m.schedules) && isObject(m.schedules[n]) ? m.schedules[n].sigmas : undefined;
    return Array.isArray(v) && v.every(isNum) ? ` (σ ${v.map((x) => fmtNum(x, 3)).join(', ')})` : '';
  };
  if (num(e, 'student_4_tuned', 'valid') !== undefined)
    lines.splice(
      1,
      0,
      `<strong>On a 4-step schedule searched on held-out prompts</strong>${esc(sched('student_4_tuned'))}: distilled ${trio('student_4_tuned')}; undistilled${esc(sched('undistilled_4_tuned'))} ${trio('undistilled_4_tuned')}.`,
    );
  const b = m.bundled_student;
  if (isObject(b) && isObject(b.eval)) {
    const bt = (n: string) =>
      `valid ${pct(num(b.eval, n, 'valid'))}, named ${pct(num(b.eval, n, 'named'))}, coverage ${pct(num(b.eval, n, 'coverage'))}`;
    const steps = num(b, 'step');
    lines.splice(
      1,
      0,
      `<strong>Distilled longer</strong> (the bundled student${steps === undefined ? '' : `, ${esc(fmtNum(steps))} CD steps`}): 4 steps: ${bt('bundled_student_4')}; 1 step: ${bt('bundled_student_1')}.`,
    );
  }
  const t = num(e, 'teacher_heun30', 'ms_per_image');
  const s4 = num(e, 'student_4', 'ms_per_image');
  if (t !== undefined && s4 !== undefined)
    lines.push(
      `<strong>Speed:</strong> ${esc(fmtNum(s4, 3))} ms per image at 4 steps vs ${esc(fmtNum(t, 3))} ms for the teacher: <strong>${esc((t / s4).toFixed(0))}× faster</strong>.`,
    );
  const w = num(m, 'world', 'coverage');
  if (w !== undefined)
    lines.push(
      `<span class="dim">Coverage of the world's own draws for the same prompts, scored the same way: ${pct(w)} (the ceiling at this sample size).</span>`,
    );
  return `<ul class="headline">${lines.map((l) => `<li>${l}</li>`).join('')}</ul>`;
}

function pictures(runDir: string): string {
  const dir = join(runDir, 'world');
  if (!isDir(dir)) return '<p class="na">world/ not present.</p>';
  const parts: string[] = [];
  const figs = pngsIn(dir).map((f) => {
    const key = f.replace(/^\d+-/, '').replace(/\.png$/, '');
    return figure(join(dir, f), CAPTIONS[key] ?? key);
  });
  parts.push(`<div class="lineup">${figs.join('\n')}</div>`);
  const pj = join(dir, 'prompts.json');
  const r = isFile(pj) ? readJsonLoose(pj) : undefined;
  if (r?.ok && Array.isArray(r.value) && r.value.every((p) => typeof p === 'string')) {
    parts.push(
      `<p class="meta">Rows, top to bottom (columns are samples with different noise, the same noise in every picture):</p><ol class="prompts">${(r.value as string[]).map((p) => `<li>${esc(p)}</li>`).join('')}</ol>`,
    );
  } else if (r) parts.push('<p class="warn">world/prompts.json is not a readable list of prompts.</p>');
  return parts.join('\n');
}

function resultSection(runDir: string): string {
  const r = readMetrics(runDir);
  if (r === null) return `<p class="na">metrics.json not present.</p>${pictures(runDir)}`;
  if ('warning' in r) return `${r.warning}${pictures(runDir)}`;
  const m = r.metrics;
  const rows = evalEntries(m).map(([n, v]) => [n, v] as [string, Record<string, unknown>]);
  if (isObject(m.world)) rows.push(["world's own draws", m.world]);
  const set = m.eval_set;
  const about =
    isObject(set) && isNum(set.prompts) && isNum(set.samples_per_prompt)
      ? `${fmtNum(set.prompts)} prompts (${fmtNum(num(set, 'open_prompts') ?? 0)} leave attributes open) × ${fmtNum(set.samples_per_prompt)} samples each, the same noise for every sampler`
      : 'the evaluation set';
  const b = m.bundled_student;
  const bundled =
    isObject(b) && isObject(b.eval)
      ? [
          `<h3>The bundled student${isNum(b.step) ? `, distilled for ${esc(fmtNum(b.step))} steps` : ''}, on the same images</h3>`,
          metricsTable(Object.entries(b.eval).filter((x): x is [string, Record<string, unknown>] => isObject(x[1]))),
        ]
      : [];
  return [
    summary(m),
    pictures(runDir),
    `<h3>Every sampler on ${esc(about)}</h3>`,
    metricsTable(rows),
    ...bundled,
    '<p class="dim"><b>valid</b>: the image is exactly one well-formed scene (re-rendering what the detector reads matches it at all but ≤ 1% of pixels); <b>named</b>: valid and every attribute the caption names is right; <b>coverage</b>: for the attributes captions leave open, 1 − total-variation distance between the values the valid images show and the world’s (uniform) distribution, pooled over prompts and samples, averaged over attributes.</p>',
  ].join('\n');
}

async function recipesSection(runDir: string): Promise<string | null> {
  const r = readMetrics(runDir);
  if (r === null || 'warning' in r || !isObject(r.metrics.recipes)) return null;
  const rec = r.metrics.recipes;
  const names = Object.keys(rec).filter((k) => isObject(rec[k]));
  const cell = (v: number | undefined, f: (x: number) => string) => (v === undefined ? '—' : esc(f(v)));
  const rows = names.map((n) => {
    const x = rec[n];
    const s = (steps: string, k: string) => cell(num(x, steps, k), fmtPct);
    const change = isObject(x) && isObject(x.change) ? x.change : undefined;
    const changed = change
      ? Object.entries(change)
          .map(([k, v]) => `${k} ${typeof v === 'number' ? fmtNum(v, 3) : String(v)}`)
          .join(', ')
      : '';
    return (
      `<tr><th>${esc(n)}</th><td>${esc(changed)}</td><td>${cell(num(x, 'lr'), (v) => v.toExponential(0))}</td><td>${cell(num(x, 'num_scales'), String)}</td><td>${cell(num(x, 'target_ema'), String)}</td><td>${cell(num(x, 'warmup_steps'), String)}</td>` +
      ['student_1', 'student_4']
        .map((st) => `<td>${s(st, 'valid')}</td><td>${s(st, 'named')}</td><td>${s(st, 'coverage')}</td>`)
        .join('') +
      '</tr>'
    );
  });
  const budget =
    isNum(rec.steps) && isNum(rec.batch_size)
      ? `${fmtNum(rec.steps)} steps of ${fmtNum(rec.batch_size)} images each`
      : 'the same budget';
  const parts = [
    `<p class="meta">Every student is distilled from the same teacher dataset with ${esc(budget)}; only the recipe differs. A variant (“demo + …”) is the demo's recipe with the one change shown.</p>`,
    `<table class="grid-table metrics"><thead><tr><th rowspan="2">recipe</th><th rowspan="2">change</th><th rowspan="2">lr</th><th rowspan="2">N</th><th rowspan="2">target EMA</th><th rowspan="2">warmup</th><th colspan="3">1 step</th><th colspan="3">4 steps</th></tr>` +
      `<tr>${'<th>valid</th><th>named</th><th>coverage</th>'.repeat(2)}</tr></thead><tbody>${rows.join('')}</tbody></table>`,
    '<p class="dim">Losses of runs with different N are not comparable (neighbouring σ levels lie closer at larger N); compare the scores.</p>',
  ];
  const seedLog = join(runDir, 'seed-recipe', 'log.jsonl');
  if (isFile(seedLog))
    parts.push(`<h3>Training with the seed's recipe</h3>`, await logSection(seedLog, "student (seed's recipe)"));
  return parts.join('\n');
}

/** The demo report's first sections (they replace the generic benchmark and metrics sections). */
export async function demoHeadline(runDir: string): Promise<ReportSection[]> {
  return [
    { id: 'result', title: 'Result: teacher vs student, same prompts, same noise', html: resultSection(runDir) },
    {
      id: 'recipes',
      title: "Distillation recipes: the demo's vs the seed's",
      html: await recipesSection(runDir),
      absent: 'metrics.json has no recipes.',
    },
  ];
}
