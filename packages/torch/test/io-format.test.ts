/**
 * Tests for the pure-TypeScript tensor file-format layer: safetensors,
 * zip (incl. ZIP64), the allow-listed unpickler and torch.save archives.
 *
 * Reference files come from <repoRoot>/reference. Everything else
 * (malicious pickles, strided views, ZIP64 archives past 4 GiB, corrupted
 * files) is built here, byte by byte, so no Python is needed to run this.
 */

import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as zlib from 'node:zlib';

import {
  type DType,
  DTYPE_BYTE_SIZE,
  DTYPES,
  dtypeFromSafetensors,
  dtypeToSafetensors,
} from '../src/io/dtype-names.js';
import {
  type TensorRef,
  contiguousByteRange,
  flattenStateDict,
  isTensorRef,
  readTorchCheckpoint,
} from '../src/io/pt-format.js';
import { type SafetensorsHeader, readSafetensorsHeader, writeSafetensors } from '../src/io/safetensors-format.js';
import { PickleGlobal, UnpicklingError, isPickledTensor, unpickle } from '../src/io/unpickler.js';
import { readZipDirectory, readZipEntry } from '../src/io/zip.js';
import { referenceDir } from './util.js';

const microditDir = path.join(referenceDir, 'microdit/golden');
const teacherSafetensors = path.join(microditDir, 'microdit_small.teacher.safetensors');
const clipDir = path.join(referenceDir, 'clip');

