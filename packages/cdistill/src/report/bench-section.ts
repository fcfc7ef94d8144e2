// The benchmark section: the student's and the teacher's PartiPrompts images side by side (paired by
// prompt), their timings and the speed-up.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import {
  esc,
  figure,
  fmtMs,
  fmtNum,
  imgTag,
  isDir,
  isFile,
  isNum,
  isObject,
  pngsIn,
  readJsonLoose,
  thin,
} from './html.js';
import { evalEntries, metricsTable } from './sections.js';

interface Bench {
  dir: string;
  images: { file: string; prompt: string | null }[];
  summary: Record<string, unknown> | null;
  summaryError: string | null;
}

export function readBench(dir: string): Bench | null {
  if (!isDir(dir)) return null;
  const prompts = new Map<string, string>();
  const pf = join(dir, 'prompts.txt');
  if (isFile(pf)) {
    for (const line of readFileSync(pf, 'utf8').split(/\r?\n/)) {
      const tab = line.indexOf('\t');
      if (tab > 0) prompts.set(line.slice(0, tab).trim(), line.slice(tab + 1));
    }
  }
  let summary: Record<string, unknown> | null = null;
  let summaryError: string | null = null;
  const sf = join(dir, 'summary.json');
  if (isFile(sf)) {
    const r = readJsonLoose(sf);
    if (r.ok && isObject(r.value)) summary = r.value;
    else summaryError = r.ok ? 'not a JSON object' : r.error;
  }
  const images = pngsIn(dir).map((file) => ({ file, prompt: prompts.get(file) ?? null }));
  return { dir, images, summary, summaryError };
}

export function perImageMs(b: Bench | null): number | null {
  const t = b?.summary?.timings;
  return isObject(t) && isNum(t.per_image_ms) ? t.per_image_ms : null;
}

export function benchSummaryTable(benches: [string, Bench][]): string {
  const rows: [string, (b: Bench) => string][] = [];
  const cell = (v: unknown) =>
    v === undefined
      ? '—'
      : isNum(v)
        ? esc(fmtNum(v))
        : typeof v === 'string'
          ? esc(v)
          : `<code>${esc(JSON.stringify(v))}</code>`;
  rows.push(['images in folder', (b) => String(b.images.length)]);
  rows.push(['per image', (b) => (perImageMs(b) !== null ? esc(fmtMs(perImageMs(b)!)) : '—')]);
  const stageNames = new Set<string>();
  for (const [, b] of benches) {
    const st = isObject(b.summary?.timings) ? (b.summary!.timings as Record<string, unknown>).per_stage_ms : undefined;
    if (isObject(st)) for (const k of Object.keys(st)) stageNames.add(k);
  }
  for (const stage of stageNames) {
    rows.push([
      `  ${stage}`,
      (b) => {
        const st = isObject(b.summary?.timings)
          ? (b.summary!.timings as Record<string, unknown>).per_stage_ms
          : undefined;
        const v = isObject(st) ? st[stage] : undefined;
        if (!isNum(v)) return cell(v);
        const per = perImageMs(b);
        return `${esc(fmtMs(v))}${per ? ` <span class="dim">(${((100 * v) / per).toFixed(0)}%)</span>` : ''}`;
      },
    ]);
  }
  const otherKeys = new Set<string>();
  for (const [, b] of benches) for (const k of Object.keys(b.summary ?? {})) if (k !== 'timings') otherKeys.add(k);
  for (const k of otherKeys) rows.push([k, (b) => cell(b.summary?.[k])]);
  const head = `<tr><th></th>${benches.map(([name]) => `<th>${esc(name)}</th>`).join('')}</tr>`;
  const body = rows
    .map(
      ([k, f]) =>
        `<tr><th class="${k.startsWith('  ') ? 'sub' : ''}">${esc(k.trim())}</th>${benches.map(([, b]) => `<td>${f(b)}</td>`).join('')}</tr>`,
    )
    .join('');
  const notes = benches
    .filter(([, b]) => b.summary === null)
    .map(
      ([name, b]) =>
        `<p class="na">${esc(name)}: summary.json ${b.summaryError ? `unreadable (${esc(b.summaryError)})` : 'not present'}.</p>`,
    )
    .join('');
  return `<table class="grid-table"><thead>${head}</thead><tbody>${body}</tbody></table>${notes}`;
}

