// `cdistill report RUN_DIR`: one self-contained report.html for a run folder. Images are embedded as
// data: URIs, plots are SVG rendered here with Vega-Lite (no DOM, no canvas), and the page has no
// script at all; a Content-Security-Policy that allows only inline styles and data: images backs that
// up. Every string read from the run folder is HTML-escaped before it reaches the page.
//
// Layout read (all optional except config.json; a missing part gets a one-line "not present"):
//   config.json                          resolved config
//   log.jsonl, teacher_log.jsonl         {"step","loss","lr","grad_norm","step_time_s",...} per line
//   validation/step-NNNNNN.png           validation grids over training
//   grid.png + grid.json                 steps comparison, {"prompts": [...], "steps": [...]}
//   bench/, bench-teacher/               NNNN.png, prompts.txt (file<TAB>prompt), summary.json
//   metrics.json                         {"seconds_total", "eval": {sampler: {all, shape, ..., ms_per_image}},
//                                         "recipes"?: {"steps", "batch_size", name: {lr, num_scales, ..., student_4}}}
//   seed-recipe/log.jsonl                the comparison run's training log (demo)
//   world/                               any *.png (name order) and prompts.json
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';

import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

import { writeFileAtomic } from '../util/fs.js';

export interface ReportOptions {
  /** Output path (default RUN_DIR/report.html). */
  out?: string;
  /** Page title (default "cdistill run: <folder name>"). */
  title?: string;
  /** Most images shown in one gallery or validation strip; more are thinned out with a note (default 64). */
  maxImages?: number;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Compact, readable number: 12,345 / 0.1234 / 3.2e-5. */
export function fmtNum(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a === 0) return '0';
  if (Number.isInteger(x) && a < 1e15) return x.toLocaleString('en-US');
  if (a >= 1000) return x.toLocaleString('en-US', { maximumFractionDigits: 1 });
  if (a < 1e-3) return x.toExponential(2);
  return String(Number(x.toPrecision(digits)));
}

const fmtPct = (x: number) => `${(x * 100).toFixed(1)}%`;
const fmtMs = (x: number) => `${x >= 100 ? Math.round(x).toLocaleString('en-US') : fmtNum(x, 3)} ms`;

function fmtSeconds(s: number): string {
  if (s < 60) return `${fmtNum(s, 3)} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.round(s % 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min ${sec} s`;
}

