// HTML building blocks of the report: escaping, number formats, embedded images, tables, and the
// tolerant file reads a report needs (a broken part of a run folder becomes a note, never a crash).
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

export const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

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

export const fmtPct = (x: number) => `${(x * 100).toFixed(1)}%`;
export const fmtMs = (x: number) => `${x >= 100 ? Math.round(x).toLocaleString('en-US') : fmtNum(x, 3)} ms`;

export function fmtSeconds(s: number): string {
  if (s < 60) return `${fmtNum(s, 3)} s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.round(s % 60);
  return h > 0 ? `${h} h ${m} min` : `${m} min ${sec} s`;
}

export function readJsonLoose(path: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(readFileSync(path, 'utf8')) };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
export const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();
export const isFile = (p: string) => existsSync(p) && statSync(p).isFile();

/** Names of the *.png files in a folder, in name order (numeric-aware). */
export function pngsIn(dir: string): string[] {
  if (!isDir(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.png$/i.test(f) && isFile(join(dir, f)))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
}

/** Evenly thins a list to at most `max` entries, keeping the first and the last. */
export function thin<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  if (max <= 1) return items.slice(0, Math.max(0, max));
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.round((i * (items.length - 1)) / (max - 1))]!);
  return out;
}

export interface Embedded {
  uri: string;
  width?: number;
  height?: number;
}

/** Reads an image file into a data: URI, sniffing the real format; null when it is not an image. */
export function embedImage(path: string): Embedded | null {
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
  else if (b.length > 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP')
    mime = 'image/webp';
  else if (b.length > 6 && b.toString('latin1', 0, 4) === 'GIF8') mime = 'image/gif';
  if (!mime) return null;
  return { uri: `data:${mime};base64,${b.toString('base64')}`, width, height };
}

export function imgTag(path: string, alt: string, cls = ''): string {
  const im = embedImage(path);
  if (!im) return `<div class="missing">${esc(basename(path))}: not a readable image</div>`;
  const size = im.width && im.height ? ` width="${im.width}" height="${im.height}"` : '';
  return `<img src="${im.uri}" alt="${esc(alt)}"${size}${cls ? ` class="${cls}"` : ''} loading="eager" decoding="async">`;
}

export function figure(path: string, caption: string, extraCaptionHtml = ''): string {
  return `<figure>${imgTag(path, caption)}<figcaption>${esc(caption)}${extraCaptionHtml}</figcaption></figure>`;
}

/** A two-column table; values are HTML already (escape before calling). */
export function kvTable(rows: [string, string][]): string {
  return `<table class="kv"><tbody>${rows.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</tbody></table>`;
}

/** Flattens a JSON value into dotted paths; arrays of scalars stay whole. */
export function flatten(v: unknown, prefix: string, out: [string, unknown][]): void {
  if (isObject(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v)) flatten(x, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(v) && v.some((x) => typeof x === 'object' && x !== null)) {
    for (const [i, x] of v.entries()) flatten(x, `${prefix}[${i}]`, out);
  } else out.push([prefix || '(value)', v]);
}

export function jsonValueHtml(v: unknown): string {
  if (typeof v === 'string') return `<span class="str">${esc(v)}</span>`;
  if (typeof v === 'number') return `<span class="num">${esc(String(v))}</span>`;
  return `<code>${esc(JSON.stringify(v))}</code>`;
}
