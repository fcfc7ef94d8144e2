// PartiPrompts-style TSV: a header row, then tab-separated rows with exactly as many fields.
//
// Quotes are data, not syntax. PartiPrompts.tsv never quotes a field, but its prompts contain
// quotes, and one starts with one ('"G I G G L E" painted in ...', line 1562): an RFC 4180 / Python
// csv reader would eat those quotes and change the prompt, so fields are taken verbatim (only the
// line ending is removed). Whitespace is kept too; the tokenizer's whitespace_clean handles it.
import { readFileSync } from 'node:fs';

export interface TsvColumn {
  /** The column's values in file order, the first `n` if `n` was given. */
  values: string[];
  /** Data rows in the file (header and blank lines excluded); the whole file is always validated. */
  rows: number;
}

export function readTsvColumn(path: string, column = 'Prompt', opts: { n?: number } = {}): TsvColumn {
  const { n } = opts;
  if (n !== undefined && (!Number.isSafeInteger(n) || n < 0))
    throw new RangeError(`${path}: n must be a non-negative integer, got ${n}`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(readFileSync(path)); // a BOM is dropped
  } catch (e) {
    if (e instanceof TypeError) throw new Error(`${path}: not valid UTF-8`);
    throw e;
  }
  const lines = text.split('\n');
  const header = (lines[0] ?? '').replace(/\r$/, '').split('\t');
  const col = header.indexOf(column);
  if (col < 0) throw new Error(`${path}: no '${column}' column (columns: ${header.join(', ')})`);

  const values: string[] = [];
  let rows = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (line === '') continue; // the final newline, or stray blank lines
    const fields = line.split('\t');
    const where = `${path}:${i + 1}`;
    if (fields.length !== header.length)
      throw new Error(`${where}: expected ${header.length} fields, got ${fields.length}`);
    const value = fields[col]!; // every row has header.length fields (checked above)
    if (value.trim() === '') throw new Error(`${where}: empty ${column}`);
    rows++;
    if (n === undefined || values.length < n) values.push(value);
  }
  return { values, rows };
}
