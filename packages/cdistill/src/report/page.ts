// The report page: one self-contained report.html for a run folder. Images are embedded as data:
// URIs, plots are inline SVG, and the page has no script at all; a Content-Security-Policy that allows
// only inline styles and data: images backs that up. Every string read from the run folder is
// HTML-escaped before it reaches the page.
//
// The result comes first (the benchmark's student-vs-teacher pictures and speed-up, the metrics), then
// how it was made (steps grid, validation grids, training logs, configuration). A caller with a
// result of its own to show (the demo) passes its own headline sections instead.
//
// Layout read (all optional except config.json; a missing part gets a one-line "not present"):
//   config.json                          resolved config
//   log.jsonl, teacher_log.jsonl         {"step","loss","lr","grad_norm","step_time_s",...} per line
//   validation/step-NNNNNN.png           validation grids over training
//   grid.png + grid.json                 steps comparison, {"prompts": [...], "steps": [...]}
//   bench/, bench-teacher/               NNNN.png, prompts.txt (file<TAB>prompt), summary.json
//   metrics.json                         {"seconds_total"?, "eval": {sampler: {metric: number}}}
import { basename, join, resolve } from 'node:path';

import { writeFileAtomic } from '../util/fs.js';
import { benchSection } from './bench-section.js';
import { esc, isDir, isFile } from './html.js';
import { logSection } from './log.js';
import { configSection, gridSection, metricsSection, validationSection } from './sections.js';

export interface ReportOptions {
  /** Output path (default RUN_DIR/report.html). */
  out?: string;
  /** Page title (default "cdistill run: <folder name>"). */
  title?: string;
  /** Most images shown in one gallery or validation strip; more are thinned out with a note (default 64). */
  maxImages?: number;
  /** Sections shown first instead of the generic benchmark and metrics sections. */
  headline?: ReportSection[];
}

export interface ReportSection {
  id: string;
  title: string;
  html: string | null;
  absent?: string;
}

const CSS = `
:root { --fg: #1d2330; --dim: #667085; --line: #e3e7ee; --bg: #f6f8fb; --accent: #1f5fa8; --warn: #b54708; --ok: #2e7d32; }
* { box-sizing: border-box; }
html { scroll-behavior: smooth; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 20px 32px 12px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header .sub { color: var(--dim); font-size: 13px; }
nav { margin-top: 10px; display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 14px; }
nav a { color: var(--accent); text-decoration: none; }
nav a:hover { text-decoration: underline; }
nav a.absent { color: var(--dim); }
main { max-width: 1280px; margin: 0 auto; padding: 8px 32px 48px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 6px 22px 18px; margin: 18px 0; }
section h2 { font-size: 19px; margin: 14px 0 8px; }
section h2 a.anchor { color: var(--line); text-decoration: none; margin-left: 6px; }
section h2:hover a.anchor { color: var(--dim); }
section h3 { font-size: 16px; margin: 18px 0 8px; }
section.absent { padding-bottom: 6px; }
.na { color: var(--dim); font-style: italic; }
.warn { color: var(--warn); }
.ok { color: var(--ok); }
.dim { color: var(--dim); font-size: 12px; }
.meta { color: #444; font-size: 14px; margin: 6px 0; }
.headline { font-size: 16px; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
pre { background: var(--bg); border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow: auto; max-height: 420px; }
details summary { cursor: pointer; color: var(--accent); margin: 8px 0; }
table { border-collapse: collapse; font-size: 14px; }
table.kv th, table.kv td { text-align: left; padding: 3px 14px 3px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
table.kv th { font-weight: 500; color: #444; white-space: nowrap; }
table.config td { word-break: break-word; }
.str { color: #0b6e4f; }
.num { color: #1f5fa8; }
.grid-table th, .grid-table td { padding: 5px 12px; border-bottom: 1px solid var(--line); text-align: right; }
.grid-table thead th { background: var(--bg); font-weight: 600; }
.grid-table tbody th { text-align: left; font-weight: 500; }
.grid-table th.sub { padding-left: 26px; font-weight: 400; color: #555; }
.grid-table td.best { font-weight: 700; }
.plot { margin: 8px 0; overflow-x: auto; }
.plot svg { max-width: 100%; height: auto; }
.plots-small { display: flex; flex-wrap: wrap; gap: 10px; }
figure { margin: 0; }
figcaption { font-size: 13px; color: #444; margin-top: 4px; word-break: break-word; }
img { display: block; max-width: 100%; height: auto; border-radius: 4px; background: #eee; image-rendering: auto; }
.strip { display: grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 16px; }
.lineup { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; }
.lineup img { width: 100%; image-rendering: pixelated; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 14px; }
figure.wide img { max-width: 100%; }
table.pairs { width: 100%; }
table.pairs th { text-align: left; background: var(--bg); padding: 6px 10px; }
table.pairs td { padding: 8px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
table.pairs td.prompt { width: 30%; word-break: break-word; }
table.pairs img { width: 100%; max-width: 320px; }
.missing { color: var(--warn); font-size: 13px; padding: 8px; border: 1px dashed var(--warn); border-radius: 4px; }
.grid-fig { display: grid; grid-template-columns: minmax(120px, 220px) minmax(0, 1fr); gap: 4px 8px; max-width: 1100px; }
.grid-fig .col-heads { display: grid; text-align: center; font-size: 13px; font-weight: 600; color: #333; }
.grid-fig .row-heads { display: flex; flex-direction: column; }
.grid-fig .row-heads > div { flex: 1 1 0; display: flex; align-items: center; font-size: 12.5px; color: #333; overflow: hidden; }
.grid-fig .row-heads span { display: -webkit-box; -webkit-line-clamp: 4; -webkit-box-orient: vertical; overflow: hidden; }
.grid-fig .grid-img img { width: 100%; }
ol.prompts { font-size: 13.5px; color: #333; padding-left: 22px; }
footer { color: var(--dim); font-size: 12px; text-align: center; padding: 16px; }
`;