function readJson(path: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(readFileSync(path, 'utf8')) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/** Names of the *.png files in a folder, in name order (numeric-aware). */
function pngsIn(dir: string): string[] {
  if (!isDir(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.png$/i.test(f) && isFile(join(dir, f)))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/** Evenly thins a list to at most `max` entries, keeping the first and the last. */
function thin<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  if (max <= 1) return items.slice(0, Math.max(0, max));
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.round((i * (items.length - 1)) / (max - 1))]!);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Images

interface Embedded {
  uri: string;
  width?: number;
  height?: number;
}

/** Reads an image file into a data: URI, sniffing the real format; null when it is not an image. */
function embedImage(path: string): Embedded | null {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch {
    return null;
  }
  let mime: string | null = null;
  let width: number | undefined;
  let height: number | undefined;
  if (b.length >= 24 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) {
    mime = 'image/png';
    if (b.toString('latin1', 12, 16) === 'IHDR') [width, height] = [b.readUInt32BE(16), b.readUInt32BE(20)];
  } else if (b.length > 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) mime = 'image/jpeg';
  else if (b.length > 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') mime = 'image/webp';
  else if (b.length > 6 && b.toString('latin1', 0, 4) === 'GIF8') mime = 'image/gif';
  if (!mime) return null;
  return { uri: `data:${mime};base64,${b.toString('base64')}`, width, height };
}

function imgTag(path: string, alt: string, cls = ''): string {
  const im = embedImage(path);
  if (!im) return `<div class="missing">${esc(basename(path))}: not a readable image</div>`;
  const size = im.width && im.height ? ` width="${im.width}" height="${im.height}"` : '';
  return `<img src="${im.uri}" alt="${esc(alt)}"${size}${cls ? ` class="${cls}"` : ''} loading="eager" decoding="async">`;
}

function figure(path: string, caption: string, extraCaptionHtml = ''): string {
  return `<figure>${imgTag(path, caption)}<figcaption>${esc(caption)}${extraCaptionHtml}</figcaption></figure>`;
}

// ---------------------------------------------------------------------------------------------
// Plots

interface Series {
  name: string;
  points: { x: number; y: number }[];
  /** Faint line (raw data under a smoothed line). */
  faint?: boolean;
}

interface PlotOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  yLog?: boolean;
  width?: number;
  height?: number;
  yFormat?: string;
}

let plotCounter = 0;

/** Renders a line chart to an SVG string, with its element ids made unique within the page. */
export async function lineChartSvg(series: Series[], o: PlotOptions): Promise<string> {
  const values = series.flatMap((s) => s.points.map((p) => ({ x: p.x, y: p.y, series: s.name })));
  const names = series.map((s) => s.name);
  const palette = ['#9ab8d8', '#1f5fa8', '#d9822b', '#2e8b57', '#8e44ad'];
  let solid = 0;
  const colors = series.map((s) => (s.faint ? palette[0]! : palette[Math.min(1 + solid++, palette.length - 1)]!));
  const showLegend = series.length > 1;
  const spec: TopLevelSpec = {
    width: o.width ?? 640,
    height: o.height ?? 260,
    background: 'white',
    padding: 6,
    title: { text: o.title, anchor: 'start', fontSize: 13, fontWeight: 600 },
    data: { values },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: o.xTitle, axis: { format: '~s', grid: true, tickCount: 8 }, scale: { nice: false, zero: false } },
      y: {
        field: 'y',
        type: 'quantitative',
        title: o.yTitle,
        scale: o.yLog ? { type: 'log', nice: false } : { zero: false },
        axis: { format: o.yFormat ?? '~g', grid: true, tickCount: 6 },
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: names, range: colors },
        legend: showLegend ? { orient: 'top', direction: 'horizontal', offset: 4, labelLimit: 400 } : null,
      },
    },
    // One layer per series, drawn in order (raw data under its smoothed line).
    layer: series.map((s) => ({
      transform: [{ filter: { field: 'series', equal: s.name } }],
      mark: { type: 'line' as const, strokeWidth: s.faint ? 1 : 1.8, clip: true },
    })),
    config: {
      font: 'sans-serif',
      view: { stroke: '#d0d7de' },
      axis: { labelColor: '#444', titleColor: '#333', gridColor: '#eef1f4', domainColor: '#888', tickColor: '#888', labelFontSize: 10, titleFontSize: 11 },
      legend: { labelFontSize: 11 },
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return uniqueSvgIds(svg, `p${++plotCounter}-`);
  } finally {
    view.finalize();
  }
}

/** Vega numbers clip paths from 1 in every render: prefix them so several inline SVGs can share a page. */
function uniqueSvgIds(svg: string, prefix: string): string {
  const ids = new Set([...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!));
  if (ids.size === 0) return svg;
  return svg
    .replace(/\sid="([^"]+)"/g, (_m, id: string) => ` id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (m, id: string) => (ids.has(id) ? `url(#${prefix}${id})` : m))
    .replace(/href="#([^"]+)"/g, (m, id: string) => (ids.has(id) ? `href="#${prefix}${id}"` : m));
}

/** Bucket-means a series down to at most `max` points (plots of 100k-step logs stay small). */
function downsample(points: { x: number; y: number }[], max: number): { x: number; y: number }[] {
  if (points.length <= max) return points;
  const out: { x: number; y: number }[] = [];
  const per = points.length / max;
  for (let i = 0; i < max; i++) {
    const from = Math.floor(i * per);
    const to = Math.max(from + 1, Math.floor((i + 1) * per));
    let sx = 0;
    let sy = 0;
    for (let j = from; j < to; j++) [sx, sy] = [sx + points[j]!.x, sy + points[j]!.y];
    out.push({ x: sx / (to - from), y: sy / (to - from) });
  }
  return out;
}

/** Debiased exponential moving average (as TensorBoard's smoothing); in log space when `log`. */
export function smooth(points: { x: number; y: number }[], weight: number, log: boolean): { x: number; y: number }[] {
  let acc = 0;
  let norm = 0;
  return points.map((p) => {
    const v = log ? Math.log(p.y) : p.y;
    acc = acc * weight + (1 - weight) * v;
    norm = norm * weight + (1 - weight);
    const s = acc / norm;
    return { x: p.x, y: log ? Math.exp(s) : s };
  });
}

