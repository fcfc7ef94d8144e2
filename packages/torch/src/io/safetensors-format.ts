/**
 * safetensors container format: header parsing/validation and an atomic,
 * streaming writer.
 *
 * Layout (https://github.com/huggingface/safetensors):
 *   [8 bytes]  N, little-endian u64: byte length of the JSON header
 *   [N bytes]  UTF-8 JSON: { "<name>": {dtype, shape, data_offsets:[begin,end]}, ..., "__metadata__"?: {str: str} }
 *   [rest]     raw little-endian tensor data; data_offsets are relative to the start of this section
 *
 * Files can be far larger than 4 GB and larger than memory, so nothing here
 * reads the data section: we only pread the header and report absolute file
 * offsets that a loader can then read (or mmap) tensor by tensor.
 */

import * as fs from 'node:fs';

import { type DType, DTYPE_BYTE_SIZE, dtypeFromSafetensors, dtypeToSafetensors, isDType } from './dtype-names.js';
import { openForRead, readExact } from './positional-read.js';
import { tempPathFor } from './temp-files.js';

/** Same cap as the reference Rust implementation; protects us from allocating for a bogus length prefix. */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** Absolute byte offset in the file of the first byte of this tensor. */
  readonly start: number;
  /** Absolute byte offset in the file one past the last byte (end - start = numel × itemsize). */
  readonly end: number;
}

export interface SafetensorsHeader {
  readonly path: string;
  readonly fileSize: number;
  /** N, the JSON header length (including any trailing space padding). */
  readonly headerByteLength: number;
  /** Absolute offset of the data section (8 + N). */
  readonly dataStart: number;
  /** `__metadata__` (empty when absent). A Map so hostile keys like "__proto__" stay plain data. */
  readonly metadata: ReadonlyMap<string, string>;
  /** Entries sorted by file offset (not JSON order: JS objects reorder integer-like keys such as "0"). */
  readonly entries: readonly SafetensorsEntry[];
}

/**
 * Reads and validates the header of a safetensors file.
 *
 * Validation mirrors the reference implementation: every dtype is known,
 * shapes are non-negative integers, each tensor's byte span matches
 * numel × itemsize, and the tensors tile the data section exactly (no overlap,
 * no holes, no trailing bytes) — which also catches truncated files.
 */
export function readSafetensorsHeader(path: string): SafetensorsHeader {
  const fd = openForRead(path, 'safetensors file');
  try {
    const fileSize = fs.fstatSync(fd).size;
    if (fileSize < 8) {
      throw new Error(`${path}: not a safetensors file: only ${fileSize} bytes, need at least 8 for the header length`);
    }
    const lengthPrefix = Buffer.from(readExact(fd, 8, 0, path, 'header length'));
    const headerLength = lengthPrefix.readBigUInt64LE(0);
    if (headerLength > BigInt(SAFETENSORS_MAX_HEADER_BYTES)) {
      throw new Error(
        `${path}: corrupted safetensors header: declared header length ${headerLength} exceeds the ` +
          `${SAFETENSORS_MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`,
      );
    }
    const n = Number(headerLength);
    if (8 + n > fileSize) {
      throw new Error(
        `${path}: truncated or corrupted safetensors file: header length ${n} runs past the end of the ` +
          `${fileSize}-byte file`,
      );
    }
    const headerBytes = readExact(fd, n, 8, path, 'JSON header');
    return parseHeaderJson(path, headerBytes, fileSize, 8 + n);
  } finally {
    fs.closeSync(fd);
  }
}

function parseHeaderJson(path: string, bytes: Uint8Array, fileSize: number, dataStart: number): SafetensorsHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new Error(`${path}: corrupted safetensors header: not valid UTF-8`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: corrupted safetensors header: invalid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(parsed)) {
    throw new Error(`${path}: corrupted safetensors header: expected a JSON object at top level`);
  }

  const metadata = new Map<string, string>();
  const entries: SafetensorsEntry[] = [];
  for (const [name, info] of Object.entries(parsed)) {
    if (name === METADATA_KEY) {
      parseMetadata(path, info, metadata);
      continue;
    }
    entries.push(parseEntry(path, name, info, dataStart));
  }

  checkTiling(path, entries, fileSize, dataStart);
  return { path, fileSize, headerByteLength: dataStart - 8, dataStart, metadata, entries };
}

