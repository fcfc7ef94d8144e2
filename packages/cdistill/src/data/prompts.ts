// Prompt sources: JourneyDB annotation files (JSONL, plain, gzipped or in a tarball) sampled by a
// seeded reservoir, plain text lists, and prompts_to_generate.json-style JSON lists.
//
// JourneyDB's annotation files hold millions of lines, so they are streamed and never held whole:
// memory is the reservoir (n prompts) plus one read chunk. The .tgz form goes through zlib and the
// small tar reader in tar.ts.
import { createReadStream, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import { TextDecoder } from 'node:util';
import { createGunzip } from 'node:zlib';

import { writeFileAtomic } from '../util/fs.js';
import { checkPrompt } from './prompt-checks.js';
import { Reservoir } from './reservoir.js';
import { tarFiles } from './tar.js';

export interface SampleStats {
  /** Lines read (entries, for a JSON list): always valid + the three skip counts. */
  lines: number;
  /** Lines that held a usable prompt, all of them candidates for the sample. */
  valid: number;
  /** Prompts returned: min(n, valid). */
  used: number;
  skippedBlank: number;
  /** Not valid UTF-8, not JSON, or JSON but not an object (JSONL only). */
  skippedInvalid: number;
  /** A JSON object without a non-empty string at the field (JSONL only). */
  skippedNoField: number;
  /** Fewer than n valid prompts existed: all were returned, in file order. */
  short: boolean;
  /** The tar entries that were read (every .jsonl in it), for a .tgz/.tar.gz/.tar source. */
  entries?: string[];
}

export interface SampleOptions {
  n: number;
  seed: number;
  /** Where the prompt sits in each JSONL object; dotted paths ('Task2.Caption') walk nested objects. */
  field?: string;
}

type Kind = { format: 'jsonl' | 'text'; gzip: boolean; tar: boolean } | { format: 'json' };

function kindOf(path: string): Kind {
  const name = basename(path).toLowerCase();
  if (/\.(tgz|tar\.gz)$/.test(name)) return { format: 'jsonl', gzip: true, tar: true };
  if (name.endsWith('.tar')) return { format: 'jsonl', gzip: false, tar: true };
  const gzip = name.endsWith('.gz');
  const base = gzip ? name.slice(0, -3) : name;
  if (base.endsWith('.jsonl')) return { format: 'jsonl', gzip, tar: false };
  if (base.endsWith('.txt')) return { format: 'text', gzip, tar: false };
  if (name.endsWith('.json')) return { format: 'json' };
  throw new Error(
    `${path}: unknown prompt source; expected .jsonl, .jsonl.gz, .tgz/.tar.gz (holding a .jsonl), .txt or .json`,
  );
}

/**
 * Uniform sample of `n` prompts without replacement, deterministic for `seed`. Output is in file
 * order when all valid prompts fit (stats.short or exactly n), otherwise in a seeded random order.
 */
export async function sampleJourneyDbPrompts(
  path: string,
  opts: SampleOptions,
): Promise<{ prompts: string[]; stats: SampleStats }> {
  const { n, seed, field = 'prompt' } = opts;
  const reservoir = new Reservoir<string>(n, seed);
  const stats: SampleStats = {
    lines: 0,
    valid: 0,
    used: 0,
    skippedBlank: 0,
    skippedInvalid: 0,
    skippedNoField: 0,
    short: false,
  };
  const kind = kindOf(path);

  if (kind.format === 'json') {
    for (const p of readPromptList(path)) reservoir.offer(p);
    stats.lines = reservoir.seen;
  } else {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    const onLine =
      kind.format === 'jsonl'
        ? (line: Buffer): void => {
            if (isBlank(line)) {
              stats.skippedBlank++;
              return;
            }
            const value = promptOf(line, decoder, field);
            if (value === INVALID) stats.skippedInvalid++;
            else if (value === undefined) stats.skippedNoField++;
            else reservoir.offer(value);
          }
        : (line: Buffer, lineNo: number): void => {
            let text: string;
            try {
              text = decoder.decode(line);
            } catch {
              // A hand-made list is expected to be clean: say where, rather than silently drop a prompt.
              throw new Error(`${path}:${lineNo}: invalid UTF-8`);
            }
            if (text.trim() === '') stats.skippedBlank++;
            else reservoir.offer(text);
          };
    const source = openBytes(path, kind.gzip);
    try {
      if (kind.tar) {
        // Every .jsonl in the archive, one after the other (a line never runs from one file into the next).
        stats.entries = [];
        for await (const entry of tarFiles(source, path, isJsonlEntry)) {
          stats.entries.push(entry.name);
          stats.lines += await eachLine(entry.body, `${path}:${entry.name}`, onLine);
        }
      } else {
        stats.lines = await eachLine(source, path, onLine);
      }
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code === 'string' && code.startsWith('Z_'))
        throw new Error(`${path}: bad gzip data (${(e as Error).message})`, { cause: e });
      throw e;
    } finally {
      source.destroy(); // closes the file on error
    }
  }
  stats.valid = reservoir.seen;
  if (stats.valid === 0) {
    const why =
      kind.format === 'json'
        ? 'the list is empty'
        : `${stats.lines} line${stats.lines === 1 ? '' : 's'}: ${stats.skippedBlank} blank, ${stats.skippedInvalid} invalid${kind.format === 'jsonl' ? `, ${stats.skippedNoField} without a string at '${field}' (--field)` : ''}`;
    throw new Error(`${path}: no valid prompt (${why})`);
  }
  stats.short = stats.valid < n;
  const prompts = reservoir.result();
  stats.used = prompts.length;
  return { prompts, stats };
}