const MAX_PLOT_POINTS = 1500;

// ---------------------------------------------------------------------------------------------
// Training logs

interface LogRecord {
  step: number;
  [k: string]: unknown;
}

export interface ParsedLog {
  records: LogRecord[];
  /** Lines that are not a JSON object with a numeric "step" (blank lines are not counted). */
  malformed: number;
  /** 1-based line numbers of the first few malformed lines. */
  malformedLines: number[];
}

export function parseLog(text: string): ParsedLog {
  const records: LogRecord[] = [];
  const malformedLines: number[] = [];
  let malformed = 0;
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      v = undefined;
    }
    if (isObject(v) && isNum(v.step)) records.push(v as LogRecord);
    else {
      malformed++;
      if (malformedLines.length < 5) malformedLines.push(i + 1);
    }
  });
  records.sort((a, b) => a.step - b.step);
  return { records, malformed, malformedLines };
}

function column(records: LogRecord[], key: string): { x: number; y: number }[] {
  const pts: { x: number; y: number }[] = [];
  for (const r of records) if (isNum(r[key])) pts.push({ x: r.step, y: r[key] as number });
  return pts;
}

async function logSection(path: string, who: string): Promise<string> {
  const log = parseLog(readFileSync(path, 'utf8'));
  const file = basename(path);
  const parts: string[] = [];
  const bad = log.malformed === 0
    ? `<span class="ok">no malformed lines</span>`
    : `<span class="warn">${log.malformed} malformed line${log.malformed === 1 ? '' : 's'} skipped</span> (line${log.malformed === 1 ? '' : 's'} ${log.malformedLines.join(', ')}${log.malformed > log.malformedLines.length ? ', …' : ''})`;
  parts.push(`<p class="meta"><code>${esc(file)}</code>: ${log.records.length.toLocaleString('en-US')} records, ${bad}.</p>`);
  if (log.records.length === 0) return parts.join('\n');

  const loss = column(log.records, 'loss');
  const stats: [string, string][] = [];
  const first = log.records[0]!.step;
  const last = log.records[log.records.length - 1]!.step;
  stats.push(['steps', `${fmtNum(first)} – ${fmtNum(last)}`]);
  if (loss.length > 0) {
    const yLog = loss.every((p) => p.y > 0);
    const weight = loss.length < 20 ? 0 : Math.min(0.95, 1 - 10 / loss.length);
    const smoothed = smooth(loss, weight, yLog);
    const min = loss.reduce((a, b) => (b.y < a.y ? b : a));
    stats.push(['final loss', `${fmtNum(loss[loss.length - 1]!.y)} (smoothed ${fmtNum(smoothed[smoothed.length - 1]!.y)})`]);
    stats.push(['lowest loss', `${fmtNum(min.y)} at step ${fmtNum(min.x)}`]);
    const series: Series[] = [{ name: 'loss', points: downsample(loss, MAX_PLOT_POINTS), faint: weight > 0 }];
    if (weight > 0) series.push({ name: `smoothed (EMA ${weight.toFixed(2)})`, points: downsample(smoothed, MAX_PLOT_POINTS) });
    const svg = await lineChartSvg(series, { title: `${who} loss${yLog ? ' (log scale)' : ''}`, xTitle: 'step', yTitle: 'loss', yLog, width: 860, height: 300 });
    parts.push(`<div class="plot">${svg}</div>`);
  } else parts.push(`<p class="na">No record has a numeric <code>loss</code>.</p>`);

  const times = column(log.records, 'step_time_s');
  if (times.length > 0) {
    const sorted = times.map((p) => p.y).sort((a, b) => a - b);
    const total = sorted.reduce((a, b) => a + b, 0);
    stats.push(['median step time', `${fmtNum(sorted[Math.floor(sorted.length / 2)]! * 1000, 3)} ms`]);
    stats.push(['logged step time, summed', fmtSeconds(total)]);
  }

  const small: string[] = [];
  const lr = column(log.records, 'lr');
  if (lr.length > 0) {
    stats.push(['final lr', fmtNum(lr[lr.length - 1]!.y)]);
    small.push(await lineChartSvg([{ name: 'lr', points: downsample(lr, MAX_PLOT_POINTS) }], { title: 'learning rate', xTitle: 'step', yTitle: 'lr', width: 300, height: 150, yFormat: '.1e' }));
  }
  const gn = column(log.records, 'grad_norm');
  if (gn.length > 0) {
    const yLog = gn.every((p) => p.y > 0);
    small.push(await lineChartSvg([{ name: 'grad norm', points: downsample(gn, MAX_PLOT_POINTS) }], { title: `gradient norm${yLog ? ' (log)' : ''}`, xTitle: 'step', yTitle: 'grad norm', yLog, width: 300, height: 150 }));
  }
  if (times.length > 0) {
    small.push(await lineChartSvg([{ name: 'step time', points: downsample(times, MAX_PLOT_POINTS) }], { title: 'step time', xTitle: 'step', yTitle: 'seconds', width: 300, height: 150 }));
  }
  parts.splice(1, 0, kvTable(stats));
  if (small.length > 0) parts.push(`<div class="plots-small">${small.map((s) => `<div class="plot">${s}</div>`).join('')}</div>`);
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Tables

/** A two-column table; values are HTML already (escape before calling). */
function kvTable(rows: [string, string][]): string {
  return `<table class="kv"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</tbody></table>`;
}

/** Flattens a JSON value into dotted paths; arrays of scalars stay whole. */
function flatten(v: unknown, prefix: string, out: [string, unknown][]): void {
  if (isObject(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(v) && v.some((x) => typeof x === 'object' && x !== null)) {
    v.forEach((x, i) => flatten(x, `${prefix}[${i}]`, out));
  } else out.push([prefix || '(value)', v]);
}

function jsonValueHtml(v: unknown): string {
  if (typeof v === 'string') return `<span class="str">${esc(v)}</span>`;
  if (typeof v === 'number') return `<span class="num">${esc(String(v))}</span>`;
  return `<code>${esc(JSON.stringify(v))}</code>`;
}

function configSection(runDir: string): string {
  const path = join(runDir, 'config.json');
  if (!isFile(path)) throw new Error(`${runDir}: no config.json (a run folder must have one)`);
  const r = readJson(path);
  if (!r.ok) throw new Error(`${path}: not valid JSON (${r.error})`);
  const rows: [string, unknown][] = [];
  flatten(r.value, '', rows);
  const table = rows.length === 0
    ? '<p class="na">(empty)</p>'
    : `<table class="kv config"><tbody>${rows.map(([k, v]) => `<tr><th><code>${esc(k)}</code></th><td>${jsonValueHtml(v)}</td></tr>`).join('')}</tbody></table>`;
  return `${table}\n<details><summary>config.json as written</summary><pre>${esc(JSON.stringify(r.value, null, 2))}</pre></details>`;
}

// ---------------------------------------------------------------------------------------------
// Sections

function validationSection(runDir: string, max: number): string | null {
  const dir = join(runDir, 'validation');
  const files = pngsIn(dir);
  if (files.length === 0) return null;
  const stepOf = (f: string) => /^step-(\d+)\.png$/i.exec(f);
  const stepped = files.filter((f) => stepOf(f)).sort((a, b) => Number(stepOf(a)![1]) - Number(stepOf(b)![1]));
  const others = files.filter((f) => !stepOf(f));
  const all = [...stepped, ...others];
  const shown = thin(all, max);
  const note = shown.length < all.length ? `<p class="meta">Showing ${shown.length} of ${all.length} grids, evenly spaced.</p>` : '';
  const figs = shown.map((f) => {
    const m = stepOf(f);
    return figure(join(dir, f), m ? `step ${Number(m[1]).toLocaleString('en-US')}` : f);
  });
  return `<p class="meta">${all.length} validation grid${all.length === 1 ? '' : 's'}, in step order.</p>${note}<div class="strip">${figs.join('\n')}</div>`;
}

function gridSection(runDir: string): string | null {
  const png = join(runDir, 'grid.png');
  if (!isFile(png)) return null;
  const im = embedImage(png);
  if (!im) return `<div class="missing">grid.png: not a readable image</div>`;
  let prompts: string[] = [];
  let steps: string[] = [];
  let note = '';
  const jsonPath = join(runDir, 'grid.json');
  if (isFile(jsonPath)) {
    const r = readJson(jsonPath);
    if (r.ok && isObject(r.value)) {
      if (Array.isArray(r.value.prompts)) prompts = r.value.prompts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p)));
      if (Array.isArray(r.value.steps)) steps = r.value.steps.map((s) => String(s));
    } else note = `<p class="warn">grid.json is not readable${r.ok ? '' : `: ${esc(r.error)}`}.</p>`;
  } else note = `<p class="na">grid.json not present: rows and columns are unlabelled.</p>`;
  const size = im.width && im.height ? ` width="${im.width}" height="${im.height}"` : '';
  const img = `<img src="${im.uri}" alt="steps comparison grid"${size}>`;
  // Label the cells when the image's shape agrees with prompts × steps (roughly square tiles).
  const tile = im.width && im.height && prompts.length > 0 && steps.length > 0
    ? (im.width / steps.length) / (im.height / prompts.length) : 0;
  let body: string;
  if (tile > 0.8 && tile < 1.25) {
    const cols = `repeat(${steps.length}, 1fr)`;
    body = `<div class="grid-fig" style="--cols:${steps.length}">
<div class="corner"></div>
<div class="col-heads" style="grid-template-columns:${cols}">${steps.map((s) => `<div>${esc(s)} step${s === '1' ? '' : 's'}</div>`).join('')}</div>
<div class="row-heads">${prompts.map((p, i) => `<div title="${esc(p)}"><span>${i + 1}. ${esc(p)}</span></div>`).join('')}</div>
<div class="grid-img">${img}</div>
</div>`;
  } else {
    body = `<figure class="wide">${img}<figcaption>${steps.length > 0 ? `columns: ${esc(steps.join(', '))} steps` : ''}</figcaption></figure>`;
  }
  const list = prompts.length > 0 ? `<ol class="prompts">${prompts.map((p) => `<li>${esc(p)}</li>`).join('')}</ol>` : '';
  const what = prompts.length > 0 && steps.length > 0 ? `<p class="meta">Rows: ${prompts.length} prompts; columns: sampling steps ${esc(steps.join(', '))}.</p>` : '';
  return `${note}${what}${body}${list}`;
}

