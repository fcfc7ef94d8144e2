// `cdistill parity <folder>`: runs every golden case found under the folder (float32 and, where the
// case supports it, float64), one line per check with its relative error, then `N passed, M failed`.
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

import { BUNDLED_VOCAB, VOCAB_NAME } from '../assets.js';
import type { ParityCheck } from '../parity/checks.js';
import { runClipTextParityCase } from '../parity/clip-case.js';
import { runClipModelParityCase } from '../parity/clip-model-case.js';
import { discoverCases, type ParityCase } from '../parity/discover.js';
import { runInceptionParityCase } from '../parity/inception-case.js';
import { runMicroDiTCase } from '../parity/microdit-case.js';
import { runTokenizerCase } from '../parity/tokenizer-case.js';
import { runVaeParityCase } from '../parity/vae-case.js';

/** The precisions golden cases run in (the reference README's two tolerances). */
export type ParityDType = 'float32' | 'float64';

/** A BPE vocab beside the cases (<folder>/.../data/, walking up from the folder), else the bundled one. */
export function findVocab(folder: string): string {
  for (let d = resolve(folder); ; d = dirname(d)) {
    for (const p of [join(d, VOCAB_NAME), join(d, 'data', VOCAB_NAME)]) if (existsSync(p)) return p;
    if (dirname(d) === d) return BUNDLED_VOCAB;
  }
}

function runCase(c: ParityCase, dtype: ParityDType, vocab: string, print: (l: string) => void): ParityCheck[] {
  switch (c.kind) {
    case 'microdit':
      return runMicroDiTCase(c.json, dtype);
    case 'vae':
      return runVaeParityCase(c.dir, c.io, dtype);
    case 'clip-text':
      return runClipTextParityCase(c.json, dtype);
    case 'clip-model':
      return runClipModelParityCase(c.json, dtype);
    case 'inception':
      return runInceptionParityCase(c.json, dtype);
    case 'tokenizer': {
      if (dtype !== 'float32') return [];
      const r = runTokenizerCase(c.json, vocab);
      for (const m of r.mismatches.slice(0, 10)) print(`  mismatch: ${m}`);
      return r.checks;
    }
  }
}

export function parity(
  folder: string,
  o: { vocab?: string; dtypes?: ParityDType[] },
  print: (line: string) => void,
): { passed: number; failed: number } {
  const cases = discoverCases(folder);
  if (cases.length === 0) throw new Error(`parity: no cases found under ${folder}`);
  const vocab = o.vocab ?? findVocab(folder);
  let passed = 0;
  let failed = 0;
  for (const c of cases) {
    for (const dtype of o.dtypes ?? (['float32', 'float64'] as const)) {
      let checks: ParityCheck[];
      try {
        checks = runCase(c, dtype, vocab, print);
      } catch (e) {
        failed += 1;
        print(`FAIL  ${c.kind} ${'json' in c ? c.json : c.dir} ${dtype}: ${(e as Error).message}`);
        continue;
      }
      for (const r of checks) {
        if (r.pass) passed += 1;
        else failed += 1;
        print(`${r.pass ? 'ok  ' : 'FAIL'}  ${r.relErr.toExponential(2)} (tol ${r.tol.toExponential(0)})  ${r.check}`);
      }
    }
  }
  print(`${passed} passed, ${failed} failed`);
  return { passed, failed };
}
