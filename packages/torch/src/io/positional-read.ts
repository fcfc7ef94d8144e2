// Positional reads for the file-format readers: checkpoints are read at offsets, never whole (files
// may exceed 4 GB), and a short read is a truncated file, reported with what was being read.
import * as fs from 'node:fs';

/** Opens a regular file (a FIFO or device would block or never end: they are refused before opening). */
export function openForRead(path: string, what: string): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot open ${what}: ${(err as Error).message}`);
  }
  if (!st.isFile())
    throw new Error(
      `${path}: cannot open ${what}: not a regular file (${st.isDirectory() ? 'a folder' : st.isFIFO() ? 'a FIFO' : 'a device or socket'})`,
    );
  try {
    return fs.openSync(path, 'r');
  } catch (err) {
    throw new Error(`${path}: cannot open ${what}: ${(err as Error).message}`);
  }
}

export function readExact(fd: number, length: number, position: number, path: string, what: string): Uint8Array {
  const buf = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = fs.readSync(fd, buf, done, length - done, position + done);
    if (n === 0) {
      throw new Error(`${path}: truncated file: wanted ${length} bytes of ${what} at offset ${position}, got ${done}`);
    }
    done += n;
  }
  return buf;
}