function openBytes(path: string, gzip: boolean): Readable {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  // pipeline forwards a read error to the gunzip stream (and so to its reader); its callback has
  // nothing left to do, and also receives the premature-close error of an early stop.
  return gzip ? pipeline(file, createGunzip(), () => {}) : file;
}

function isBlank(line: Buffer): boolean {
  for (const b of line) if (b !== 0x20 && b !== 0x09 && b !== 0x0d) return false;
  return true;
}

const INVALID = Symbol('invalid');

/** The non-empty prompt string of a JSONL line, undefined if it has none, INVALID if it is corrupt. */
function promptOf(line: Buffer, decoder: TextDecoder, field: string): string | undefined | typeof INVALID {
  let obj: unknown;
  try {
    obj = JSON.parse(decoder.decode(line));
  } catch {
    return INVALID; // bad UTF-8 or bad JSON: a damaged line in a huge file is skipped and counted, not fatal
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return INVALID;
  const value = getField(obj, field);
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function getField(obj: object, field: string): unknown {
  if (Object.hasOwn(obj, field)) return (obj as Record<string, unknown>)[field]; // a key that itself has dots
  let cur: unknown = obj;
  for (const key of field.split('.')) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** A regular .jsonl file; macOS tar adds '._name' AppleDouble twins that are not JSONL. */
function isJsonlEntry(name: string): boolean {
  const base = name.slice(name.lastIndexOf('/') + 1);
  return /\.jsonl$/i.test(base) && !base.startsWith('._') && !name.startsWith('__MACOSX/');
}

const MAX_LINE = 64 << 20; // JourneyDB lines are a few KiB; a longer "line" means a binary or wrong file

/** Calls onLine for each line (without '\n' or a trailing '\r', 1-based numbers); returns the line count. */
async function eachLine(
  chunks: AsyncIterable<Buffer>,
  path: string,
  onLine: (line: Buffer, lineNo: number) => void,
): Promise<number> {
  let pending: Buffer[] = [];
  let pendingLen = 0;
  let lineNo = 0;
  const emit = (line: Buffer): void => {
    onLine(line.length > 0 && line[line.length - 1] === 0x0d ? line.subarray(0, -1) : line, ++lineNo);
  };
  for await (const chunk of chunks) {
    let start = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, start)) {
      const piece = chunk.subarray(start, nl);
      if (pendingLen > 0) {
        emit(Buffer.concat([...pending, piece]));
        pending = [];
        pendingLen = 0;
      } else {
        emit(piece);
      }
      start = nl + 1;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingLen += chunk.length - start;
      if (pendingLen > MAX_LINE)
        throw new Error(`${path}:${lineNo + 1}: line longer than ${MAX_LINE >> 20} MiB; not a line-based text file?`);
    }
  }
  if (pendingLen > 0) emit(Buffer.concat(pending)); // a last line without '\n'
  return lineNo;
}

/** Reads a JSON array of prompt strings (prompts_to_generate.json); errors name the file and entry. */
export function readPromptList(path: string): string[] {
  const text = decodeUtf8(readFileSync(path), path);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    const pos = /at position (\d+)/.exec((e as Error).message);
    const line = pos ? ` (line ${text.slice(0, Number(pos[1])).split('\n').length})` : '';
    throw new Error(`${path}: invalid JSON${line}: ${(e as Error).message}`);
  }
  if (!Array.isArray(data))
    throw new Error(`${path}: expected a JSON array of prompt strings, got ${data === null ? 'null' : typeof data}`);
  return data.map((p, i) => checkPrompt(p, `${path}: entry ${i}`));
}

/** Whole-file strict UTF-8 decode; on failure, finds the line (no UTF-8 sequence contains '\n'). */
function decodeUtf8(bytes: Buffer, path: string): string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    return decoder.decode(bytes);
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const nl = bytes.indexOf(0x0a, start);
      try {
        decoder.decode(bytes.subarray(start, nl < 0 ? bytes.length : nl));
      } catch {
        throw new Error(`${path}:${line}: invalid UTF-8`);
      }
      if (nl < 0) throw new Error(`${path}: invalid UTF-8`); // unreachable in practice
      start = nl + 1;
    }
  }
}

/**
 * Writes a prompt list atomically (temp file, fsync, rename), in Python's json.dumps(indent=2) form:
 * ASCII only with \u escapes and no final newline, as the reference's prompts_to_generate.json is,
 * so a list read from it writes back byte-identical.
 */
export function writePromptList(path: string, prompts: readonly string[]): void {
  for (const [i, p] of prompts.entries()) checkPrompt(p, `${path}: entry ${i}`);
  const text = JSON.stringify(prompts, null, 2).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  writeFileAtomic(path, text);
}
