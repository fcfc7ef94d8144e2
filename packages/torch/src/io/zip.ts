/**
 * Minimal zip reader: central directory (including ZIP64) plus local-header
 * lookup to find where each entry's bytes start.
 *
 * torch.save archives can exceed 4 GB and their tensor records are stored
 * uncompressed, so this module only ever preads small structures; callers
 * read (or mmap) entry data themselves using `dataOffset`. Small entries
 * (e.g. data.pkl) can be fetched whole with {@link readZipEntry}.
 *
 * Reference: PKWARE APPNOTE.TXT, sections 4.3.7 (local header), 4.3.12
 * (central header), 4.3.14–4.3.16 (ZIP64 end records), 4.5.3 (ZIP64 extra).
 */

import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { openForRead, readExact } from './positional-read.js';

export const ZIP_METHOD_STORED = 0;
export const ZIP_METHOD_DEFLATE = 8;

export interface ZipEntry {
  readonly name: string;
  /** 0 = stored, 8 = deflate; anything else is reported, not decoded. */
  readonly method: number;
  readonly compressedSize: number;
  /** Uncompressed size. */
  readonly size: number;
  readonly crc32: number;
  /** General-purpose bit flags (bit 0 = encrypted). */
  readonly flags: number;
  readonly localHeaderOffset: number;
  /** Absolute file offset of the entry's (possibly compressed) bytes. */
  readonly dataOffset: number;
}

