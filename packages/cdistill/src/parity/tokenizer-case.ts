// A tokenizer case file (`*tokenizer*cases*.json`: {"cases": [{"text", "ids"}]}): every case must
// match exactly. Reported as one check (the fraction of cases that differ) plus the first mismatches.
import { z } from 'zod';

import { ClipTokenizer } from '../models/clip/tokenizer.js';
import { readJsonWith } from '../util/json.js';
import type { ParityCheck } from './checks.js';

const CasesSchema = z.object({ cases: z.array(z.object({ text: z.string(), ids: z.array(z.number().int()) })) });

export function runTokenizerCase(path: string, vocabPath: string): { checks: ParityCheck[]; mismatches: string[] } {
  const raw = readJsonWith(CasesSchema, path, 'tokenizer cases');
  const tok = ClipTokenizer.fromFile(vocabPath);
  const mismatches: string[] = [];
  raw.cases.forEach((c, i) => {
    const ours = tok.tokenize([c.text], c.ids.length)[0]!;
    const same = ours.length === c.ids.length && ours.every((v, k) => v === c.ids[k]);
    if (!same) mismatches.push(`cases[${i}] ${JSON.stringify(c.text.slice(0, 60))}`);
  });
  const frac = mismatches.length / Math.max(1, raw.cases.length);
  const name = `${path.split('/').pop()} (${raw.cases.length} cases, exact ids)`;
  return { checks: [{ check: name, relErr: frac, tol: 0, pass: mismatches.length === 0 }], mismatches };
}