interface Bench {
  dir: string;
  images: { file: string; prompt: string | null }[];
  summary: Record<string, unknown> | null;
  summaryError: string | null;
}

function readBench(dir: string): Bench | null {
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
    const r = readJson(sf);
    if (r.ok && isObject(r.value)) summary = r.value;
    else summaryError = r.ok ? 'not a JSON object' : r.error;
  }
  const images = pngsIn(dir).map((file) => ({ file, prompt: prompts.get(file) ?? null }));
  return { dir, images, summary, summaryError };
}

function perImageMs(b: Bench | null): number | null {
  const t = b?.summary?.timings;
  return isObject(t) && isNum(t.per_image_ms) ? t.per_image_ms : null;
}

function benchSummaryTable(benches: [string, Bench][]): string {
  const rows: [string, (b: Bench) => string][] = [];
  const cell = (v: unknown) => (v === undefined ? '—' : isNum(v) ? esc(fmtNum(v)) : typeof v === 'string' ? esc(v) : `<code>${esc(JSON.stringify(v))}</code>`);
  rows.push(['images in folder', (b) => String(b.images.length)]);
  rows.push(['per image', (b) => (perImageMs(b) !== null ? esc(fmtMs(perImageMs(b)!)) : '—')]);
  const stageNames = new Set<string>();
  for (const [, b] of benches) {
    const st = isObject(b.summary?.timings) ? (b.summary!.timings as Record<string, unknown>).per_stage_ms : undefined;
    if (isObject(st)) for (const k of Object.keys(st)) stageNames.add(k);
  }
  for (const stage of stageNames) {
    rows.push([`  ${stage}`, (b) => {
      const st = isObject(b.summary?.timings) ? (b.summary!.timings as Record<string, unknown>).per_stage_ms : undefined;
      const v = isObject(st) ? st[stage] : undefined;
      if (!isNum(v)) return cell(v);
      const per = perImageMs(b);
      return `${esc(fmtMs(v))}${per ? ` <span class="dim">(${((100 * v) / per).toFixed(0)}%)</span>` : ''}`;
    }]);
  }
  const otherKeys = new Set<string>();
  for (const [, b] of benches) for (const k of Object.keys(b.summary ?? {})) if (k !== 'timings') otherKeys.add(k);
  for (const k of otherKeys) rows.push([k, (b) => cell(b.summary?.[k])]);
  const head = `<tr><th></th>${benches.map(([name]) => `<th>${esc(name)}</th>`).join('')}</tr>`;
  const body = rows.map(([k, f]) => `<tr><th class="${k.startsWith('  ') ? 'sub' : ''}">${esc(k.trim())}</th>${benches.map(([, b]) => `<td>${f(b)}</td>`).join('')}</tr>`).join('');
  const notes = benches.filter(([, b]) => b.summary === null).map(([name, b]) => `<p class="na">${esc(name)}: summary.json ${b.summaryError ? `unreadable (${esc(b.summaryError)})` : 'not present'}.</p>`).join('');
  return `<table class="grid-table"><thead>${head}</thead><tbody>${body}</tbody></table>${notes}`;
}

