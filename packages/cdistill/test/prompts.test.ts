import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { checkPrompt } from '../src/data/prompt-checks.js';
import { readPromptList, sampleJourneyDbPrompts, writePromptList } from '../src/data/prompts.js';
import { Reservoir } from '../src/data/reservoir.js';
import { mulberry32 } from '../src/util/prng.js';
import { readTsvColumn } from '../src/data/tsv.js';

import { partiPromptsPath as partiPath, repoRoot } from './util.js';

/** A prompt list written by Python's json.dumps(indent=2) (see test/data/README.md). */
const promptsJsonPath = join(repoRoot, 'packages/cdistill/test/data/prompts_python.json');

const dir = mkdtempSync(join(tmpdir(), 'cdistill-prompts-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const hasTar = spawnSync('tar', ['--version']).status === 0;

// JSONL fixture: 30 valid prompts p0..p29 (Task2.Caption c0..c29 on all but p3 and p17) between
// 3 blank, 4 invalid (bad JSON, non-object x2, bad UTF-8) and 4 field-less lines; CRLF on some.
const SKIPS: Buffer[] = [
  Buffer.from(''),
  Buffer.from('   \t'),
  Buffer.from('\r'), // blank
  Buffer.from('{"prompt": "unterminated'),
  Buffer.from('[1, 2]'),
  Buffer.from('42'),
  Buffer.concat([Buffer.from('{"prompt": "bad '), Buffer.from([0xff, 0xfe]), Buffer.from(' bytes"}')]), // invalid
  Buffer.from('{"other": "x"}'),
  Buffer.from('{"prompt": ""}'),
  Buffer.from('{"prompt": "  "}'),
  Buffer.from('{"prompt": 5}'), // no field
];
function jsonlFixture(): Buffer {
  const lines: Buffer[] = [];
  for (let i = 0; i < 30; i++) {
    const obj = i === 3 || i === 17 ? { prompt: `p${i}` } : { prompt: `p${i}`, Task2: { Caption: `c${i}` } };
    lines.push(Buffer.from(JSON.stringify(obj) + (i % 4 === 0 ? '\r' : '')));
    if (i < SKIPS.length) lines.push(SKIPS[i]!);
  }
  return Buffer.concat(lines.flatMap((l, i) => (i < lines.length - 1 ? [l, Buffer.from('\n')] : [l]))); // no final '\n'
}
const FIXTURE_COUNTS = { lines: 41, valid: 30, skippedBlank: 3, skippedInvalid: 4, skippedNoField: 4 };
const jsonl = jsonlFixture();
const jsonlPath = join(dir, 'anno.jsonl');
writeFileSync(jsonlPath, jsonl);
const indexOf = (p: string): number => Number(p.slice(1));

function pick<T extends object>(o: T, keys: (keyof T)[]): Partial<T> {
  return Object.fromEntries(keys.map((k) => [k, o[k]])) as Partial<T>;
}
const countKeys = ['lines', 'valid', 'skippedBlank', 'skippedInvalid', 'skippedNoField'] as const;

test('JSONL: exact skip counts, N distinct valid prompts', async () => {
  const { prompts, stats } = await sampleJourneyDbPrompts(jsonlPath, { n: 10, seed: 7 });
  assert.deepEqual(pick(stats, [...countKeys]), FIXTURE_COUNTS);
  assert.equal(stats.used, 10);
  assert.equal(stats.short, false);
  assert.equal(prompts.length, 10);
  const idx = prompts.map(indexOf);
  assert.ok(
    prompts.every((p) => /^p\d+$/.test(p)),
    prompts.join(),
  );
  assert.equal(new Set(idx).size, 10, 'no duplicates');
  assert.ok(idx.every((i) => i >= 0 && i < 30));
});

test('JSONL: same seed, same sample; other seeds differ', async () => {
  const a = await sampleJourneyDbPrompts(jsonlPath, { n: 10, seed: 7 });
  const b = await sampleJourneyDbPrompts(jsonlPath, { n: 10, seed: 7 });
  assert.deepEqual(a.prompts, b.prompts);
  const others = await Promise.all([8, 9, 12345].map((seed) => sampleJourneyDbPrompts(jsonlPath, { n: 10, seed })));
  for (const o of others) assert.notDeepEqual(new Set(o.prompts), new Set(a.prompts));
});

test('JSONL: n >= valid returns all in file order', async () => {
  const all = Array.from({ length: 30 }, (_, i) => `p${i}`);
  const more = await sampleJourneyDbPrompts(jsonlPath, { n: 100, seed: 1 });
  assert.deepEqual(more.prompts, all);
  assert.equal(more.stats.short, true);
  assert.equal(more.stats.used, 30);
  const exact = await sampleJourneyDbPrompts(jsonlPath, { n: 30, seed: 1 });
  assert.deepEqual(exact.prompts, all);
  assert.equal(exact.stats.short, false);
  assert.deepEqual((await sampleJourneyDbPrompts(jsonlPath, { n: 0, seed: 1 })).prompts, []);
});

test('JSONL: dotted field path', async () => {
  const { prompts, stats } = await sampleJourneyDbPrompts(jsonlPath, { n: 100, seed: 1, field: 'Task2.Caption' });
  assert.equal(prompts.length, 28);
  assert.ok(!prompts.includes('c3') && !prompts.includes('c17') && prompts[0] === 'c0');
  assert.equal(stats.skippedNoField, 4 + 2);
});

test('JSONL: bad arguments and unknown file types', async () => {
  await assert.rejects(sampleJourneyDbPrompts(jsonlPath, { n: -1, seed: 1 }), /non-negative integer/);
  await assert.rejects(sampleJourneyDbPrompts(jsonlPath, { n: 2, seed: 1.5 }), /seed must be an integer/);
  await assert.rejects(sampleJourneyDbPrompts(join(dir, 'x.csv'), { n: 2, seed: 1 }), /x\.csv: unknown prompt source/);
  await assert.rejects(sampleJourneyDbPrompts(join(dir, 'missing.jsonl'), { n: 2, seed: 1 }), /ENOENT/);
});

test('JSONL.gz (multi-member gzip) gives the same result as plain', async () => {
  const gzPath = join(dir, 'anno.jsonl.gz');
  const half = jsonl.indexOf(0x0a, jsonl.length >> 1);
  writeFileSync(gzPath, Buffer.concat([gzipSync(jsonl.subarray(0, half)), gzipSync(jsonl.subarray(half))]));
  const plain = await sampleJourneyDbPrompts(jsonlPath, { n: 10, seed: 3 });
  assert.deepEqual(await sampleJourneyDbPrompts(gzPath, { n: 10, seed: 3 }), plain);
  const bad = join(dir, 'bad.jsonl.gz');
  writeFileSync(bad, 'not gzip at all');
  await assert.rejects(sampleJourneyDbPrompts(bad, { n: 1, seed: 1 }), /bad\.jsonl\.gz: bad gzip data/);
});

function tar(args: string[], cwd: string): void {
  const r = spawnSync('tar', args, { cwd, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

test('.tgz/.tar: reads every .jsonl entry in archive order, skips AppleDouble twins and other files', {
  skip: !hasTar && 'no tar',
}, async () => {
  const src = join(dir, 'tarsrc');
  const deep = `data/${'d'.repeat(60)}/${'e'.repeat(60)}`; // > 100 chars: GNU 'L' or pax 'path' records
  mkdirSync(join(src, deep), { recursive: true });
  writeFileSync(join(src, 'README.txt'), 'hello\n');
  writeFileSync(join(src, '._anno.jsonl'), Buffer.from([0, 5, 22, 7, 0xff, 0xfe, 10, 0]));
  writeFileSync(join(src, deep, 'train_anno.jsonl'), jsonl);
  writeFileSync(join(src, 'second.jsonl'), '{"prompt": "other"}\n');
  const files = ['README.txt', '._anno.jsonl', 'data', 'second.jsonl'];
  // Both .jsonl files, in archive order, are one stream of lines: the same sample as their concatenation.
  const both = join(dir, 'both.jsonl');
  writeFileSync(both, Buffer.concat([jsonl, Buffer.from('\n{"prompt": "other"}\n')])); // the fixture has no final newline
  const plain = await sampleJourneyDbPrompts(both, { n: 10, seed: 5 });
  for (const [name, flags] of [
    ['a.tgz', ['-czf']],
    ['b.tar.gz', ['--format=pax', '-czf']],
    ['c.tar', ['--format=gnu', '-cf']],
    ['d.jsonl.tgz', ['--format=ustar', '-czf']],
  ] as const) {
    if (name.startsWith('d')) {
      // ustar cannot hold the 60-char directory name; keep the name short
      tar([...flags, join(dir, name), 'README.txt', '._anno.jsonl', 'second.jsonl'], src);
      const r = await sampleJourneyDbPrompts(join(dir, name), { n: 5, seed: 5 });
      assert.deepEqual(r.prompts, ['other']);
      assert.deepEqual(r.stats.entries, ['second.jsonl']);
      continue;
    }
    tar([...flags, join(dir, name), ...files], src);
    const r = await sampleJourneyDbPrompts(join(dir, name), { n: 10, seed: 5 });
    assert.deepEqual(r.stats.entries, [`${deep}/train_anno.jsonl`, 'second.jsonl'], name);
    assert.deepEqual(r.prompts, plain.prompts, name);
    assert.deepEqual(
      pick(r.stats, [...countKeys]),
      { ...FIXTURE_COUNTS, lines: FIXTURE_COUNTS.lines + 1, valid: FIXTURE_COUNTS.valid + 1 },
      name,
    );
  }
  tar(['-czf', join(dir, 'none.tgz'), 'README.txt', '._anno.jsonl'], src);
  await assert.rejects(sampleJourneyDbPrompts(join(dir, 'none.tgz'), { n: 1, seed: 1 }), {
    message: `${join(dir, 'none.tgz')}: no .jsonl file in the tar archive (files: README.txt, ._anno.jsonl)`,
  });
  writeFileSync(join(dir, 'notar.tgz'), gzipSync(Buffer.alloc(2048, 'x')));
  await assert.rejects(
    sampleJourneyDbPrompts(join(dir, 'notar.tgz'), { n: 1, seed: 1 }),
    /notar\.tgz: not a tar archive \(bad header checksum at byte 0\)/,
  );
});

test('200k-line JSONL.gz streams: every line counted, a uniform sample', async () => {
  const big = join(dir, 'big.jsonl.gz');
  const parts: string[] = [];
  for (let i = 0; i < 200_000; i++)
    parts.push(i % 1000 === 999 ? '' : JSON.stringify({ img_path: `x/${i}.jpg`, prompt: `p${i}` }));
  writeFileSync(big, gzipSync(`${parts.join('\n')}\n`));
  const { prompts, stats } = await sampleJourneyDbPrompts(big, { n: 5000, seed: 42 });
  assert.equal(stats.lines, 200_000);
  assert.equal(stats.skippedBlank, 200);
  assert.equal(stats.valid, 199_800);
  assert.equal(new Set(prompts).size, 5000);
  // A uniform sample: about a quarter of it from each quarter of the file.
  const quarters = [0, 0, 0, 0];
  for (const p of prompts) quarters[Math.floor(indexOf(p) / 50_000)]!++;
  for (const q of quarters) assert.ok(Math.abs(q - 1250) < 150, `quarters ${quarters}`);
});

test('reservoir: uniform inclusion, and uniform first slot (prefixes are samples too)', () => {
  const included = new Array<number>(10).fill(0);
  const first = new Array<number>(10).fill(0);
  for (let seed = 0; seed < 3000; seed++) {
    const r = new Reservoir<number>(3, seed);
    for (let i = 0; i < 10; i++) r.offer(i);
    const out = r.result();
    for (const i of out) included[i]!++;
    first[out[0]!]!++;
  }
  for (const c of included) assert.ok(Math.abs(c - 900) < 100, `included ${included}`);
  for (const c of first) assert.ok(Math.abs(c - 300) < 70, `first ${first}`);
  // Canonical mulberry32 (seed 0): 0.26642920868471265 * 2^32.
  assert.equal(mulberry32(0)(), 1144304738);
});

test('plain text list: blank lines skipped, CRLF, sampling, invalid UTF-8 names the line', async () => {
  const p = join(dir, 'list.txt');
  writeFileSync(p, 'a cat\r\n\r\n  \nthe "quoted" dog\n{"json": "is just text here"}\nlast');
  const all = await sampleJourneyDbPrompts(p, { n: 10, seed: 1 });
  assert.deepEqual(all.prompts, ['a cat', 'the "quoted" dog', '{"json": "is just text here"}', 'last']);
  assert.deepEqual(pick(all.stats, [...countKeys, 'short']), {
    lines: 6,
    valid: 4,
    skippedBlank: 2,
    skippedInvalid: 0,
    skippedNoField: 0,
    short: true,
  });
  const two = await sampleJourneyDbPrompts(p, { n: 2, seed: 1 });
  assert.equal(new Set(two.prompts).size, 2);
  assert.deepEqual(two, await sampleJourneyDbPrompts(p, { n: 2, seed: 1 }));
  const bad = join(dir, 'bad.txt');
  writeFileSync(bad, Buffer.concat([Buffer.from('ok\nfine\nbro'), Buffer.from([0xc3, 0x28]), Buffer.from('ken\n')]));
  await assert.rejects(sampleJourneyDbPrompts(bad, { n: 1, seed: 1 }), { message: `${bad}:3: invalid UTF-8` });
});

test('JSON list: sampling, n >= count returns all in order', async () => {
  const p = join(dir, 'list.json');
  writeFileSync(p, JSON.stringify(['x0', 'x1', 'x2', 'x3', 'x4']));
  assert.deepEqual((await sampleJourneyDbPrompts(p, { n: 5, seed: 9 })).prompts, ['x0', 'x1', 'x2', 'x3', 'x4']);
  const three = await sampleJourneyDbPrompts(p, { n: 3, seed: 9 });
  assert.equal(new Set(three.prompts).size, 3);
  assert.deepEqual(pick(three.stats, ['lines', 'valid', 'used', 'short']), {
    lines: 5,
    valid: 5,
    used: 3,
    short: false,
  });
});

test('readPromptList: a list written by Python', () => {
  const list = readPromptList(promptsJsonPath);
  assert.equal(list.length, 16);
  assert.equal(list[2], 'café terrace at night ☕, impressionist style');
  assert.equal(list[4], 'back\\slash and tab\tinside a prompt');
  assert.equal(list[7], '  leading and trailing spaces  ');
});

test('readPromptList: errors name the file and the entry', () => {
  const cases: [string, string | Buffer, string | RegExp][] = [
    ['num.json', '["a", 3]', 'entry 1: prompt must be a string, got number'],
    ['empty.json', '["a", "b", "  "]', 'entry 2: empty prompt'],
    ['obj.json', '{"a": 1}', 'expected a JSON array of prompt strings, got object'],
    ['broken.json', '[\n  "a",\n  "b"\n', /invalid JSON/],
    [
      'utf8.json',
      Buffer.concat([Buffer.from('[\n  "a",\n  "'), Buffer.from([0xe2, 0x28, 0xa1]), Buffer.from('"\n]')]),
      ':3: invalid UTF-8',
    ],
  ];
  for (const [name, body, want] of cases) {
    const p = join(dir, name);
    writeFileSync(p, body);
    const message =
      typeof want === 'string'
        ? want.startsWith(':')
          ? `${p}${want}`
          : `${p}: ${want}`
        : new RegExp(`^${p.replace(/[.\\]/g, '\\$&')}: ${want.source}`);
    assert.throws(() => readPromptList(p), { message }, name);
  }
});

test('writePromptList: atomic, byte-identical round trip of a Python-written list, refuses empty prompts', () => {
  const out = join(dir, 'out', 'prompts.json');
  mkdirSync(dirname(out));
  const list = readPromptList(promptsJsonPath);
  writePromptList(out, list);
  assert.ok(readFileSync(out).equals(readFileSync(promptsJsonPath)), 'Python json.dumps(indent=2) form');
  writePromptList(out, ['café ☕ 😀', 'line\nbreak', 'del\u007f']);
  assert.equal(
    readFileSync(out, 'utf8'),
    '[\n  "caf\\u00e9 \\u2615 \\ud83d\\ude00",\n  "line\\nbreak",\n  "del\\u007f"\n]',
  );
  assert.deepEqual(readPromptList(out), ['café ☕ 😀', 'line\nbreak', 'del\u007f']);
  assert.throws(() => writePromptList(out, ['ok', '']), { message: `${out}: entry 1: empty prompt` });
  assert.deepEqual(readPromptList(out), ['café ☕ 😀', 'line\nbreak', 'del\u007f'], 'old file untouched');
  assert.deepEqual(readdirSync(dirname(out)), ['prompts.json'], 'no temp files left');
});

test('checkPrompt', () => {
  assert.equal(checkPrompt('a cat', 'here'), 'a cat');
  assert.equal(checkPrompt('word '.repeat(200), 'here').length, 1000); // long prompts pass: the tokenizer truncates
  assert.throws(() => checkPrompt(' \t\n', 'cfg.prompts[2]'), { message: 'cfg.prompts[2]: empty prompt' });
  assert.throws(() => checkPrompt(null, 'x'), { message: 'x: prompt must be a string, got null' });
});

test('TSV: real PartiPrompts.tsv', () => {
  assert.ok(existsSync(partiPath), partiPath);
  const all = readTsvColumn(partiPath);
  assert.equal(all.rows, 1632);
  assert.equal(all.values.length, 1632);
  const first = readTsvColumn(partiPath, 'Prompt', { n: 200 });
  assert.deepEqual(first, { values: all.values.slice(0, 200), rows: 1632 });
  assert.deepEqual(first.values.slice(0, 3), ['bond', 'element', 'molecule']);
  assert.equal(first.values[199], 'a living room');
  // Quotes are data: line 1562 starts with one, and a csv-style reader would strip it.
  assert.ok(all.values[1560]!.startsWith('"G I G G L E" painted'), all.values[1560]);
  assert.equal(readTsvColumn(partiPath, 'Category', { n: 1 }).values[0], 'Abstract');
});

test('TSV: errors name the file and line', () => {
  const write = (name: string, body: string): string => {
    const p = join(dir, name);
    writeFileSync(p, body);
    return p;
  };
  const noCol = write('nocol.tsv', 'Prompt?\tCategory\tChallenge\tNote\na\tb\tc\td\n');
  assert.throws(() => readTsvColumn(noCol), {
    message: `${noCol}: no 'Prompt' column (columns: Prompt?, Category, Challenge, Note)`,
  });
  const short = write('short.tsv', 'Prompt\tCategory\tChallenge\tNote\r\na\tb\tc\t\r\nx\ty\r\n');
  assert.throws(() => readTsvColumn(short), { message: `${short}:3: expected 4 fields, got 2` });
  const empty = write('empty.tsv', 'Prompt\tCategory\tChallenge\tNote\n \tb\tc\td\n');
  assert.throws(() => readTsvColumn(empty), { message: `${empty}:2: empty Prompt` });
  const crlf = write('crlf.tsv', '\ufeffPrompt\tCategory\r\none\tA\r\n\r\ntwo\tB\r\n');
  assert.deepEqual(readTsvColumn(crlf), { values: ['one', 'two'], rows: 2 });
});
