// The generic sections of a run's report: configuration, validation grids, the steps grid, the
// metrics table. Each returns HTML, or null when its part of the run folder is absent.
import { join } from 'node:path';

import {
  embedImage,
  esc,
  figure,
  flatten,
  fmtMs,
  fmtNum,
  fmtPct,
  fmtSeconds,
  isFile,
  isNum,
  isObject,
  jsonValueHtml,
  pngsIn,
  readJsonLoose,
  thin,
} from './html.js';

export function configSection(runDir: string): string {
  const path = join(runDir, 'config.json');
  if (!isFile(path)) throw new Error(`${runDir}: no config.json (a run folder must have one)`);
  const r = readJsonLoose(path);
  if (!r.ok) throw new Error(`${path}: not valid JSON (${r.error})`);
  const rows: [string, unknown][] = [];
  flatten(r.value, '', rows);
  const table =
    rows.length === 0
      ? '<p class="na">(empty)</p>'
      : `<table class="kv config"><tbody>${rows.map(([k, v]) => `<tr><th><code>${esc(k)}</code></th><td>${jsonValueHtml(v)}</td></tr>`).join('')}</tbody></table>`;
  return `${table}\n<details><summary>config.json as written</summary><pre>${esc(JSON.stringify(r.value, null, 2))}</pre></details>`;
}

export function validationSection(runDir: string, max: number): string | null {
  const dir = join(runDir, 'validation');
  const files = pngsIn(dir);
  if (files.length === 0) return null;
  const stepOf = (f: string) => /^step-(\d+)\.png$/i.exec(f);
  const stepped = files.filter((f) => stepOf(f)).sort((a, b) => Number(stepOf(a)![1]) - Number(stepOf(b)![1]));
  const others = files.filter((f) => !stepOf(f));
  const all = [...stepped, ...others];
  const shown = thin(all, max);
  const note =
    shown.length < all.length
      ? `<p class="meta">Showing ${shown.length} of ${all.length} grids, evenly spaced.</p>`
      : '';
  const figs = shown.map((f) => {
    const m = stepOf(f);
    return figure(join(dir, f), m ? `step ${Number(m[1]).toLocaleString('en-US')}` : f);
  });
  return `<p class="meta">${all.length} validation grid${all.length === 1 ? '' : 's'}, in step order.</p>${note}<div class="strip">${figs.join('\n')}</div>`;
}

export function gridSection(runDir: string): string | null {
  const png = join(runDir, 'grid.png');
  if (!isFile(png)) return null;
  const im = embedImage(png);
  if (!im) return `<div class="missing">grid.png: not a readable image</div>`;
  let prompts: string[] = [];
  let steps: string[] = [];
  let note = '';
  const jsonPath = join(runDir, 'grid.json');
  if (isFile(jsonPath)) {
    const r = readJsonLoose(jsonPath);
    if (r.ok && isObject(r.value)) {
      if (Array.isArray(r.value.prompts))
        prompts = r.value.prompts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p)));
      if (Array.isArray(r.value.steps)) steps = r.value.steps.map((s) => String(s));
    } else note = `<p class="warn">grid.json is not readable${r.ok ? '' : `: ${esc(r.error)}`}.</p>`;
  } else note = `<p class="na">grid.json not present: rows and columns are unlabelled.</p>`;
  const size = im.width && im.height ? ` width="${im.width}" height="${im.height}"` : '';
  const img = `<img src="${im.uri}" alt="steps comparison grid"${size}>`;
  // Label the cells when the image's shape agrees with prompts × steps (roughly square tiles).
  const tile =
    im.width && im.height && prompts.length > 0 && steps.length > 0
      ? im.width / steps.length / (im.height / prompts.length)
      : 0;
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
  const list =
    prompts.length > 0 ? `<ol class="prompts">${prompts.map((p) => `<li>${esc(p)}</li>`).join('')}</ol>` : '';
  const what =
    prompts.length > 0 && steps.length > 0
      ? `<p class="meta">Rows: ${prompts.length} prompts; columns: sampling steps ${esc(steps.join(', '))}.</p>`
      : '';
  return `${note}${what}${body}${list}`;
}

/** Metrics shown as percentages: shares of images (the demo's valid/named/coverage, per-attribute accuracies). */
const SHARE_KEYS = ['valid', 'named', 'coverage', 'all', 'shape', 'color', 'position', 'size', 'background'];

