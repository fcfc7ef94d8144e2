// The byte reader under the unpickler: bounds-checked little-endian integers, lengths, lines and UTF-8,
// each failing (through the VM's `fail`, which names the opcode and offset) instead of reading past the end.
const UTF8 = new TextDecoder('utf-8', { fatal: true });

export class PickleBytes {
  pos = 0;
  private readonly view: DataView;

  constructor(
    private readonly data: Uint8Array,
    private readonly fail: (message: string) => never,
  ) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  need(n: number): void {
    if (this.pos + n > this.data.byteLength) {
      this.fail(
        `truncated pickle: needs ${n} more bytes at offset ${this.pos} but only ${this.data.byteLength - this.pos} remain`,
      );
    }
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  u8(): number {
    this.need(1);
    return this.data[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.pos, true);
    this.pos += 2;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(): number {
    this.need(8);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    // Anything beyond the remaining input fails in take(); clamp to keep it a number.
    return v > BigInt(this.data.byteLength) ? this.data.byteLength + 1 : Number(v);
  }

  f64be(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, false); // BINFLOAT is big-endian
    this.pos += 8;
    return v;
  }

  length(n: number): number {
    if (n < 0) this.fail('negative length');
    return n;
  }

  take(n: number): Uint8Array {
    this.need(n);
    const out = this.data.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  line(): string {
    const end = this.data.indexOf(0x0a, this.pos);
    if (end < 0) this.fail('truncated pickle: unterminated GLOBAL name');
    const text = this.utf8(this.data.subarray(this.pos, end));
    this.pos = end + 1;
    return text;
  }

  utf8(bytes: Uint8Array): string {
    try {
      return UTF8.decode(bytes);
    } catch {
      return this.fail('string is not valid UTF-8');
    }
  }
}