function benchSection(runDir: string, max: number): string | null {
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
  if (ps && pt) parts.push(`<p class="headline">Student is <strong>${esc((pt / ps).toFixed(1))}×</strong> faster per image than the teacher (${esc(fmtMs(ps))} vs ${esc(fmtMs(pt))}).</p>`);
  parts.push(benchSummaryTable(benches));

  if (student && teacher) {
    // Pair by prompt text where both have prompts, else by file name.
    const teacherByPrompt = new Map<string, string>();
    for (const im of teacher.images) if (im.prompt !== null && !teacherByPrompt.has(im.prompt)) teacherByPrompt.set(im.prompt, im.file);
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
      return `<tr><td class="prompt">${prompt !== null ? esc(prompt) : '<span class="dim">(no prompt)</span>'}<div class="dim">${esc(s.file)}${t && t !== s.file ? ` / ${esc(t)}` : ''}</div></td>`
        + `<td>${imgTag(join(student.dir, s.file), `student: ${prompt ?? s.file}`)}</td>`
        + `<td>${t ? imgTag(join(teacher.dir, t), `teacher: ${prompt ?? t}`) : '<span class="na">no teacher image</span>'}</td></tr>`;
    });
    const note = shown.length < pairs.length ? `<p class="meta">Showing ${shown.length} of ${pairs.length} prompts, evenly spaced.</p>` : '';
    const extra = teacherOnly.length > 0 ? `<p class="meta">${teacherOnly.length} teacher image${teacherOnly.length === 1 ? '' : 's'} without a student counterpart not shown.</p>` : '';
    parts.push(`<h3>Student vs teacher</h3>${note}<table class="pairs"><thead><tr><th>prompt</th><th>student</th><th>teacher</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>${extra}`);
  } else {
    const b = (student ?? teacher)!;
    const name = student ? 'Student' : 'Teacher';
    const shown = thin(b.images, max);
    const note = shown.length < b.images.length ? `<p class="meta">Showing ${shown.length} of ${b.images.length} images, evenly spaced.</p>` : '';
    const figs = shown.map((im) => figure(join(b.dir, im.file), im.prompt ?? im.file, im.prompt !== null ? `<span class="dim"> — ${esc(im.file)}</span>` : ''));
    parts.push(`<h3>${name} gallery</h3>${note}${b.images.length === 0 ? '<p class="na">No images.</p>' : `<div class="gallery">${figs.join('\n')}</div>`}`);
  }
  return parts.join('\n');
}