let tmp = '';
before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'io-format-'));
});
after(() => {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------
// Helpers

function readRange(file: string, offset: number, length: number): Buffer {
  const buf = Buffer.alloc(length);
  const fd = fs.openSync(file, 'r');
  try {
    let done = 0;
    while (done < length) {
      const n = fs.readSync(fd, buf, done, length - done, offset + done);
      assert.ok(n > 0, `short read in ${file}`);
      done += n;
    }
  } finally {
    fs.closeSync(fd);
  }
  return buf;
}

function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Materialises a (possibly strided) TensorRef into row-major contiguous bytes, the way a loader would. */
function gatherBytes(t: TensorRef): Buffer {
  const range = contiguousByteRange(t);
  if (range) return readRange(t.storage.path, range.fileOffset, range.byteLength);
  const item = DTYPE_BYTE_SIZE[t.dtype];
  const storage = readRange(t.storage.path, t.storage.fileOffset, t.storage.byteLength);
  const numel = numelOf(t.shape);
  const out = Buffer.alloc(numel * item);
  const index = t.shape.map(() => 0);
  for (let n = 0; n < numel; n++) {
    let element = t.storageOffset;
    for (let d = 0; d < index.length; d++) element += index[d]! * t.strides[d]!;
    storage.copy(out, n * item, element * item, (element + 1) * item);
    for (let d = index.length - 1; d >= 0; d--) {
      if (++index[d]! < t.shape[d]!) break;
      index[d] = 0;
    }
  }
  return out;
}

function entryBytes(file: string, header: SafetensorsHeader, name: string): Buffer {
  const e = header.entries.find((x) => x.name === name);
  assert.ok(e, `${name} missing from ${file}`);
  return readRange(file, e.start, e.end - e.start);
}

function copyTruncated(src: string, name: string, keepBytes: number): string {
  const dst = path.join(tmp, name);
  fs.copyFileSync(src, dst);
  fs.chmodSync(dst, 0o644); // reference files are read-only
  fs.truncateSync(dst, keepBytes);
  return dst;
}

/** Writes a safetensors file from a raw header object (for malformed-header tests). */
function writeRawSafetensors(name: string, header: unknown, data: Uint8Array): string {
  const json = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const file = path.join(tmp, name);
  fs.writeFileSync(file, Buffer.concat([prefix, json, data]));
  return file;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function decodeFloats(bytes: Buffer, dtype: DType): number[] {
  const out: number[] = [];
  const item = DTYPE_BYTE_SIZE[dtype];
  for (let i = 0; i < bytes.length; i += item) {
    if (dtype === 'float32') out.push(bytes.readFloatLE(i));
    else if (dtype === 'float16') out.push(halfToFloat(bytes.readUInt16LE(i)));
    else if (dtype === 'bfloat16')
      out.push(new Float32Array(new Uint32Array([bytes.readUInt16LE(i) << 16]).buffer)[0]!);
    else throw new Error(`decodeFloats: ${dtype}`);
  }
  return out;
}

/** Emits pickle opcodes; enough to hand-write what torch.save produces (and worse). */
class PickleBuilder {
  private readonly out: number[] = [];
  op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  raw(bytes: Uint8Array): this {
    for (const b of bytes) this.out.push(b);
    return this;
  }
  proto(n: number): this {
    return this.op(0x80, n);
  }
  global(module: string, name: string): this {
    return this.op(0x63).raw(Buffer.from(`${module}\n${name}\n`));
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(b.length);
    return this.op(0x58).raw(len).raw(b);
  }
  int(n: number): this {
    if (n >= 0 && n < 0x100) return this.op(0x4b, n);
    if (n >= 0 && n < 0x10000) return this.op(0x4d, n & 0xff, n >> 8);
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    return this.op(0x4a).raw(b);
  }
  /** LONG1 for values outside int32. */
  long(n: bigint): this {
    const bytes: number[] = [];
    let v = n;
    for (let i = 0; i < 8; i++) {
      bytes.push(Number(v & 0xffn));
      v >>= 8n;
    }
    return this.op(0x8a, 8, ...bytes);
  }
  mark = (): this => this.op(0x28);
  tuple = (): this => this.op(0x74);
  tuple1 = (): this => this.op(0x85);
  emptyTuple = (): this => this.op(0x29);
  emptyDict = (): this => this.op(0x7d);
  emptyList = (): this => this.op(0x5d);
  setitems = (): this => this.op(0x75);
  append = (): this => this.op(0x61);
  reduce = (): this => this.op(0x52);
  build = (): this => this.op(0x62);
  newobj = (): this => this.op(0x81);
  binpersid = (): this => this.op(0x51);
  newTrue = (): this => this.op(0x88);
  newFalse = (): this => this.op(0x89);
  stop = (): this => this.op(0x2e);
  intTuple(ns: readonly number[]): this {
    this.mark();
    for (const n of ns) this.int(n);
    return this.tuple();
  }
  orderedDict(): this {
    return this.global('collections', 'OrderedDict').emptyTuple().reduce();
  }
  /** What torch.save emits for one tensor: _rebuild_tensor_v2(persistent storage, offset, size, stride, False, OrderedDict()). */
  tensor(t: { key: string; storage: string; numel: number; offset: number; size: number[]; stride: number[] }): this {
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    this.mark().str('storage').global('torch', t.storage).str(t.key).str('cpu').int(t.numel).tuple().binpersid();
    this.int(t.offset).intTuple(t.size).intTuple(t.stride).newFalse().orderedDict();
    return this.tuple().reduce();
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

interface ZipInput {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
}

/**
 * A small zip writer shaped like torch's: local extra fields pad data to 64
 * bytes. With `zip64` every size/offset goes through ZIP64 records; `gapBefore`
 * leaves a sparse hole before the named entry to push offsets past 4 GiB.
 */
function writeZip(
  file: string,
  inputs: ZipInput[],
  opts: { zip64?: boolean; gapBefore?: { name: string; bytes: number } } = {},
): void {
  const fd = fs.openSync(file, 'w');
  const central: Buffer[] = [];
  let pos = 0;
  const put = (b: Buffer): void => {
    fs.writeSync(fd, b, 0, b.length, pos);
    pos += b.length;
  };
  try {
    for (const input of inputs) {
      if (opts.gapBefore?.name === input.name) pos += opts.gapBefore.bytes;
      const name = Buffer.from(input.name);
      const payload = input.deflate ? zlib.deflateRawSync(input.data) : Buffer.from(input.data);
      const crc = zlib.crc32(input.data) >>> 0;
      const method = input.deflate ? 8 : 0;
      const lho = pos;

      const z64Local = Buffer.alloc(opts.zip64 ? 20 : 0);
      if (opts.zip64) {
        z64Local.writeUInt16LE(1, 0);
        z64Local.writeUInt16LE(16, 2);
        z64Local.writeBigUInt64LE(BigInt(input.data.length), 4);
        z64Local.writeBigUInt64LE(BigInt(payload.length), 12);
      }
      // 'FB' padding extra, as torch uses, so data starts on a 64-byte boundary.
      const unpadded = lho + 30 + name.length + z64Local.length + 4;
      const padLen = (64 - (unpadded % 64)) % 64;
      const pad = Buffer.alloc(4 + padLen, 0x5a);
      pad.writeUInt16LE(0x4246, 0);
      pad.writeUInt16LE(padLen, 2);
      const extra = Buffer.concat([z64Local, pad]);

      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
      local.writeUInt16LE(method, 8);
      local.writeUInt32LE(crc, 14);
      local.writeUInt32LE(opts.zip64 ? 0xffffffff : payload.length, 18);
      local.writeUInt32LE(opts.zip64 ? 0xffffffff : input.data.length, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(extra.length, 28);
      put(Buffer.concat([local, name, extra]));
      put(payload);

      const z64Central = Buffer.alloc(opts.zip64 ? 28 : 0);
      if (opts.zip64) {
        z64Central.writeUInt16LE(1, 0);
        z64Central.writeUInt16LE(24, 2);
        z64Central.writeBigUInt64LE(BigInt(input.data.length), 4);
        z64Central.writeBigUInt64LE(BigInt(payload.length), 12);
        z64Central.writeBigUInt64LE(BigInt(lho), 20);
      }
      const c = Buffer.alloc(46);
      c.writeUInt32LE(0x02014b50, 0);
      c.writeUInt16LE(45, 4);
      c.writeUInt16LE(opts.zip64 ? 45 : 20, 6);
      c.writeUInt16LE(method, 10);
      c.writeUInt32LE(crc, 16);
      c.writeUInt32LE(opts.zip64 ? 0xffffffff : payload.length, 20);
      c.writeUInt32LE(opts.zip64 ? 0xffffffff : input.data.length, 24);
      c.writeUInt16LE(name.length, 28);
      c.writeUInt16LE(z64Central.length, 30);
      c.writeUInt32LE(opts.zip64 ? 0xffffffff : lho, 42);
      central.push(Buffer.concat([c, name, z64Central]));
    }

    const cdOffset = pos;
    const cd = Buffer.concat(central);
    put(cd);
    if (opts.zip64) {
      const z64Offset = pos;
      const rec = Buffer.alloc(56);
      rec.writeUInt32LE(0x06064b50, 0);
      rec.writeBigUInt64LE(44n, 4);
      rec.writeUInt16LE(45, 12);
      rec.writeUInt16LE(45, 14);
      rec.writeBigUInt64LE(BigInt(inputs.length), 24);
      rec.writeBigUInt64LE(BigInt(inputs.length), 32);
      rec.writeBigUInt64LE(BigInt(cd.length), 40);
      rec.writeBigUInt64LE(BigInt(cdOffset), 48);
      const locator = Buffer.alloc(20);
      locator.writeUInt32LE(0x07064b50, 0);
      locator.writeBigUInt64LE(BigInt(z64Offset), 8);
      locator.writeUInt32LE(1, 16);
      put(Buffer.concat([rec, locator]));
    }
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(opts.zip64 ? 0xffff : inputs.length, 8);
    eocd.writeUInt16LE(opts.zip64 ? 0xffff : inputs.length, 10);
    eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cd.length, 12);
    eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cdOffset, 16);
    put(eocd);
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------
// A hand-built checkpoint with the layouts the reference files lack:
// shared storages, transposed/offset/strided views, a Parameter, a nested
// state_dict with BUILD(_metadata), mixed dtypes.

const STORAGE0 = Buffer.from(new Float32Array(Array.from({ length: 12 }, (_, i) => i)).buffer); // 3×4 base
const STORAGE1 = Buffer.from(new BigInt64Array([10n, -20n, 1n << 40n]).buffer);
const STORAGE2 = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]); // four float16 values

function viewsPickle(): Uint8Array {
  const p = new PickleBuilder().proto(2).emptyDict().mark();
  p.str('state_dict').orderedDict().mark();
  p.str('base').tensor({ key: '0', storage: 'FloatStorage', numel: 12, offset: 0, size: [3, 4], stride: [4, 1] });
  p.str('transposed').tensor({ key: '0', storage: 'FloatStorage', numel: 12, offset: 0, size: [4, 3], stride: [1, 4] });
  p.str('slice').tensor({ key: '0', storage: 'FloatStorage', numel: 12, offset: 5, size: [2], stride: [1] });
  p.str('column').tensor({ key: '0', storage: 'FloatStorage', numel: 12, offset: 1, size: [3], stride: [4] });
  p.str('ids').global('torch._utils', '_rebuild_parameter').mark();
  p.tensor({ key: '1', storage: 'LongStorage', numel: 3, offset: 0, size: [3], stride: [1] })
    .newTrue()
    .orderedDict();
  p.tuple().reduce();
  p.str('half').tensor({ key: '2', storage: 'HalfStorage', numel: 4, offset: 2, size: [2], stride: [1] });
  p.setitems();
  // state_dict() carries `_metadata` as an attribute → BUILD on the OrderedDict.
  p.emptyDict().mark().str('_metadata').orderedDict().mark().str('').emptyDict().mark().str('version').int(1);
  p.setitems().setitems().setitems().build();
  p.str('epoch').int(7);
  return p.setitems().stop().bytes();
}

function viewsZipInputs(pickle: Uint8Array, deflatePickle = false): ZipInput[] {
  return [
    { name: 'views/data.pkl', data: pickle, deflate: deflatePickle },
    { name: 'views/data/0', data: STORAGE0 },
    { name: 'views/data/1', data: STORAGE1 },
    { name: 'views/data/2', data: STORAGE2 },
    { name: 'views/version', data: Buffer.from('3\n') },
  ];
}

function checkViewsCheckpoint(file: string): void {
  const ckpt = readTorchCheckpoint(file);
  assert.equal(ckpt.prefix, 'views');
  assert.ok(ckpt.value instanceof Map);
  assert.equal(ckpt.value.get('epoch'), 7);
  const sd = flattenStateDict(ckpt.value, file);
  assert.deepEqual([...sd.keys()], ['base', 'transposed', 'slice', 'column', 'ids', 'half']);

  const floats = (name: string): number[] => [...new Float32Array(new Uint8Array(gatherBytes(sd.get(name)!)).buffer)];
  const base = sd.get('base')!;
  const transposed = sd.get('transposed')!;
  // Views of one storage must share one StorageRef so a loader reads it once.
  assert.equal(transposed.storage, base.storage);
  assert.equal(sd.get('slice')!.storage, base.storage);
  assert.equal(ckpt.storages.size, 3);
  assert.deepEqual(contiguousByteRange(base), { fileOffset: base.storage.fileOffset, byteLength: 48 });
  assert.equal(contiguousByteRange(transposed), undefined);
  assert.deepEqual(floats('base'), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(floats('transposed'), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  assert.deepEqual(floats('slice'), [5, 6]);
  assert.deepEqual(contiguousByteRange(sd.get('slice')!), { fileOffset: base.storage.fileOffset + 20, byteLength: 8 });
  assert.deepEqual(floats('column'), [1, 5, 9]);

  const ids = sd.get('ids')!;
  assert.equal(ids.dtype, 'int64');
  assert.equal(ids.isParameter, true);
  assert.equal(ids.requiresGrad, true);
  assert.deepEqual([...new BigInt64Array(new Uint8Array(gatherBytes(ids)).buffer)], [10n, -20n, 1n << 40n]);

  const half = sd.get('half')!;
  assert.equal(half.dtype, 'float16');
  assert.equal(half.storageOffset, 2); // elements, not bytes
  assert.deepEqual([...gatherBytes(half)], [5, 6, 7, 8]);
}

// ---------------------------------------------------------------------------

describe('dtype names', () => {
  test('round-trip through safetensors codes and byte sizes', () => {
    for (const d of DTYPES) assert.equal(dtypeFromSafetensors(dtypeToSafetensors(d)), d);
    assert.equal(dtypeFromSafetensors('F8_E4M3'), undefined);
    assert.equal(dtypeFromSafetensors('__proto__'), undefined);
    assert.equal(DTYPE_BYTE_SIZE.bfloat16, 2);
    assert.equal(DTYPE_BYTE_SIZE.bool, 1);
    assert.equal(DTYPE_BYTE_SIZE.int64, 8);
  });
});

describe('safetensors header', () => {
  test('parses the microdit teacher header', () => {
    const h = readSafetensorsHeader(teacherSafetensors);
    assert.equal(h.entries.length, 114);
    assert.equal(h.metadata.size, 0);
    assert.equal(h.dataStart % 8, 0);
    assert.equal(h.dataStart, 8 + h.headerByteLength);
    const pos = h.entries.find((e) => e.name === 'pos_embed');
    assert.deepEqual(pos, {
      name: 'pos_embed',
      dtype: 'float32',
      shape: [1, 16, 64],
      start: h.dataStart,
      end: h.dataStart + 4096,
    });
    let cursor = h.dataStart;
    for (const e of h.entries) {
      assert.equal(e.start, cursor, `${e.name} is not contiguous with its predecessor`);
      assert.equal(e.end - e.start, numelOf(e.shape) * DTYPE_BYTE_SIZE[e.dtype]);
      cursor = e.end;
    }
    assert.equal(cursor, h.fileSize);
  });

  test('truncated data section names the file and the cut tensor', () => {
    const last = readSafetensorsHeader(teacherSafetensors).entries.at(-1)!;
    const file = copyTruncated(teacherSafetensors, 'cut-data.safetensors', last.start + 3);
    assert.throws(
      () => readSafetensorsHeader(file),
      (err: Error) => {
        assert.ok(err.message.includes(file), err.message);
        assert.match(err.message, /truncated/);
        assert.ok(err.message.includes(`'${last.name}'`), err.message);
        return true;
      },
    );
  });

  test('truncated header and tiny files give clear errors', () => {
    const inHeader = copyTruncated(teacherSafetensors, 'cut-header.safetensors', 100);
    assert.throws(
      () => readSafetensorsHeader(inHeader),
      (err: Error) => err.message.includes(inHeader) && /header length \d+ runs past the end/.test(err.message),
    );
    const tiny = copyTruncated(teacherSafetensors, 'tiny.safetensors', 5);
    assert.throws(
      () => readSafetensorsHeader(tiny),
      (err: Error) => err.message.includes(tiny) && /only 5 bytes/.test(err.message),
    );
  });

  test('corrupted header JSON names the file', () => {
    const file = copyTruncated(teacherSafetensors, 'corrupt.safetensors', fs.statSync(teacherSafetensors).size);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('#!garbage'), 0, 9, 12);
    fs.closeSync(fd);
    assert.throws(
      () => readSafetensorsHeader(file),
      (err: Error) => err.message.includes(file) && /corrupted safetensors header: invalid JSON/.test(err.message),
    );

    const bogusLength = copyTruncated(
      teacherSafetensors,
      'bogus-len.safetensors',
      fs.statSync(teacherSafetensors).size,
    );
    const fd2 = fs.openSync(bogusLength, 'r+');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(1n << 60n);
    fs.writeSync(fd2, len, 0, 8, 0);
    fs.closeSync(fd2);
    assert.throws(
      () => readSafetensorsHeader(bogusLength),
      (err: Error) => err.message.includes(bogusLength) && /exceeds/.test(err.message),
    );
  });
});

describe('safetensors validation', () => {
  test('unknown dtype names the tensor, dtype and file', () => {
    const file = writeRawSafetensors(
      'f8.safetensors',
      { w: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } },
      new Uint8Array(2),
    );
    assert.throws(
      () => readSafetensorsHeader(file),
      (err: Error) =>
        err.message.includes(file) && err.message.includes("tensor 'w'") && err.message.includes("'F8_E4M3'"),
    );
  });

  test('byte count, overlap, holes, shapes and metadata are checked', () => {
    const cases: [string, unknown, number, RegExp][] = [
      ['count', { a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, 4, /tensor 'a'.*needs 8 bytes/],
      [
        'overlap',
        {
          a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] },
          b: { dtype: 'U8', shape: [4], data_offsets: [2, 6] },
        },
        6,
        /tensor 'b'.*overlap/,
      ],
      ['hole', { a: { dtype: 'U8', shape: [2], data_offsets: [2, 4] } }, 4, /unused bytes before tensor 'a'/],
      ['trailing', { a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, 5, /3 bytes after the last tensor/],
      ['shape', { a: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }, 0, /tensor 'a'.*shape/],
      ['shape-float', { a: { dtype: 'U8', shape: [1.5], data_offsets: [0, 0] } }, 0, /tensor 'a'.*shape/],
      ['offsets', { a: { dtype: 'U8', shape: [1], data_offsets: [1] } }, 1, /tensor 'a'.*data_offsets/],
      ['metadata', { __metadata__: { n: 1 } }, 0, /__metadata__\["n"\] must be a string/],
      ['array', [1, 2], 0, /expected a JSON object/],
    ];
    for (const [name, header, dataBytes, pattern] of cases) {
      const file = writeRawSafetensors(`${name}.safetensors`, header, new Uint8Array(dataBytes));
      assert.throws(
        () => readSafetensorsHeader(file),
        (err: Error) => {
          assert.ok(err.message.includes(file), err.message);
          assert.match(err.message, pattern);
          return true;
        },
        name,
      );
    }
  });

  test('offsets beyond 4 GiB are exact (sparse file)', () => {
    const big = 2 ** 32 + 1234;
    const header = {
      big: { dtype: 'U8', shape: [big], data_offsets: [0, big] },
      tail: { dtype: 'F32', shape: [2], data_offsets: [big, big + 8] },
    };
    const file = writeRawSafetensors('sparse.safetensors', header, new Uint8Array(0));
    const dataStart = fs.statSync(file).size;
    const tail = Buffer.from(new Float32Array([1.25, -3.5]).buffer);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, tail, 0, tail.length, dataStart + big); // leaves a hole: no 4 GiB written
    fs.closeSync(fd);
    try {
      const h = readSafetensorsHeader(file);
      const e = h.entries.find((x) => x.name === 'tail')!;
      assert.equal(e.start, dataStart + big);
      assert.ok(e.start > 2 ** 32);
      assert.deepEqual(readRange(file, e.start, 8), tail);
    } finally {
      fs.rmSync(file);
    }
  });
});

describe('safetensors writer', () => {
  test('round trip with several dtypes, names and metadata', () => {
    const file = path.join(tmp, 'roundtrip.safetensors');
    const tensors = [
      {
        name: 'w',
        dtype: 'float32' as const,
        shape: [2, 3],
        bytes: new Uint8Array(new Float32Array([1, 2, 3, 4, 5, 6]).buffer),
      },
      { name: '10', dtype: 'float16' as const, shape: [3], bytes: Uint8Array.from([0, 0x3c, 0, 0x40, 0, 0xc0]) },
      { name: '2', dtype: 'bfloat16' as const, shape: [1, 1], bytes: Uint8Array.from([0x80, 0x3f]) },
      {
        name: 'ids',
        dtype: 'int64' as const,
        shape: [2],
        bytes: new Uint8Array(new BigInt64Array([-1n, 1n << 50n]).buffer),
      },
      { name: 'mask', dtype: 'bool' as const, shape: [5], bytes: Uint8Array.from([1, 0, 1, 1, 0]) },
      { name: 'scalar', dtype: 'uint8' as const, shape: [], bytes: Uint8Array.from([200]) },
      { name: 'empty', dtype: 'int8' as const, shape: [0, 3], bytes: new Uint8Array(0) },
      {
        name: 'é/ü "quoted"',
        dtype: 'float64' as const,
        shape: [1],
        bytes: new Uint8Array(new Float64Array([Math.PI]).buffer),
      },
    ];
    writeSafetensors(file, tensors, { format: 'pt', note: 'héllo' });
    assert.deepEqual(
      fs.readdirSync(tmp).filter((f) => f.includes('.tmp-')),
      [],
      'temporary file left behind',
    );

    const h = readSafetensorsHeader(file);
    assert.equal(h.dataStart % 8, 0);
    assert.deepEqual(Object.fromEntries(h.metadata), { format: 'pt', note: 'héllo' });
    // Caller order is preserved even for integer-like names that JS objects would reorder;
    // the zero-byte tensor sorts before the tensor that shares its offset.
    const order = h.entries.map((e) => e.name);
    assert.deepEqual(
      order.filter((n) => n !== 'empty'),
      tensors.map((t) => t.name).filter((n) => n !== 'empty'),
    );
    for (const t of tensors) {
      const e = h.entries.find((x) => x.name === t.name)!;
      assert.equal(e.dtype, t.dtype);
      assert.deepEqual(e.shape, t.shape);
      assert.deepEqual(new Uint8Array(readRange(file, e.start, e.end - e.start)), t.bytes);
    }

    // Overwrite atomically with different content.
    writeSafetensors(file, [tensors[0]!]);
    assert.deepEqual(
      readSafetensorsHeader(file).entries.map((e) => e.name),
      ['w'],
    );
  });

  test('rejects inconsistent input without leaving files behind', () => {
    const file = path.join(tmp, 'bad-write.safetensors');
    assert.throws(
      () => writeSafetensors(file, [{ name: 'x', dtype: 'float32', shape: [3], bytes: new Uint8Array(8) }]),
      /cannot write tensor 'x'.*8 bytes given but float32 \[3\] needs 12/,
    );
    assert.throws(
      () =>
        writeSafetensors(file, [
          { name: 'x', dtype: 'uint8', shape: [1], bytes: new Uint8Array(1) },
          { name: 'x', dtype: 'uint8', shape: [1], bytes: new Uint8Array(1) },
        ]),
      /duplicate/,
    );
    assert.throws(
      () => writeSafetensors(file, [{ name: '__metadata__', dtype: 'uint8', shape: [0], bytes: new Uint8Array(0) }]),
      /reserved/,
    );
    assert.equal(fs.existsSync(file), false);
    assert.deepEqual(
      fs.readdirSync(tmp).filter((f) => f.startsWith('bad-write')),
      [],
    );
  });
});

describe('unpickler', () => {
  // Generated with CPython 3 `pickle.dumps(obj, protocol=p).hex()` for
  //   i = [0, 255, 65535, -1, 2**31-1, -2**31, 2**40, -2**63, 2**64]
  //   obj = {'s': 'héllo', 'i': i, 'f': [1.5, -0.0, inf], 'n': None, 't': True, 'fa': False, 'tup': (),
  //          't3': (1,2,3), 'b': b'\x00\x01', 'set': {3}, 'od': OrderedDict([('z',1),('a',2)]), 'shared': (i,)}
  const PY_PROTOCOL_2 =
    '80027d7100285801000000737101580600000068c3a96c6c6f710258010000006971035d7104284b004bff4dffff4affffff' +
    'ff4affffff7f4a000000808a060000000000018a0800000000000000808a090000000000000000016558010000006671055d' +
    '710628473ff8000000000000478000000000000000477ff00000000000006558010000006e71074e58010000007471088858' +
    '0200000066617109895803000000747570710a2958020000007433710b4b014b024b0387710c580100000062710d635f636f' +
    '646563730a656e636f64650a710e58020000000001710f58060000006c6174696e3171108671115271125803000000736574' +
    '7113635f5f6275696c74696e5f5f0a7365740a71145d71154b036185711652711758020000006f64711863636f6c6c656374' +
    '696f6e730a4f726465726564446963740a71192952711a2858010000007a711b4b01580100000061711c4b02755806000000' +
    '736861726564711d680485711e752e';
  const PY_PROTOCOL_4 =
    '800495ea000000000000007d94288c0173948c0668c3a96c6c6f948c0169945d94284b004bff4dffff4affffffff4affffff' +
    '7f4a000000808a060000000000018a0800000000000000808a09000000000000000001658c0166945d9428473ff800000000' +
    '0000478000000000000000477ff0000000000000658c016e944e8c017494888c02666194898c0374757094298c027433944b' +
    '014b024b0387948c01629443020001948c03736574948f94284b03908c026f64948c0b636f6c6c656374696f6e73948c0b4f' +
    '72646572656444696374949394295294288c017a944b018c0161944b02758c067368617265649468048594752e';

  for (const [protocol, hex] of [
    ['2', PY_PROTOCOL_2],
    ['4', PY_PROTOCOL_4],
  ] as const) {
    test(`decodes CPython protocol ${protocol} output`, () => {
      const v = unpickle(Buffer.from(hex, 'hex'), { source: `py${protocol}` });
      assert.ok(v instanceof Map);
      assert.equal(v.get('s'), 'héllo');
      const ints = v.get('i') as unknown[];
      assert.deepEqual(ints, [0, 255, 65535, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2n ** 63n), 2n ** 64n]);
      assert.deepEqual(v.get('f'), [1.5, -0, Infinity]);
      assert.ok(Object.is((v.get('f') as number[])[1], -0));
      assert.equal(v.get('n'), null);
      assert.equal(v.get('t'), true);
      assert.equal(v.get('fa'), false);
      assert.deepEqual(v.get('tup'), []);
      assert.deepEqual(v.get('t3'), [1, 2, 3]);
      assert.ok(Object.isFrozen(v.get('t3')), 'tuples are frozen arrays');
      assert.deepEqual(v.get('b'), Uint8Array.from([0, 1]));
      assert.deepEqual(v.get('set'), new Set([3]));
      assert.deepEqual(
        [...(v.get('od') as Map<string, number>)],
        [
          ['z', 1],
          ['a', 2],
        ],
      );
      // The memo preserves object identity.
      assert.equal((v.get('shared') as unknown[])[0], ints);
    });
  }

  test('refuses a malicious GLOBAL before anything could run', () => {
    const marker = path.join(tmp, 'pwned');
    const evil = new PickleBuilder()
      .proto(2)
      .global('posix', 'system')
      .str(`touch ${marker}`)
      .tuple1()
      .reduce()
      .stop()
      .bytes();
    assert.throws(
      () => unpickle(evil, { source: 'evil.pkl' }),
      (err: Error) => {
        assert.ok(err instanceof UnpicklingError);
        assert.equal(
          err.message,
          "evil.pkl: unsafe pickle: global 'posix.system' is not allowed (opcode GLOBAL at byte 2)",
        );
        return true;
      },
    );
    assert.equal(fs.existsSync(marker), false);
  });

  test('refuses disallowed globals via STACK_GLOBAL and Python-2 module aliases', () => {
    const stackGlobal = new PickleBuilder()
      .proto(4)
      .op(0x8c, 2)
      .raw(Buffer.from('os'))
      .op(0x8c, 6)
      .raw(Buffer.from('system'));
    stackGlobal.op(0x93).str('id').tuple1().reduce().stop();
    assert.throws(
      () => unpickle(stackGlobal.bytes(), { source: 's' }),
      /global 'os\.system' is not allowed \(opcode STACK_GLOBAL/,
    );
    const eval2 = new PickleBuilder().proto(2).global('__builtin__', 'eval').str('1').tuple1().reduce().stop();
    assert.throws(() => unpickle(eval2.bytes(), { source: 's' }), /global 'builtins\.eval' is not allowed/);
    const getattr = new PickleBuilder().proto(2).global('builtins', 'getattr').stop();
    assert.throws(() => unpickle(getattr.bytes(), { source: 's' }), /global 'builtins\.getattr' is not allowed/);
  });

  test('refuses operations that would call methods on arbitrary objects', () => {
    const cases: [string, PickleBuilder, RegExp][] = [
      [
        'append to tuple',
        new PickleBuilder().proto(2).emptyTuple().int(1).append().stop(),
        /not a list \(opcode APPEND/,
      ],
      [
        'setitems on list',
        new PickleBuilder().proto(2).emptyList().mark().int(1).int(2).setitems().stop(),
        /not a dict \(opcode SETITEMS/,
      ],
      [
        'build on list',
        new PickleBuilder().proto(2).emptyList().emptyDict().build().stop(),
        /BUILD on a list is not allowed/,
      ],
      [
        'reduce non-callable',
        new PickleBuilder().proto(2).global('torch', 'FloatStorage').emptyTuple().reduce().stop(),
        /is not callable/,
      ],
      [
        'newobj',
        new PickleBuilder().proto(2).global('torch._utils', '_rebuild_tensor_v2').emptyTuple().newobj().stop(),
        /instantiating 'torch\._utils\._rebuild_tensor_v2' is not allowed/,
      ],
      ['inst', new PickleBuilder().proto(2).op(0x69).raw(Buffer.from('os\nsystem\n')).stop(), /opcode INST/],
      ['persid without loader', new PickleBuilder().proto(2).str('x').binpersid().stop(), /no persistent_load/],
      ['truncated', new PickleBuilder().proto(2).op(0x58, 10, 0, 0, 0).raw(Buffer.from('abc')), /truncated pickle/],
      ['no stop', new PickleBuilder().proto(2).emptyDict(), /truncated pickle/],
      ['memo miss', new PickleBuilder().proto(2).op(0x68, 9).stop(), /memo key 9/],
      [
        'complex storage',
        new PickleBuilder().proto(2).global('torch', 'ComplexFloatStorage').stop(),
        /unsupported storage type 'torch\.ComplexFloatStorage'/,
      ],
      ['protocol 6', new PickleBuilder().proto(6).stop(), /unsupported pickle protocol 6/],
    ];
    for (const [name, builder, pattern] of cases) {
      assert.throws(
        () => unpickle(builder.bytes(), { source: 'case.pkl' }),
        (err: Error) => {
          assert.ok(err instanceof UnpicklingError, name);
          assert.ok(err.message.startsWith('case.pkl: '), err.message);
          assert.match(err.message, pattern, name);
          return true;
        },
      );
    }
  });

  test('rebuilds tensors through persistent_load and checks their extent', () => {
    const storage = { dtype: 'float32' as DType, numel: 6 };
    const load = (pid: unknown): typeof storage => {
      assert.deepEqual((pid as unknown[]).slice(2), ['0', 'cuda:0', 6]);
      return storage;
    };
    const ok = new PickleBuilder().proto(2);
    ok.global('torch._utils', '_rebuild_tensor_v2').mark();
    ok.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cuda:0').int(6).tuple().binpersid();
    ok.int(1).intTuple([2, 2]).intTuple([3, 1]).newFalse().orderedDict().tuple().reduce().stop();
    const t = unpickle(ok.bytes(), { source: 'x', persistentLoad: load }) as { shape: number[]; storage: unknown };
    assert.deepEqual(t.shape, [2, 2]);
    assert.equal(t.storage, storage);

    const tooFar = new PickleBuilder().proto(2);
    tooFar.global('torch._utils', '_rebuild_tensor_v2').mark();
    tooFar.mark().str('storage').global('torch', 'FloatStorage').str('0').str('cuda:0').int(6).tuple().binpersid();
    tooFar.int(3).intTuple([2, 2]).intTuple([3, 1]).newFalse().orderedDict().tuple().reduce().stop();
    assert.throws(
      () => unpickle(tooFar.bytes(), { source: 'x', persistentLoad: load }),
      /reaches element 7 but the storage holds 6 float32 elements/,
    );
  });

  test('torch>=2 forms: _rebuild_from_type_v2 wrappers and _rebuild_tensor_v3 over untyped storage', () => {
    const storage = { dtype: 'uint8' as DType, numel: 8 };
    const load = (): typeof storage => storage;
    // Tensor with Python attributes: _rebuild_from_type_v2(_rebuild_tensor_v2, Tensor, args, {'foo': 'bar'}).
    const wrapped = new PickleBuilder().proto(2).global('torch._tensor', '_rebuild_from_type_v2').mark();
    wrapped.global('torch._utils', '_rebuild_tensor_v2').global('torch._tensor', 'Tensor').mark();
    wrapped.mark().str('storage').global('torch', 'ByteStorage').str('0').str('cpu').int(8).tuple().binpersid();
    wrapped.int(0).intTuple([8]).intTuple([1]).newFalse().orderedDict().tuple();
    wrapped.emptyDict().str('foo').str('bar').op(0x73).tuple().reduce().stop();
    const t = unpickle(wrapped.bytes(), { source: 'x', persistentLoad: load });
    assert.ok(isPickledTensor(t));
    assert.equal(t.dtype, 'uint8');
    assert.deepEqual(t.shape, [8]);

    // v3 carries the dtype explicitly; storage offsets stay in elements of that dtype.
    const v3 = new PickleBuilder().proto(2).global('torch._utils', '_rebuild_tensor_v3').mark();
    v3.mark().str('storage').global('torch.storage', 'UntypedStorage').str('0').str('cpu').int(8).tuple().binpersid();
    v3.int(1).intTuple([3]).intTuple([1]).newFalse().orderedDict().global('torch', 'float16').tuple().reduce().stop();
    const h = unpickle(v3.bytes(), { source: 'x', persistentLoad: load });
    assert.ok(isPickledTensor(h));
    assert.equal(h.dtype, 'float16');
    assert.equal(h.storageOffset, 1);

    const unsupported = new PickleBuilder().proto(2).global('torch', 'uint16').stop();
    assert.throws(() => unpickle(unsupported.bytes(), { source: 'x' }), /unsupported dtype 'torch\.uint16'/);
    const subclass = new PickleBuilder().proto(2).global('torch._tensor', '_rebuild_from_type_v2').mark();
    subclass.global('torch._utils', '_rebuild_tensor_v2').global('my_lib', 'FancyTensor');
    assert.throws(() => unpickle(subclass.bytes(), { source: 'x' }), /global 'my_lib\.FancyTensor' is not allowed/);
  });

  test('LONG1 shapes and PickleGlobal values', () => {
    const v = unpickle(
      new PickleBuilder()
        .proto(2)
        .mark()
        .long(-5n)
        .long(1n << 60n)
        .global('collections', 'OrderedDict')
        .tuple()
        .stop()
        .bytes(),
      { source: 'x' },
    ) as unknown[];
    assert.equal(v[0], -5);
    assert.equal(v[1], 1n << 60n);
    assert.ok(v[2] instanceof PickleGlobal);
  });
});

describe('zip', () => {
  test('reads a ZIP64 archive whose records start beyond 4 GiB (sparse file)', () => {
    const file = path.join(tmp, 'zip64-sparse.pt');
    const gap = 2 ** 32 + 4096;
    writeZip(file, viewsZipInputs(viewsPickle(), true), {
      zip64: true,
      gapBefore: { name: 'views/data/1', bytes: gap },
    });
    try {
      const dir = readZipDirectory(file);
      const byName = new Map(dir.entries.map((e) => [e.name, e]));
      const s1 = byName.get('views/data/1')!;
      assert.ok(s1.localHeaderOffset > 2 ** 32);
      assert.equal(s1.dataOffset % 64, 0, 'torch-style padding honoured');
      assert.deepEqual(readRange(file, s1.dataOffset, s1.size), STORAGE1);
      assert.equal(byName.get('views/data.pkl')!.method, 8);
      assert.ok(Buffer.from(readZipEntry(dir, byName.get('views/data.pkl')!)).equals(viewsPickle()));
      checkViewsCheckpoint(file);
    } finally {
      fs.rmSync(file);
    }
  });

  test('detects a corrupted entry by CRC', () => {
    const file = path.join(tmp, 'crc.zip');
    writeZip(file, [{ name: 'a/data.pkl', data: Buffer.from('hello world') }]);
    const dir = readZipDirectory(file);
    const fd = fs.openSync(file, 'r+');
    fs.writeSync(fd, Buffer.from('J'), 0, 1, dir.entries[0]!.dataOffset);
    fs.closeSync(fd);
    assert.throws(
      () => readZipEntry(dir, dir.entries[0]!),
      (err: Error) => err.message.includes(file) && /CRC mismatch/.test(err.message),
    );
  });
});

describe('torch.save checkpoints', () => {
  const pairs = [
    ['microdit_small.teacher.f32.pt', teacherSafetensors, 'float32'],
    ['microdit_small.teacher.bf16.pt', teacherSafetensors, 'bfloat16'],
    ['microdit_small.teacher.f16.pt', teacherSafetensors, 'float16'],
  ].map(([pt, st, dtype]) => [path.join(microditDir, pt!), st!, dtype as DType] as const);
  const clipPair = [
    path.join(clipDir, 'clip_text_tiny.pt'),
    path.join(clipDir, 'clip_text_tiny.safetensors'),
    'float32',
  ] as const;
  // The FID Inception case: the legacy format (torch < 1.6, `_use_new_zipfile_serialization=False`,
  // as pytorch-fid publishes pt_inception) and the zip format, float32 weights and int64 counters.
  const inceptionDir = path.join(referenceDir, 'inception');
  const inceptionPairs = ['.pth', '.pt'].map(
    (ext) =>
      [
        path.join(inceptionDir, `fid_inception_tiny${ext}`),
        path.join(inceptionDir, 'fid_inception_tiny.safetensors'),
        'float32',
      ] as const,
  );

  for (const [ptFile, stFile, dtype] of [...pairs, clipPair, ...inceptionPairs]) {
    test(`${path.basename(ptFile)} matches ${path.basename(stFile)}`, () => {
      const ckpt = readTorchCheckpoint(ptFile);
      const sd = flattenStateDict(ckpt.value, ptFile);
      const header = readSafetensorsHeader(stFile);
      assert.deepEqual([...sd.keys()].sort(), header.entries.map((e) => e.name).sort());
      for (const e of header.entries) {
        const t = sd.get(e.name)!;
        assert.ok(isTensorRef(t));
        // Integer tensors (BatchNorm's counters) keep their type in every copy.
        assert.equal(t.dtype, e.dtype === 'int64' ? 'int64' : dtype, e.name);
        assert.deepEqual(t.shape, e.shape, e.name);
        assert.equal(t.storage.path, ptFile);
        assert.ok(t.storage.fileOffset + t.storage.byteLength <= fs.statSync(ptFile).size);
        const ours = gatherBytes(t);
        const reference = entryBytes(stFile, header, e.name);
        if (dtype === 'float32' || e.dtype === 'int64') {
          assert.ok(ours.equals(reference), `bytes differ for ${e.name}`);
        } else {
          // Reduced-precision copies of the same weights: equal up to rounding.
          const eps = dtype === 'bfloat16' ? 2 ** -8 : 2 ** -10;
          const a = decodeFloats(ours, dtype);
          const b = decodeFloats(reference, 'float32');
          for (let i = 0; i < a.length; i++) {
            assert.ok(Math.abs(a[i]! - b[i]!) <= eps * Math.abs(b[i]!) + 1e-7, `${e.name}[${i}]: ${a[i]} vs ${b[i]}`);
          }
        }
      }
    });
  }

  test('truncated .pt files name the file', () => {
    for (const src of [pairs[0]![0], inceptionPairs[0]![0]]) {
      const size = fs.statSync(src).size;
      for (const keep of [Math.floor(size / 2), size - 10, 0]) {
        const file = copyTruncated(src, `cut-${keep}${path.extname(src)}`, keep);
        assert.throws(
          () => readTorchCheckpoint(file),
          (err: Error) => {
            assert.ok(err.message.includes(file), err.message);
            assert.match(err.message, /truncated|not a zip/);
            return true;
          },
        );
      }
    }
  });
});

describe('torch.save checkpoints (hand-built)', () => {
  test('strided, offset and shared-storage views, Parameter, nested state_dict', () => {
    const file = path.join(tmp, 'views.pt');
    writeZip(file, viewsZipInputs(viewsPickle()));
    checkViewsCheckpoint(file);
  });

  test('a malicious data.pkl names the global and the file', () => {
    const marker = path.join(tmp, 'pwned-pt');
    const evil = new PickleBuilder().proto(2).emptyDict().mark().str('w');
    evil.global('posix', 'system').str(`touch ${marker}`).tuple1().reduce().setitems().stop();
    const file = path.join(tmp, 'evil.pt');
    writeZip(file, [{ name: 'evil/data.pkl', data: evil.bytes() }]);
    assert.throws(
      () => readTorchCheckpoint(file),
      (err: Error) => {
        assert.ok(err.message.includes(file), err.message);
        assert.match(err.message, /unsafe pickle: global 'posix\.system' is not allowed/);
        return true;
      },
    );
    assert.equal(fs.existsSync(marker), false);
  });

  test('compressed tensor records, missing records and legacy files are refused clearly', () => {
    const compressed = path.join(tmp, 'compressed.pt');
    const inputs = viewsZipInputs(viewsPickle());
    inputs[1] = { ...inputs[1]!, deflate: true };
    writeZip(compressed, inputs);
    assert.throws(
      () => readTorchCheckpoint(compressed),
      (err: Error) =>
        err.message.includes(compressed) &&
        /tensor record 'views\/data\/0' is compressed \(zip method 8\)/.test(err.message),
    );

    const missing = path.join(tmp, 'missing.pt');
    writeZip(
      missing,
      viewsZipInputs(viewsPickle()).filter((e) => e.name !== 'views/data/2'),
    );
    assert.throws(
      () => readTorchCheckpoint(missing),
      (err: Error) => err.message.includes(missing) && /storage '2'.*no 'views\/data\/2' record/.test(err.message),
    );

    const shortRecord = path.join(tmp, 'short.pt');
    writeZip(
      shortRecord,
      viewsZipInputs(viewsPickle()).map((e) =>
        e.name === 'views/data/0' ? { ...e, data: STORAGE0.subarray(0, 40) } : e,
      ),
    );
    assert.throws(() => readTorchCheckpoint(shortRecord), /'views\/data\/0' has 40 bytes but storage needs 48/);

    const bigEndian = path.join(tmp, 'big-endian.pt');
    writeZip(bigEndian, [...viewsZipInputs(viewsPickle()), { name: 'views/byteorder', data: Buffer.from('big') }]);
    assert.throws(() => readTorchCheckpoint(bigEndian), /byte order is 'big'/);

    // A bare pickle is read as the legacy format, whose first pickle must be torch's magic number.
    const legacy = path.join(tmp, 'legacy.pt');
    fs.writeFileSync(legacy, viewsPickle());
    assert.throws(
      () => readTorchCheckpoint(legacy),
      new Error(`${legacy}: not a torch.save file (its first pickle is not torch's magic number)`),
    );

    const notPt = path.join(tmp, 'not-pt.zip');
    writeZip(notPt, [{ name: 'readme.txt', data: Buffer.from('hi') }]);
    assert.throws(() => readTorchCheckpoint(notPt), /not a torch\.save archive/);
  });

  test('flattenStateDict picks the tensor dict or explains why not', () => {
    const file = path.join(tmp, 'views-flat.pt');
    writeZip(file, viewsZipInputs(viewsPickle()));
    const inner = (readTorchCheckpoint(file).value as Map<string, unknown>).get('state_dict') as Map<string, unknown>;
    assert.equal(flattenStateDict(inner).size, 6);
    assert.equal(
      flattenStateDict(
        new Map<string, unknown>([
          ['model', inner],
          ['step', 3],
        ]),
      ).size,
      6,
    );
    assert.equal(
      flattenStateDict(
        new Map<string, unknown>([
          ['ema', inner],
          ['state_dict', inner],
        ]),
      ).get('base'),
      inner.get('base'),
    );
    assert.throws(
      () =>
        flattenStateDict(
          new Map([
            ['a', inner],
            ['b', inner],
          ]),
          'ck.pt',
        ),
      /ck\.pt: several tensor dicts found \('a', 'b'\)/,
    );
    assert.throws(
      () => flattenStateDict(new Map([['epoch', 1]]), 'ck.pt'),
      /ck\.pt: no state dict .* top-level keys: epoch/,
    );
  });
});