function parseMetadata(path: string, value: unknown, into: Map<string, string>): void {
  if (value === null) return;
  if (!isPlainObject(value)) {
    throw new Error(`${path}: invalid safetensors header: ${METADATA_KEY} must be an object of strings`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') {
      throw new Error(`${path}: invalid safetensors header: ${METADATA_KEY}[${JSON.stringify(key)}] must be a string`);
    }
    into.set(key, v);
  }
}

function parseEntry(path: string, name: string, info: unknown, dataStart: number): SafetensorsEntry {
  const where = `${path}: invalid safetensors header for tensor '${name}'`;
  if (!isPlainObject(info)) throw new Error(`${where}: expected an object`);

  const code = info.dtype;
  if (typeof code !== 'string') throw new Error(`${where}: missing or non-string dtype`);
  const dtype = dtypeFromSafetensors(code);
  if (dtype === undefined) {
    throw new Error(`${where}: unknown or unsupported dtype '${code}'`);
  }

  const shapeValue = info.shape;
  if (!Array.isArray(shapeValue) || !shapeValue.every(isNonNegativeSafeInt)) {
    throw new Error(`${where}: shape must be an array of non-negative integers, got ${JSON.stringify(shapeValue)}`);
  }
  const shape = shapeValue as number[];

  const offsets = info.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isNonNegativeSafeInt)) {
    throw new Error(
      `${where}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new Error(`${where}: data_offsets [${begin}, ${end}] has end before begin`);

  // BigInt so a hostile shape cannot overflow into a matching byte count.
  const expected = shape.reduce((acc, d) => acc * BigInt(d), 1n) * BigInt(DTYPE_BYTE_SIZE[dtype]);
  if (BigInt(end - begin) !== expected) {
    throw new Error(
      `${where}: data_offsets span ${end - begin} bytes but dtype ${code} with shape [${shape.join(', ')}] ` +
        `needs ${expected} bytes`,
    );
  }
  return Object.freeze({ name, dtype, shape: Object.freeze(shape), start: dataStart + begin, end: dataStart + end });
}

/** Tensors must cover the data section exactly; the error for the common failure says "truncated". */
function checkTiling(path: string, entries: SafetensorsEntry[], fileSize: number, dataStart: number): void {
  entries.sort((a, b) => a.start - b.start || a.end - b.end);
  let cursor = dataStart;
  for (const e of entries) {
    const rel = `[${e.start - dataStart}, ${e.end - dataStart})`;
    if (e.end > fileSize) {
      throw new Error(
        `${path}: truncated safetensors file: tensor '${e.name}' data_offsets ${rel} end past the data ` +
          `section (${fileSize - dataStart} bytes)`,
      );
    }
    if (e.start < cursor) {
      throw new Error(
        `${path}: invalid safetensors header: tensor '${e.name}' data_offsets ${rel} overlap another tensor`,
      );
    }
    if (e.start > cursor) {
      throw new Error(
        `${path}: invalid safetensors header: ${e.start - cursor} unused bytes before tensor '${e.name}' ` +
          `(data_offsets ${rel})`,
      );
    }
    cursor = e.end;
  }
  if (cursor !== fileSize) {
    throw new Error(
      `${path}: invalid safetensors file: ${fileSize - cursor} bytes after the last tensor are not described by the header`,
    );
  }
}

// ---------------------------------------------------------------------------
// Writer

export interface SafetensorsTensorInput {
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
  /**
   * Raw little-endian element bytes, row-major contiguous; or a function producing them when the
   * writer reaches this tensor, so that only one tensor's bytes are in JS memory at a time.
   */
  readonly bytes: Uint8Array | (() => Uint8Array);
}

/**
 * Writes a safetensors file with tensors laid out in the given order.
 *
 * The file is written to a temporary name (temp-files.ts), fsynced and renamed over `path`,
 * so readers never observe a half-written file. Tensor data is streamed one
 * tensor at a time; the inputs are never concatenated.
 */
export function writeSafetensors(
  path: string,
  tensors: readonly SafetensorsTensorInput[],
  metadata?: ReadonlyMap<string, string> | Readonly<Record<string, string>>,
): void {
  const header = encodeHeader(path, tensors, metadata);
  const tmpPath = tempPathFor(path);
  const fd = fs.openSync(tmpPath, 'w');
  let closed = false;
  let renamed = false;
  try {
    const prefix = Buffer.alloc(8);
    prefix.writeBigUInt64LE(BigInt(header.length), 0);
    let position = 0;
    position += writeAll(fd, prefix, position);
    position += writeAll(fd, header, position);
    for (const t of tensors) {
      const bytes = typeof t.bytes === 'function' ? t.bytes() : t.bytes;
      const expected = t.shape.reduce((acc, d) => acc * d, 1) * DTYPE_BYTE_SIZE[t.dtype];
      if (bytes.byteLength !== expected) {
        throw new Error(
          `${path}: cannot write tensor '${t.name}': ${bytes.byteLength} bytes given but ${t.dtype} [${t.shape.join(', ')}] needs ${expected}`,
        );
      }
      position += writeAll(fd, bytes, position);
    }
    // fsync before rename: otherwise a crash can leave a renamed but empty file.
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    closed = true;
    fs.renameSync(tmpPath, path);
    renamed = true;
  } finally {
    if (!closed) {
      try {
        fs.closeSync(fd);
      } catch {
        // keep the original error
      }
    }
    if (!renamed) fs.rmSync(tmpPath, { force: true });
  }
}

/**
 * Builds the JSON header by hand rather than via JSON.stringify(object): an
 * object would reorder integer-like tensor names ("0", "1") and we promise the
 * caller's order. Padded with spaces so the data section starts 8-byte aligned.
 */
function encodeHeader(
  path: string,
  tensors: readonly SafetensorsTensorInput[],
  metadata: ReadonlyMap<string, string> | Readonly<Record<string, string>> | undefined,
): Buffer {
  const parts: string[] = [];
  const metaEntries = metadata === undefined ? [] : metadata instanceof Map ? [...metadata] : Object.entries(metadata);
  if (metaEntries.length > 0) {
    const fields = metaEntries.map(([k, v]) => {
      if (typeof v !== 'string') throw new Error(`${path}: metadata value for ${JSON.stringify(k)} must be a string`);
      return `${JSON.stringify(k)}:${JSON.stringify(v)}`;
    });
    parts.push(`${JSON.stringify(METADATA_KEY)}:{${fields.join(',')}}`);
  }

  const seen = new Set<string>();
  let offset = 0;
  for (const t of tensors) {
    const where = `${path}: cannot write tensor '${t.name}'`;
    if (t.name === METADATA_KEY) throw new Error(`${where}: the name is reserved`);
    if (!isDType(t.dtype)) throw new Error(`${where}: unknown dtype '${String(t.dtype)}'`);
    if (seen.has(t.name)) throw new Error(`${where}: duplicate tensor name`);
    seen.add(t.name);
    if (!t.shape.every(isNonNegativeSafeInt)) throw new Error(`${where}: shape must be non-negative integers`);
    const expected = t.shape.reduce((acc, d) => acc * d, 1) * DTYPE_BYTE_SIZE[t.dtype];
    if (typeof t.bytes !== 'function' && t.bytes.byteLength !== expected) {
      throw new Error(
        `${where}: ${t.bytes.byteLength} bytes given but ${t.dtype} [${t.shape.join(', ')}] needs ${expected}`,
      );
    }
    const info = `{"dtype":"${dtypeToSafetensors(t.dtype)}","shape":[${t.shape.join(',')}],"data_offsets":[${offset},${offset + expected}]}`;
    parts.push(`${JSON.stringify(t.name)}:${info}`);
    offset += expected;
  }

  const json = Buffer.from(`{${parts.join(',')}}`, 'utf8');
  const padded = Math.ceil(json.length / 8) * 8;
  const out = Buffer.alloc(padded, 0x20);
  json.copy(out);
  return out;
}

// ---------------------------------------------------------------------------
// Small positional-I/O helpers (kept private; each format module owns its reads).

/** fs.writeSync may write less than asked (e.g. >2 GiB buffers on Linux), so loop. */
function writeAll(fd: number, bytes: Uint8Array, position: number): number {
  let done = 0;
  while (done < bytes.byteLength) {
    done += fs.writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
  }
  return bytes.byteLength;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegativeSafeInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}