/**
 * Writes RUN_DIR/report.html (or `opts.out`) and returns its path. Rejects when RUN_DIR has no readable
 * config.json; every other part is optional.
 */
export async function writeReport(runDir: string, opts: ReportOptions = {}): Promise<string> {
  const dir = resolve(runDir);
  if (!isDir(dir)) throw new Error(`${runDir}: not a folder`);
  const out = resolve(opts.out ?? join(dir, 'report.html'));
  const max = opts.maxImages ?? 64;
  const title = opts.title ?? `cdistill run: ${basename(dir)}`;
  const config = configSection(dir); // first, so a run folder without config.json fails before any work

  const sections: ReportSection[] = [
    ...(opts.headline ?? [
      {
        id: 'bench',
        title: 'Benchmark: student vs teacher',
        html: benchSection(dir, max),
        absent: 'bench/ and bench-teacher/ not present.',
      },
      { id: 'metrics', title: 'Metrics', html: metricsSection(dir), absent: 'metrics.json not present.' },
    ]),
  ];
  sections.push({ id: 'grid', title: 'Steps comparison', html: gridSection(dir), absent: 'grid.png not present.' });
  sections.push({
    id: 'validation',
    title: 'Validation grids',
    html: validationSection(dir, max),
    absent: 'validation/ not present (no step-NNNNNN.png).',
  });
  const logPath = join(dir, 'log.jsonl');
  sections.push({
    id: 'training',
    title: 'Training (student)',
    html: isFile(logPath) ? await logSection(logPath, 'student') : null,
    absent: 'log.jsonl not present.',
  });
  const tlogPath = join(dir, 'teacher_log.jsonl');
  sections.push({
    id: 'teacher',
    title: 'Teacher training',
    html: isFile(tlogPath) ? await logSection(tlogPath, 'teacher') : null,
    absent: 'teacher_log.jsonl not present.',
  });
  sections.push({ id: 'config', title: 'Configuration', html: config });

  const now = new Date();
  const nav = sections
    .map((s) => `<a href="#${s.id}"${s.html === null ? ' class="absent"' : ''}>${esc(s.title)}</a>`)
    .join('');
  const body = sections
    .map(
      (s) => `<section id="${s.id}"${s.html === null ? ' class="absent"' : ''}>
<h2>${esc(s.title)}<a class="anchor" href="#${s.id}" aria-label="link to this section">#</a></h2>
${s.html ?? `<p class="na">${esc(s.absent ?? 'not present.')}</p>`}
</section>`,
    )
    .join('\n');

  const html = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>${CSS}</style>
</head>
<body>
<header>
<h1>${esc(title)}</h1>
<div class="sub">Run folder <code>${esc(dir)}</code> · generated ${esc(
    now
      .toISOString()
      .replace('T', ' ')
      .replace(/\.\d+Z$/, ' UTC'),
  )}</div>
<nav>${nav}</nav>
</header>
<main>
${body}
</main>
<footer>Generated by <code>cdistill report</code>. Self-contained: images are embedded, plots are inline SVG, nothing is loaded from elsewhere.</footer>
</body>
</html>
`;

  writeFileAtomic(out, html);
  return out;
}
