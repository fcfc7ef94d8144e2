import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import {
  ClipTokenizer,
  DEFAULT_CONTEXT_LENGTH,
  EOT_TOKEN_ID,
  SOT_TOKEN_ID,
  VOCAB_SIZE,
  cleanText,
  htmlUnescape,
} from '../src/models/clip/tokenizer.js';

import { referenceDir, vocabPath } from './util.js';

const tok = ClipTokenizer.fromFile(); // the bundled vocabulary, loaded once for all tests

test('matches every OpenCLIP reference case', () => {
  const { cases } = JSON.parse(readFileSync(join(referenceDir, 'clip/tokenizer_cases.json'), 'utf8')) as {
    cases: { text: string; ids: number[] }[];
  };
  assert.ok(cases.length > 0);
  const rows = tok.tokenize(cases.map((c) => c.text));
  const mismatches = cases.filter((c, i) => JSON.stringify(rows[i]) !== JSON.stringify(c.ids)).map((c) => c.text);
  assert.deepEqual(mismatches, [], `${mismatches.length} of ${cases.length} cases differ`);
});

test('vocabulary layout and constants', () => {
  assert.equal(VOCAB_SIZE, 49408);
  assert.equal(tok.decode([SOT_TOKEN_ID, EOT_TOKEN_ID]), '<start_of_text><end_of_text>');
  assert.deepEqual(tok.encode('!'), [256]); // '!</w>' follows the 256 bare byte symbols
  assert.deepEqual(tok.encode('a photo of a cat'), [320, 1125, 539, 320, 2368]);
  assert.equal(tok.decode(tok.encode('A photo of a Café!')), 'a photo of a café ! ');
  assert.deepEqual(tok.encode('<START_OF_TEXT>x'), [SOT_TOKEN_ID, ...tok.encode('x')]);
});

test('NFC normalization', () => {
  assert.equal(cleanText('cafe\u0301'), 'caf\u00e9');
  assert.deepEqual(tok.encode('cafe\u0301'), tok.encode('caf\u00e9'));
});

test('curly quotes, ligatures and fullwidth forms are straightened', () => {
  assert.deepEqual(tok.encode('it\u2019s \u201cquoted\u201d'), tok.encode('it\'s "quoted"'));
  assert.equal(cleanText('\ufb01sh \uff21\uff22\u3000C'), 'fish ab c');
});

test('HTML entities are unescaped', () => {
  assert.deepEqual(tok.encode('&amp;lt;tag&amp;gt;'), tok.encode('<tag>'));
  assert.equal(cleanText('&#65;&#x42;&quot;&apos;&lt;&gt;&amp;'), 'ab"\'<>&');
  assert.equal(cleanText('a&nbsp;&nbsp;b &eacute;t&eacute; &hellip;&euro;'), 'a b été …€');
  assert.equal(cleanText('&EACUTE;T&EACUTE;'), 'été'); // ftfy's all-caps entities
  assert.equal(htmlUnescape('&copy2020 &amp &unknown; &#128; &#0;'), '©2020 & &unknown; € \ufffd');
  assert.equal(cleanText('<b>&amp;amp;</b>'), '<b>&</b>'); // '<' disables ftfy's pass; html.unescape ×2 remains
});

test('whitespace is collapsed', () => {
  assert.equal(cleanText(' \t a\u00a0\u2003b\r\n\u3000c  '), 'a b c');
  assert.deepEqual(tok.tokenize('   ')[0]!.slice(0, 3), [SOT_TOKEN_ID, EOT_TOKEN_ID, 0]);
});

test('long prompts are truncated to the context length ending in EOT', () => {
  const prompt = Array.from({ length: 120 }, (_, i) => `word${i}`).join(' ');
  assert.ok(tok.encode(prompt).length > 77);
  const [row] = tok.tokenize([prompt]);
  assert.equal(row!.length, DEFAULT_CONTEXT_LENGTH);
  assert.equal(row![0], SOT_TOKEN_ID);
  assert.equal(row![76], EOT_TOKEN_ID);
  assert.ok(!row!.includes(0));
  assert.deepEqual(row!.slice(1, 76), tok.encode(prompt).slice(0, 75));
  const flat = tok.tokenizeInt32(['a cat', prompt], 16);
  assert.equal(flat.length, 32);
  assert.deepEqual([...flat.subarray(16)], tok.tokenize(prompt, 16)[0]);
});

test('missing or malformed vocabulary files give clear errors', () => {
  const missing = join(tmpdir(), 'no-such-dir', 'bpe_simple_vocab_16e6.txt.gz');
  assert.throws(
    () => ClipTokenizer.fromFile(missing),
    (err: Error) => err.message.includes(missing) && err.message.includes('not found'),
  );
  const dir = mkdtempSync(join(tmpdir(), 'tok-test-'));
  try {
    const notGzip = join(dir, 'plain.txt.gz');
    writeFileSync(notGzip, 'i n\nt h\n');
    assert.throws(
      () => ClipTokenizer.fromFile(notGzip),
      (err: Error) => err.message.includes(notGzip),
    );
    const short = join(dir, 'short.txt.gz');
    writeFileSync(short, gzipSync('#version: 0.2\ni n\nt h\n'));
    assert.throws(
      () => ClipTokenizer.fromFile(short),
      (err: Error) => err.message.includes(short) && err.message.includes('malformed'),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the default vocabulary is the bundled file', () => {
  assert.deepEqual(ClipTokenizer.fromFile(vocabPath).tokenize(['a red circle']), tok.tokenize(['a red circle']));
  assert.deepEqual(tok.tokenize(['a red circle'])[0]!.slice(0, 5), [SOT_TOKEN_ID, 320, 736, 7117, EOT_TOKEN_ID]);
});
