// A small streaming tar reader for JourneyDB's annotation tarballs (.tgz holding .jsonl files): only
// ustar/GNU/pax headers and the wanted entries' bytes are needed, which is ~100 lines instead of an npm
// dependency; nothing is extracted to disk.

/**
 * Every regular-file entry that `want` accepts, in archive order, each with its content as a stream of
 * chunks (consume one entry's body before asking for the next). Reads ustar and GNU headers, GNU long
 * names ('L') and pax 'path'/'size' records; everything else is skipped. No wanted entry is an error
 * that lists the files there are.
 */
export async function* tarFiles(
  chunks: AsyncIterable<Buffer>,
  path: string,
  want: (name: string) => boolean,
): AsyncGenerator<{ name: string; body: AsyncIterable<Buffer> }> {
  const it = chunks[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  let offset = 0; // archive offset of buf[0], for error messages
  const more = async (): Promise<boolean> => {
    const r = await it.next();
    if (r.done) return false;
    buf = buf.length > 0 ? Buffer.concat([buf, r.value]) : r.value;
    return true;
  };
  const fill = async (n: number): Promise<boolean> => {
    while (buf.length < n) if (!(await more())) return false;
    return true;
  };
  const truncated = (): Error => new Error(`${path}: tar archive truncated at byte ${offset + buf.length}`);
  const take = async (n: number): Promise<Buffer> => {
    if (!(await fill(n))) throw truncated();
    const out = buf.subarray(0, n);
    buf = buf.subarray(n);
    offset += n;
    return out;
  };
  async function* body(size: number): AsyncGenerator<Buffer> {
    // size bytes, then the padding to 512
    for (let left = size; left > 0; ) {
      if (!(await fill(1))) throw truncated();
      const piece = await take(Math.min(left, buf.length));
      left -= piece.length;
      yield piece;
    }
    await take((512 - (size % 512)) % 512);
  }
  const all = async (size: number): Promise<Buffer> => {
    const parts: Buffer[] = [];
    for await (const p of body(size)) parts.push(p);
    return Buffer.concat(parts);
  };
  const cstr = (b: Buffer): string => b.subarray(0, b.indexOf(0) < 0 ? b.length : b.indexOf(0)).toString('utf8');

  const files: string[] = [];
  let wanted = 0;
  let longName: string | undefined; // GNU 'L' and pax 'path' name the entry that follows them
  let pax: Record<string, string> = {};
  for (;;) {
    if (!(await fill(512))) {
      if (buf.length > 0) throw truncated();
      break; // EOF without the end-of-archive blocks: tolerated, as GNU tar does
    }
    const h = await take(512);
    if (h.every((b) => b === 0)) break; // end-of-archive marker
    let sum = 8 * 0x20; // the checksum field itself counts as spaces
    for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += h[i]!;
    if (sum !== parseInt(cstr(h.subarray(148, 156)).trim(), 8))
      throw new Error(`${path}: not a tar archive (bad header checksum at byte ${offset - 512})`);

    const type = String.fromCharCode(h[156]!);
    const ownSize = parseSize(h.subarray(124, 136));
    if (type === 'L') longName = cstr(await all(ownSize));
    else if (type === 'x') pax = parsePax(await all(ownSize));
    else if (type === 'K' || type === 'g') await all(ownSize); // long link target, global pax: not needed
    if ('LxKg'.includes(type)) continue;

    const size = pax.size !== undefined ? Number(pax.size) : ownSize;
    const prefix = h.subarray(257, 262).toString('latin1') === 'ustar' ? cstr(h.subarray(345, 500)) : '';
    const name = pax.path ?? longName ?? (prefix ? `${prefix}/${cstr(h.subarray(0, 100))}` : cstr(h.subarray(0, 100)));
    longName = undefined;
    pax = {};
    const regular = type === '0' || type === '\0' || type === '7';
    if (regular && want(name)) {
      wanted += 1;
      const content = body(size);
      yield { name, body: content };
      for await (const _ of content); // whatever the consumer left unread
      continue;
    }
    if (regular) files.push(name);
    // Links, directories, devices and fifos carry no data whatever their size field says; other
    // types (contiguous, GNU dumpdir, vendor extensions) do and are skipped by size.
    for await (const _ of body('123456'.includes(type) ? 0 : size));
  }
  if (wanted > 0) return;
  const listed = files.length > 10 ? `${files.slice(0, 10).join(', ')}, ...` : files.join(', ') || 'none';
  throw new Error(`${path}: no .jsonl file in the tar archive (files: ${listed})`);
}

/** Octal, NUL/space terminated; GNU base-256 (high bit set) for entries of 8 GiB and more. */
function parseSize(field: Buffer): number {
  if (field[0]! & 0x80) {
    let v = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) v = v * 256 + field[i]!;
    return v;
  }
  const text = field
    .toString('latin1')
    .replace(/[\0 ]+$/, '')
    .trim();
  return text === '' ? 0 : parseInt(text, 8);
}

/** pax extended header: records "<len> <key>=<value>\n". */
function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < data.length; ) {
    const sp = data.indexOf(0x20, i);
    const len = parseInt(data.subarray(i, sp).toString('latin1'), 10);
    if (sp < 0 || !(len > 0)) break;
    const rec = data.subarray(sp + 1, i + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    out[rec.slice(0, eq)] = rec.slice(eq + 1);
    i += len;
  }
  return out;
}
