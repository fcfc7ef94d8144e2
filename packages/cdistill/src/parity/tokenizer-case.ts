// A tokenizer case file (`*tokenizer*cases*.json`: {"cases": [{"text", "ids"}]}): every case must
// match exactly. Reported as one check (the fraction of cases that differ) plus the first mismatches.
import { readFileSync } from 'node:fs';

import { ClipTokenizer } from '../models/clip/tokenizer.js';
import type { ParityCheck } from './checks.js';

interface Case {
  text: string;
  ids: number[];
}

export function runTokenizerCase(path: string, vocabPath: string): { checks: ParityCheck[]; mismatches: string[] } {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as { cases?: unknown };
  if (!Array.isArray(raw.cases)) throw new Error(`${path}: expected {"cases": [{"text", "ids"}, ...]}`);
  const tok = ClipTokenizer.fromFile(vocabPath);
  const mismatches: string[] = [];
  raw.cases.forEach((c: Case, i: number) => {
    if (typeof c?.text !== 'string' || !Array.isArray(c.ids))
      throw new Error(`${path}: cases[${i}] needs "text" and "ids"`);
    const ours = tok.tokenize([c.text], c.ids.length)[0]!;
    const same = ours.length === c.ids.length && ours.every((v, k) => v === c.ids[k]);
    if (!same) mismatches.push(`cases[${i}] ${JSON.stringify(c.text.slice(0, 60))}`);
  });
  const frac = mismatches.length / Math.max(1, raw.cases.length);
  const name = `${path.split('/').pop()} (${raw.cases.length} cases, exact ids)`;
  return { checks: [{ check: name, relErr: frac, tol: 0, pass: mismatches.length === 0 }], mismatches };
}