export function benchSection(runDir: string, max: number): string | null {
  const student = readBench(join(runDir, 'bench'));
  const teacher = readBench(join(runDir, 'bench-teacher'));
  if (!student && !teacher) return null;
  const parts: string[] = [];
  const benches: [string, Bench][] = [];
  if (student) benches.push(['student', student]);
  if (teacher) benches.push(['teacher', teacher]);
  if (!student) parts.push(`<p class="na">bench/ (student) not present.</p>`);
  if (!teacher) parts.push(`<p class="na">bench-teacher/ not present: student gallery only.</p>`);
  const ps = perImageMs(student);
  const pt = perImageMs(teacher);
  if (ps && pt)
    parts.push(
      `<p class="headline">Student is <strong>${esc((pt / ps).toFixed(1))}×</strong> faster per image than the teacher (${esc(fmtMs(ps))} vs ${esc(fmtMs(pt))}).</p>`,
    );
  parts.push(benchSummaryTable(benches));
  parts.push(benchMetricsPart(join(runDir, 'bench', 'metrics.json')));

  if (student && teacher) {
    // Pair by prompt text where both have prompts, else by file name.
    const teacherByPrompt = new Map<string, string>();
    for (const im of teacher.images)
      if (im.prompt !== null && !teacherByPrompt.has(im.prompt)) teacherByPrompt.set(im.prompt, im.file);
    const teacherFiles = new Set(teacher.images.map((i) => i.file));
    const used = new Set<string>();
    const pairs = student.images.map((s) => {
      let t = s.prompt !== null ? teacherByPrompt.get(s.prompt) : undefined;
      if (t === undefined && teacherFiles.has(s.file)) t = s.file;
      if (t !== undefined) used.add(t);
      return { s, t };
    });
    const teacherOnly = teacher.images.filter((i) => !used.has(i.file));
    const shown = thin(pairs, max);
    const rows = shown.map(({ s, t }) => {
      const prompt = s.prompt ?? teacher.images.find((i) => i.file === t)?.prompt ?? null;
      return (
        `<tr><td class="prompt">${prompt !== null ? esc(prompt) : '<span class="dim">(no prompt)</span>'}<div class="dim">${esc(s.file)}${t && t !== s.file ? ` / ${esc(t)}` : ''}</div></td>` +
        `<td>${imgTag(join(student.dir, s.file), `student: ${prompt ?? s.file}`)}</td>` +
        `<td>${t ? imgTag(join(teacher.dir, t), `teacher: ${prompt ?? t}`) : '<span class="na">no teacher image</span>'}</td></tr>`
      );
    });
    const note =
      shown.length < pairs.length
        ? `<p class="meta">Showing ${shown.length} of ${pairs.length} prompts, evenly spaced.</p>`
        : '';
    const extra =
      teacherOnly.length > 0
        ? `<p class="meta">${teacherOnly.length} teacher image${teacherOnly.length === 1 ? '' : 's'} without a student counterpart not shown.</p>`
        : '';
    parts.push(
      `<h3>Student vs teacher</h3>${note}<table class="pairs"><thead><tr><th>prompt</th><th>student</th><th>teacher</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>${extra}`,
    );
  } else {
    const b = (student ?? teacher)!;
    const name = student ? 'Student' : 'Teacher';
    const shown = thin(b.images, max);
    const note =
      shown.length < b.images.length
        ? `<p class="meta">Showing ${shown.length} of ${b.images.length} images, evenly spaced.</p>`
        : '';
    const figs = shown.map((im) =>
      figure(
        join(b.dir, im.file),
        im.prompt ?? im.file,
        im.prompt !== null ? `<span class="dim"> — ${esc(im.file)}</span>` : '',
      ),
    );
    parts.push(
      `<h3>${name} gallery</h3>${note}${b.images.length === 0 ? '<p class="na">No images.</p>' : `<div class="gallery">${figs.join('\n')}</div>`}`,
    );
  }
  return parts.join('\n');
}

/** `bench --metrics` output (bench/metrics.json): CLIP score per setting, FD/KID against the teacher. */
function benchMetricsPart(path: string): string {
  if (!isFile(path)) return '';
  const r = readJsonLoose(path);
  if (!r.ok || !isObject(r.value))
    return `<p class="warn">bench/metrics.json is not readable${r.ok ? ': not a JSON object' : `: ${esc(r.error)}`}.</p>`;
  const rows = evalEntries(r.value);
  if (rows.length === 0) return '<p class="na">bench/metrics.json has no settings under <code>eval</code>.</p>';
  const model = typeof r.value.clip_model === 'string' ? ` (${esc(r.value.clip_model)})` : '';
  return (
    `<h3>Quality${model}</h3>${metricsTable(rows)}` +
    '<p class="dim">CLIP score: 100·max(cos, 0) of each image with its prompt, averaged (higher is better). ' +
    "FD and KID: Fréchet distance and kernel distance between the student's and the teacher's CLIP image " +
    'features for the same prompts (lower is closer to the teacher). Bold marks the best value in a column.</p>'
  );
}