/**
 * A table of samplers (rows) by numeric metrics (columns), best value per column in bold: shares as
 * percentages, `ms` keys as milliseconds, `psnr` keys in dB. Non-numeric entries are left out.
 */
export function metricsTable(samplers: [string, Record<string, unknown>][]): string {
  const keys: string[] = [];
  for (const k of SHARE_KEYS) if (samplers.some(([, v]) => isNum(v[k]))) keys.push(k);
  for (const [, v] of samplers) for (const k of Object.keys(v)) if (!keys.includes(k) && isNum(v[k])) keys.push(k);
  const kind = (k: string) =>
    SHARE_KEYS.includes(k)
      ? 'share'
      : k.startsWith('ms_') || k.endsWith('_ms')
        ? 'ms'
        : k.startsWith('psnr')
          ? 'db'
          : 'num';
  // Times and distances (FD, KID: `fd…`, `kid…`) are better when lower.
  const higherBetter = (k: string) => kind(k) !== 'ms' && !/^(fd|kid)(_|$)/.test(k);
  const best = new Map<string, number>();
  for (const k of keys) {
    const vals = samplers.map(([, v]) => v[k]).filter(isNum);
    if (vals.length > 1) best.set(k, higherBetter(k) ? Math.max(...vals) : Math.min(...vals));
  }
  const fmt = (k: string, v: unknown) => {
    if (!isNum(v)) return v === undefined ? '—' : esc(String(v));
    switch (kind(k)) {
      case 'share':
        return fmtPct(v);
      case 'ms':
        return esc(fmtMs(v));
      case 'db':
        return `${v.toFixed(2)} dB`;
      default:
        return esc(fmtNum(v));
    }
  };
  const label = (k: string) =>
    k === 'ms_per_image'
      ? 'ms / image'
      : k === 'psnr_vs_teacher30'
        ? 'PSNR vs teacher (30 steps)'
        : k.replace(/^fd_/, 'FD ').replace(/^kid_/, 'KID ').replace(/_/g, ' ');
  const head = `<tr><th>sampler</th>${keys.map((k) => `<th>${esc(label(k))}</th>`).join('')}</tr>`;
  const rows = samplers.map(
    ([name, v]) =>
      `<tr><th>${esc(name)}</th>${keys
        .map((k) => {
          const isBest = isNum(v[k]) && best.get(k) === v[k];
          return `<td class="${isBest ? 'best' : ''}">${fmt(k, v[k])}</td>`;
        })
        .join('')}</tr>`,
  );
  return `<table class="grid-table metrics"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The samplers under metrics.json's `eval` (objects only). */
export function evalEntries(m: Record<string, unknown>): [string, Record<string, unknown>][] {
  const evalObj = isObject(m.eval) ? m.eval : {};
  return Object.entries(evalObj).filter((e): e is [string, Record<string, unknown>] => isObject(e[1]));
}

/** metrics.json, read tolerantly: the object, or the HTML of a warning. */
export function readMetrics(runDir: string): { metrics: Record<string, unknown> } | { warning: string } | null {
  const path = join(runDir, 'metrics.json');
  if (!isFile(path)) return null;
  const r = readJsonLoose(path);
  if (!r.ok || !isObject(r.value))
    return {
      warning: `<p class="warn">metrics.json is not readable${r.ok ? ': not a JSON object' : `: ${esc(r.error)}`}.</p>`,
    };
  return { metrics: r.value };
}

export function metricsSection(runDir: string): string | null {
  const r = readMetrics(runDir);
  if (r === null) return null;
  if ('warning' in r) return r.warning;
  const m = r.metrics;
  const parts: string[] = [];
  if (isNum(m.seconds_total))
    parts.push(
      `<p class="meta">The whole run took ${esc(fmtSeconds(m.seconds_total))} (metrics.json <code>seconds_total</code>).</p>`,
    );
  const samplers = evalEntries(m);
  if (samplers.length === 0) parts.push('<p class="na">No samplers under <code>eval</code>.</p>');
  else {
    parts.push(metricsTable(samplers));
    parts.push('<p class="dim">Shares are of the generated images; bold marks the best value in a column.</p>');
  }
  return parts.join('\n');
}