export interface ZipDirectory {
  readonly path: string;
  readonly fileSize: number;
  /** In central-directory order. */
  readonly entries: readonly ZipEntry[];
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const EOCD_SIZE = 22;
const ZIP64_LOCATOR_SIZE = 20;
const ZIP64_EOCD_MIN_SIZE = 56;
const CENTRAL_HEADER_SIZE = 46;
const LOCAL_HEADER_SIZE = 30;
const MAX_COMMENT = 0xffff;
const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
const ZIP64_EXTRA_ID = 0x0001;
/** A central directory is metadata; anything this large is corruption, not a checkpoint. */
const MAX_CENTRAL_DIRECTORY_BYTES = 256 * 1024 * 1024;

/** Reads the central directory and resolves every entry's data offset. */
export function readZipDirectory(path: string): ZipDirectory {
  const fd = openForRead(path, 'zip archive');
  try {
    const fileSize = fs.fstatSync(fd).size;
    const eocd = findEndOfCentralDirectory(fd, path, fileSize);
    const cdBytes = readExact(fd, eocd.cdSize, eocd.cdOffset, path, 'central directory');
    const entries = parseCentralDirectory(path, cdBytes, eocd.entryCount);
    const resolved = entries.map((e) => resolveDataOffset(fd, path, fileSize, e));
    return { path, fileSize, entries: resolved };
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Returns an entry's uncompressed bytes (stored or deflate), CRC-checked.
 * Meant for small records such as data.pkl; `maxBytes` guards against a
 * corrupted size field making us allocate gigabytes.
 */
export function readZipEntry(dir: ZipDirectory, entry: ZipEntry, maxBytes = 1 << 30): Uint8Array {
  const where = `${dir.path}: zip entry '${entry.name}'`;
  if (entry.flags & 1) throw new Error(`${where} is encrypted`);
  if (entry.size > maxBytes || entry.compressedSize > maxBytes) {
    throw new Error(`${where} is ${entry.size} bytes, over the ${maxBytes}-byte limit for whole-entry reads`);
  }
  const fd = openForRead(dir.path, 'zip archive');
  let raw: Uint8Array;
  try {
    raw = readExact(fd, entry.compressedSize, entry.dataOffset, dir.path, `zip entry '${entry.name}'`);
  } finally {
    fs.closeSync(fd);
  }

  let data: Uint8Array;
  if (entry.method === ZIP_METHOD_STORED) {
    data = raw;
  } else if (entry.method === ZIP_METHOD_DEFLATE) {
    try {
      data = zlib.inflateRawSync(raw, { maxOutputLength: Math.max(entry.size, 1) });
    } catch (err) {
      throw new Error(`${where}: cannot inflate: ${(err as Error).message}`);
    }
  } else {
    throw new Error(`${where} uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`);
  }
  if (data.byteLength !== entry.size) {
    throw new Error(`${where}: expected ${entry.size} bytes after decompression, got ${data.byteLength}`);
  }
  const crc = zlib.crc32(data) >>> 0;
  if (crc !== entry.crc32) {
    throw new Error(
      `${where}: CRC mismatch (stored 0x${entry.crc32.toString(16)}, computed 0x${crc.toString(16)}); file corrupted`,
    );
  }
  return data;
}

interface EndOfCentralDirectory {
  entryCount: number;
  cdSize: number;
  cdOffset: number;
}

function findEndOfCentralDirectory(fd: number, path: string, fileSize: number): EndOfCentralDirectory {
  if (fileSize < EOCD_SIZE) {
    throw new Error(`${path}: not a zip archive: only ${fileSize} bytes (truncated?)`);
  }
  // The EOCD record sits at the very end, followed only by a variable-length
  // comment, so scan backwards through the last 64 KiB + 22 bytes.
  const tailLength = Math.min(fileSize, EOCD_SIZE + MAX_COMMENT);
  const tailStart = fileSize - tailLength;
  const tail = Buffer.from(readExact(fd, tailLength, tailStart, path, 'zip trailer'));
  let pos = -1;
  for (let i = tailLength - EOCD_SIZE; i >= 0; i--) {
    // Require the comment length to reach exactly to EOF so that a stray
    // signature inside compressed data or the comment is not mistaken for it.
    if (tail.readUInt32LE(i) === SIG_EOCD && i + EOCD_SIZE + tail.readUInt16LE(i + 20) === tailLength) {
      pos = i;
      break;
    }
  }
  if (pos < 0) {
    throw new Error(`${path}: not a zip archive or truncated: end-of-central-directory record not found`);
  }
  const eocdOffset = tailStart + pos;
  const disk = tail.readUInt16LE(pos + 4);
  const cdDisk = tail.readUInt16LE(pos + 6);
  let entryCount = tail.readUInt16LE(pos + 10);
  let cdSize = tail.readUInt32LE(pos + 12);
  let cdOffset = tail.readUInt32LE(pos + 16);
  let cdEnd = eocdOffset;

  const hasLocator =
    eocdOffset >= ZIP64_LOCATOR_SIZE && readU32At(fd, path, eocdOffset - ZIP64_LOCATOR_SIZE) === SIG_ZIP64_LOCATOR;
  if (hasLocator) {
    const locator = Buffer.from(
      readExact(fd, ZIP64_LOCATOR_SIZE, eocdOffset - ZIP64_LOCATOR_SIZE, path, 'ZIP64 locator'),
    );
    const z64Offset = u64(locator, 8, path, 'ZIP64 end record offset');
    if (z64Offset + ZIP64_EOCD_MIN_SIZE > eocdOffset - ZIP64_LOCATOR_SIZE) {
      throw new Error(`${path}: corrupted zip: ZIP64 end record offset ${z64Offset} is out of range`);
    }
    const z64 = Buffer.from(readExact(fd, ZIP64_EOCD_MIN_SIZE, z64Offset, path, 'ZIP64 end record'));
    if (z64.readUInt32LE(0) !== SIG_ZIP64_EOCD) {
      throw new Error(`${path}: corrupted zip: bad ZIP64 end-of-central-directory signature at offset ${z64Offset}`);
    }
    if (z64.readUInt32LE(16) !== 0 || z64.readUInt32LE(20) !== 0) {
      throw new Error(`${path}: multi-disk zip archives are not supported`);
    }
    entryCount = u64(z64, 32, path, 'ZIP64 entry count');
    cdSize = u64(z64, 40, path, 'ZIP64 central directory size');
    cdOffset = u64(z64, 48, path, 'ZIP64 central directory offset');
    cdEnd = z64Offset;
  } else {
    if (disk !== 0 || cdDisk !== 0) throw new Error(`${path}: multi-disk zip archives are not supported`);
    if (entryCount === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
      throw new Error(`${path}: corrupted zip: ZIP64 sizes signalled but no ZIP64 locator found`);
    }
  }

  if (cdOffset + cdSize > cdEnd) {
    throw new Error(
      `${path}: truncated or corrupted zip: central directory [${cdOffset}, ${cdOffset + cdSize}) ` +
        `overruns its end record at ${cdEnd}`,
    );
  }
  if (cdSize > MAX_CENTRAL_DIRECTORY_BYTES) {
    throw new Error(`${path}: corrupted zip: central directory claims ${cdSize} bytes`);
  }
  return { entryCount, cdSize, cdOffset };
}

type CentralEntry = Omit<ZipEntry, 'dataOffset'>;

function parseCentralDirectory(path: string, bytes: Uint8Array, entryCount: number): CentralEntry[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const entries: CentralEntry[] = [];
  let p = 0;
  for (let i = 0; i < entryCount; i++) {
    if (p + CENTRAL_HEADER_SIZE > buf.length || buf.readUInt32LE(p) !== SIG_CENTRAL) {
      throw new Error(`${path}: corrupted zip: central directory entry ${i} of ${entryCount} is missing or malformed`);
    }
    const flags = buf.readUInt16LE(p + 8);
    const method = buf.readUInt16LE(p + 10);
    const crc32 = buf.readUInt32LE(p + 16);
    let compressedSize = buf.readUInt32LE(p + 20);
    let size = buf.readUInt32LE(p + 24);
    const nameLength = buf.readUInt16LE(p + 28);
    const extraLength = buf.readUInt16LE(p + 30);
    const commentLength = buf.readUInt16LE(p + 32);
    const diskStart = buf.readUInt16LE(p + 34);
    let localHeaderOffset = buf.readUInt32LE(p + 42);
    const nameStart = p + CENTRAL_HEADER_SIZE;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > buf.length)
      throw new Error(`${path}: corrupted zip: central directory entry ${i} overruns the directory`);
    // Bit 11 means UTF-8; torch writes ASCII names, so decoding everything as UTF-8 is fine in practice.
    const name = buf.toString('utf8', nameStart, extraStart);

    // ZIP64 extra field: holds, in this fixed order, only the fields whose
    // 32-bit slot is saturated (APPNOTE 4.5.3).
    if (size === U32_MAX || compressedSize === U32_MAX || localHeaderOffset === U32_MAX || diskStart === U16_MAX) {
      const z = findExtraField(buf, extraStart, extraStart + extraLength, ZIP64_EXTRA_ID);
      if (z === undefined) throw new Error(`${path}: corrupted zip: entry '${name}' lacks its ZIP64 extra field`);
      let q = z.start;
      const take = (what: string): number => {
        if (q + 8 > z.end) throw new Error(`${path}: corrupted zip: entry '${name}' ZIP64 extra field is too short`);
        const v = u64(buf, q, path, `${what} of '${name}'`);
        q += 8;
        return v;
      };
      if (size === U32_MAX) size = take('size');
      if (compressedSize === U32_MAX) compressedSize = take('compressed size');
      if (localHeaderOffset === U32_MAX) localHeaderOffset = take('local header offset');
    } else if (diskStart !== 0) {
      throw new Error(`${path}: multi-disk zip archives are not supported (entry '${name}')`);
    }

    entries.push({ name, method, compressedSize, size, crc32, flags, localHeaderOffset });
    p = next;
  }
  return entries;
}

/**
 * The local header repeats name and extra field with possibly different
 * lengths (torch pads the local extra field to align tensor data to 64
 * bytes), so the data offset can only be known by reading it.
 */
function resolveDataOffset(fd: number, path: string, fileSize: number, e: CentralEntry): ZipEntry {
  if (e.localHeaderOffset + LOCAL_HEADER_SIZE > fileSize) {
    throw new Error(
      `${path}: truncated zip: local header of '${e.name}' at ${e.localHeaderOffset} is past end of file`,
    );
  }
  const header = Buffer.from(
    readExact(fd, LOCAL_HEADER_SIZE, e.localHeaderOffset, path, `local header of '${e.name}'`),
  );
  if (header.readUInt32LE(0) !== SIG_LOCAL) {
    throw new Error(
      `${path}: corrupted zip: bad local header signature for '${e.name}' at offset ${e.localHeaderOffset}`,
    );
  }
  const nameLength = header.readUInt16LE(26);
  const extraLength = header.readUInt16LE(28);
  const dataOffset = e.localHeaderOffset + LOCAL_HEADER_SIZE + nameLength + extraLength;
  if (dataOffset + e.compressedSize > fileSize) {
    throw new Error(
      `${path}: truncated zip: entry '${e.name}' data [${dataOffset}, ${dataOffset + e.compressedSize}) ` +
        `runs past the end of the ${fileSize}-byte file`,
    );
  }
  return Object.freeze({ ...e, dataOffset });
}

function findExtraField(
  buf: Buffer,
  start: number,
  end: number,
  id: number,
): { start: number; end: number } | undefined {
  let p = start;
  while (p + 4 <= end) {
    const headerId = buf.readUInt16LE(p);
    const length = buf.readUInt16LE(p + 2);
    if (p + 4 + length > end) return undefined;
    if (headerId === id) return { start: p + 4, end: p + 4 + length };
    p += 4 + length;
  }
  return undefined;
}

function u64(buf: Buffer, offset: number, path: string, what: string): number {
  const v = buf.readBigUInt64LE(offset);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${path}: corrupted zip: ${what} ${v} is out of range`);
  return Number(v);
}

function readU32At(fd: number, path: string, position: number): number {
  return Buffer.from(readExact(fd, 4, position, path, 'zip signature')).readUInt32LE(0);
}