const ACCURACY_KEYS = ['all', 'shape', 'color', 'position', 'size', 'background'];

function metricsSection(runDir: string): string | null {
  const path = join(runDir, 'metrics.json');
  if (!isFile(path)) return null;
  const r = readJson(path);
  if (!r.ok || !isObject(r.value)) return `<p class="warn">metrics.json is not readable${r.ok ? ': not a JSON object' : `: ${esc(r.error)}`}.</p>`;
  const m = r.value;
  const parts: string[] = [];
  if (isNum(m.seconds_total)) parts.push(`<p class="meta">The whole run took ${esc(fmtSeconds(m.seconds_total))} (metrics.json <code>seconds_total</code>).</p>`);
  const evalObj = isObject(m.eval) ? m.eval : {};
  const samplers = Object.entries(evalObj).filter((e): e is [string, Record<string, unknown>] => isObject(e[1]));
  if (samplers.length === 0) {
    parts.push('<p class="na">No samplers under <code>eval</code>.</p>');
  } else {
    const keys: string[] = [];
    for (const k of ACCURACY_KEYS) if (samplers.some(([, v]) => k in v)) keys.push(k);
    for (const [, v] of samplers) for (const k of Object.keys(v)) if (!keys.includes(k) && isNum(v[k])) keys.push(k);
    const kind = (k: string) => (ACCURACY_KEYS.includes(k) ? 'acc' : k.startsWith('ms_') || k.endsWith('_ms') ? 'ms' : k.startsWith('psnr') ? 'db' : 'num');
    const higherBetter = (k: string) => kind(k) !== 'ms';
    const best = new Map<string, number>();
    for (const k of keys) {
      const vals = samplers.map(([, v]) => v[k]).filter(isNum);
      if (vals.length > 1) best.set(k, higherBetter(k) ? Math.max(...vals) : Math.min(...vals));
    }
    const fmt = (k: string, v: unknown) => {
      if (!isNum(v)) return v === undefined ? '—' : esc(String(v));
      switch (kind(k)) {
        case 'acc': return fmtPct(v);
        case 'ms': return esc(fmtMs(v));
        case 'db': return `${v.toFixed(2)} dB`;
        default: return esc(fmtNum(v));
      }
    };
    const label = (k: string) => (k === 'ms_per_image' ? 'ms / image' : k === 'psnr_vs_teacher30' ? 'PSNR vs teacher (30 steps)' : k.replace(/_/g, ' '));
    const head = `<tr><th>sampler</th>${keys.map((k) => `<th>${esc(label(k))}</th>`).join('')}</tr>`;
    const rows = samplers.map(([name, v]) => `<tr><th>${esc(name)}</th>${keys.map((k) => {
      const isBest = isNum(v[k]) && best.get(k) === v[k];
      return `<td class="${isBest ? 'best' : ''}">${fmt(k, v[k])}</td>`;
    }).join('')}</tr>`);
    parts.push(`<table class="grid-table metrics"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`);
    parts.push('<p class="dim">Accuracies are the share of generated images that a checker judged correct for each attribute; bold marks the best value in a column.</p>');
  }
  return parts.join('\n');
}

/**
 * metrics.json's `recipes` (the demo's distillation settings vs the seed's, same data, steps and batch):
 * a table of each recipe's settings and scores, then the seed-recipe run's own training log.
 */
async function recipesSection(runDir: string): Promise<string | null> {
  const r = readJson(join(runDir, 'metrics.json'));
  if (!r.ok || !isObject(r.value) || !isObject(r.value.recipes)) return null;
  const rec = r.value.recipes;
  const names = Object.keys(rec).filter((k) => isObject(rec[k]));
  const cell = (v: unknown, f: (x: number) => string) => (isNum(v) ? esc(f(v)) : '—');
  const score = (v: unknown, key: string, f: (x: number) => string) => (isObject(v) ? cell(v[key], f) : '—');
  const rows = names.map((n) => {
    const x = rec[n] as Record<string, unknown>;
    return `<tr><th>${esc(n)}</th><td>${cell(x.lr, (v) => v.toExponential(0))}</td><td>${cell(x.num_scales, String)}</td><td>${cell(x.target_ema, String)}</td><td>${cell(x.warmup_steps, String)}</td>`
      + `<td>${score(x.student_1, 'all', fmtPct)}</td><td>${score(x.student_4, 'all', fmtPct)}</td><td>${score(x.student_4, 'psnr_vs_teacher30', (v) => `${v.toFixed(2)} dB`)}</td></tr>`;
  });
  const budget = isNum(rec.steps) && isNum(rec.batch_size) ? `${fmtNum(rec.steps)} steps of ${fmtNum(rec.batch_size)} images each` : 'the same budget';
  const parts = [
    `<p class="meta">Both students are distilled from the same teacher dataset with ${esc(budget)}; only the recipe differs. <code>before_distillation</code> is where both start: consistency sampling with the teacher's own DiT, unguided.</p>`,
    `<table class="grid-table metrics"><thead><tr><th>recipe</th><th>lr</th><th>N</th><th>target EMA</th><th>warmup</th><th>student 1 step: all</th><th>student 4 steps: all</th><th>4 steps: PSNR vs teacher (30)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`,
    '<p class="dim">Losses of runs with different N are not comparable (neighbouring σ levels lie closer at larger N); compare the scores.</p>',
  ];
  const seedLog = join(runDir, 'seed-recipe', 'log.jsonl');
  if (isFile(seedLog)) parts.push(`<h3>Training with the seed's recipe</h3>`, await logSection(seedLog, "student (seed's recipe)"));
  return parts.join('\n');
}

function worldSection(runDir: string, max: number): string | null {
  const dir = join(runDir, 'world');
  if (!isDir(dir)) return null;
  const parts: string[] = [];
  const pj = join(dir, 'prompts.json');
  if (isFile(pj)) {
    const r = readJson(pj);
    if (!r.ok) parts.push(`<p class="warn">prompts.json is not readable: ${esc(r.error)}.</p>`);
    else if (Array.isArray(r.value) && r.value.every((p) => typeof p === 'string')) parts.push(`<details open><summary>prompts (${r.value.length})</summary><ol class="prompts">${(r.value as string[]).map((p) => `<li>${esc(p)}</li>`).join('')}</ol></details>`);
    else parts.push(`<details><summary>prompts.json</summary><pre>${esc(JSON.stringify(r.value, null, 2))}</pre></details>`);
  }
  const files = pngsIn(dir);
  const shown = thin(files, max);
  if (shown.length < files.length) parts.push(`<p class="meta">Showing ${shown.length} of ${files.length} images.</p>`);
  parts.push(files.length === 0 ? '<p class="na">No images.</p>' : `<div class="strip">${shown.map((f) => figure(join(dir, f), f)).join('\n')}</div>`);
  return parts.join('\n');
}

// ---------------------------------------------------------------------------------------------
// Page

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

interface Section {
  id: string;
  title: string;
  html: string | null;
  absent?: string;
}

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

  const sections: Section[] = [];
  sections.push({ id: 'config', title: 'Configuration', html: configSection(dir) });
  const logPath = join(dir, 'log.jsonl');
  sections.push({ id: 'training', title: 'Training (student)', html: isFile(logPath) ? await logSection(logPath, 'student') : null, absent: 'log.jsonl not present.' });
  const tlogPath = join(dir, 'teacher_log.jsonl');
  sections.push({ id: 'teacher', title: 'Teacher training', html: isFile(tlogPath) ? await logSection(tlogPath, 'teacher') : null, absent: 'teacher_log.jsonl not present.' });
  sections.push({ id: 'validation', title: 'Validation grids', html: validationSection(dir, max), absent: 'validation/ not present (no step-NNNNNN.png).' });
  sections.push({ id: 'grid', title: 'Steps comparison', html: gridSection(dir), absent: 'grid.png not present.' });
  sections.push({ id: 'bench', title: 'Benchmark', html: benchSection(dir, max), absent: 'bench/ and bench-teacher/ not present.' });
  sections.push({ id: 'metrics', title: 'Metrics', html: metricsSection(dir), absent: 'metrics.json not present.' });
  sections.push({ id: 'recipes', title: "Distillation recipes: the demo's vs the seed's", html: await recipesSection(dir), absent: 'metrics.json has no recipes.' });
  sections.push({ id: 'world', title: 'Ground truth vs teacher vs student', html: worldSection(dir, max), absent: 'world/ not present.' });

  const now = new Date();
  const nav = sections.map((s) => `<a href="#${s.id}"${s.html === null ? ' class="absent"' : ''}>${esc(s.title)}</a>`).join('');
  const body = sections.map((s) => `<section id="${s.id}"${s.html === null ? ' class="absent"' : ''}>
<h2>${esc(s.title)}<a class="anchor" href="#${s.id}" aria-label="link to this section">#</a></h2>
${s.html ?? `<p class="na">${esc(s.absent ?? 'not present.')}</p>`}
</section>`).join('\n');

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
<div class="sub">Run folder <code>${esc(dir)}</code> · generated ${esc(now.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC'))}</div>
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
