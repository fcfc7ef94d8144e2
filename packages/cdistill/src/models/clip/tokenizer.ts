/**
 * OpenCLIP `SimpleTokenizer` (byte-level BPE over `bpe_simple_vocab_16e6.txt.gz`), written from scratch.
 *
 * Pipeline, as in OpenCLIP's `clean='lower'`: ftfy.fix_text → html.unescape ×2 → collapse whitespace →
 * lower-case → split with the CLIP pattern → UTF-8 bytes → byte-unicode symbols → BPE → ids.
 *
 * ## ftfy differences
 *
 * There is no ftfy for JavaScript, so `fixText` re-implements the deterministic parts of ftfy 6.x's
 * `fix_text` (default config) and leaves out its heuristic mojibake repair.
 *
 * Reproduced, in ftfy's order, per line segment, repeated until the text stops changing:
 * - `unescape_html` ("auto"): `&name;` entities from the table below (plus the all-caps forms ftfy
 *   accepts, e.g. `&EACUTE;` → É) and `&#NN;` / `&#xHH;`; skipped from the first line containing `<` on.
 * - `fix_c1_controls` (U+0080–U+009F read as Windows-1252), `fix_latin_ligatures` (ﬁ → fi, Ĳ → IJ, …),
 *   `fix_character_width` (fullwidth/halfwidth forms → NFKC, U+3000 → space), `uncurl_quotes`
 *   (U+02BC, U+2018–U+201B → '; U+201C–U+201F → "), `fix_line_breaks`, `fix_surrogates` (lone
 *   surrogate → U+FFFD), `remove_terminal_escapes` (ANSI `ESC[…x`), `remove_control_chars` (ftfy's set),
 *   then NFC normalization.
 * Not reproduced:
 * - `fix_encoding` and its helpers (`restore_byte_a0`, `replace_lossy_sequences`,
 *   `decode_inconsistent_utf8`): ftfy's heuristic repair of mojibake such as "cafÃ©" → "café".
 *   Such text is tokenized as written, so only mojibake input can get ids that differ from OpenCLIP's.
 * - ftfy's 1M-code-point segment limit, and Unicode-version drift between Node's ICU and Python
 *   (NFC, \p{L}, \p{N}, case mapping) for recently assigned characters.
 * HTML entities (used by the ftfy pass and by the two `html.unescape` passes): numeric references exactly
 * as Python's `html.unescape` (decimal/hex, `;` optional, 0x80–0x9F remapped as Windows-1252, invalid
 * code points → U+FFFD or dropped); the 252 HTML 4.01 names with their HTML5 values, `&apos;`, and
 * `&AMP; &LT; &GT; &QUOT; &COPY; &REG;`; the legacy names that may omit `;` (`&amp`, `&copy2020` → ©2020)
 * with Python's longest-prefix rule. The ~2,000 other HTML5 names (`&check;`, `&Jscr;`, …) stay as
 * written (a legacy prefix still decodes: `&notinva;` → "¬inva;" where Python gives "∉").
 * Whitespace is Python's `str.split()` set (includes U+001C–U+001F and U+0085, not U+FEFF), not JS `\s`.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';

import { BUNDLED_VOCAB } from '../../assets.js';

export const NUM_MERGES = 49152 - 256 - 2; // 48,894 merges after the header line
export const VOCAB_SIZE = 49408;
export const SOT_TOKEN_ID = 49406; // <start_of_text>
export const EOT_TOKEN_ID = 49407; // <end_of_text>
export const DEFAULT_CONTEXT_LENGTH = 77;

// ---------------------------------------------------------------- HTML entities

/** [first code point, names of consecutive code points] — HTML 4.01 (HTML5 values) + &apos;. */
const LATIN1 =
  'nbsp iexcl cent pound curren yen brvbar sect uml copy ordf laquo not shy reg macr deg plusmn sup2 ' +
  'sup3 acute micro para middot cedil sup1 ordm raquo frac14 frac12 frac34 iquest Agrave Aacute Acirc ' +
  'Atilde Auml Aring AElig Ccedil Egrave Eacute Ecirc Euml Igrave Iacute Icirc Iuml ETH Ntilde Ograve ' +
  'Oacute Ocirc Otilde Ouml times Oslash Ugrave Uacute Ucirc Uuml Yacute THORN szlig agrave aacute ' +
  'acirc atilde auml aring aelig ccedil egrave eacute ecirc euml igrave iacute icirc iuml eth ntilde ' +
  'ograve oacute ocirc otilde ouml divide oslash ugrave uacute ucirc uuml yacute thorn yuml';
const ENTITY_RUNS: [number, string][] = [
  [0x22, 'quot'],
  [0x26, 'amp apos'],
  [0x3c, 'lt'],
  [0x3e, 'gt'],
  [0xa0, LATIN1],
  [0x22, 'QUOT'],
  [0x26, 'AMP'],
  [0x3c, 'LT'],
  [0x3e, 'GT'],
  [0xa9, 'COPY'],
  [0xae, 'REG'],
  [0x152, 'OElig oelig'],
  [0x160, 'Scaron scaron'],
  [0x178, 'Yuml'],
  [0x192, 'fnof'],
  [0x2c6, 'circ'],
  [0x2dc, 'tilde'],
  [0x391, 'Alpha Beta Gamma Delta Epsilon Zeta Eta Theta Iota Kappa Lambda Mu Nu Xi Omicron Pi Rho'],
  [0x3a3, 'Sigma Tau Upsilon Phi Chi Psi Omega'],
  [0x3b1, 'alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigmaf sigma'],
  [0x3c4, 'tau upsilon phi chi psi omega'],
  [0x3d1, 'thetasym upsih'],
  [0x3d6, 'piv'],
  [0x2002, 'ensp emsp'],
  [0x2009, 'thinsp'],
  [0x200c, 'zwnj zwj lrm rlm'],
  [0x2013, 'ndash mdash'],
  [0x2018, 'lsquo rsquo sbquo'],
  [0x201c, 'ldquo rdquo bdquo'],
  [0x2020, 'dagger Dagger bull'],
  [0x2026, 'hellip'],
  [0x2030, 'permil'],
  [0x2032, 'prime Prime'],
  [0x2039, 'lsaquo rsaquo'],
  [0x203e, 'oline'],
  [0x2044, 'frasl'],
  [0x20ac, 'euro'],
  [0x2111, 'image'],
  [0x2118, 'weierp'],
  [0x211c, 'real'],
  [0x2122, 'trade'],
  [0x2135, 'alefsym'],
  [0x2190, 'larr uarr rarr darr harr'],
  [0x21b5, 'crarr'],
  [0x21d0, 'lArr uArr rArr dArr hArr'],
  [0x2200, 'forall'],
  [0x2202, 'part exist'],
  [0x2205, 'empty'],
  [0x2207, 'nabla isin notin'],
  [0x220b, 'ni'],
  [0x220f, 'prod'],
  [0x2211, 'sum minus'],
  [0x2217, 'lowast'],
  [0x221a, 'radic'],
  [0x221d, 'prop infin'],
  [0x2220, 'ang'],
  [0x2227, 'and or cap cup int'],
  [0x2234, 'there4'],
  [0x223c, 'sim'],
  [0x2245, 'cong'],
  [0x2248, 'asymp'],
  [0x2260, 'ne equiv'],
  [0x2264, 'le ge'],
  [0x2282, 'sub sup nsub'],
  [0x2286, 'sube supe'],
  [0x2295, 'oplus'],
  [0x2297, 'otimes'],
  [0x22a5, 'perp'],
  [0x22c5, 'sdot'],
  [0x2308, 'lceil rceil lfloor rfloor'],
  [0x25ca, 'loz'],
  [0x2660, 'spades'],
  [0x2663, 'clubs'],
  [0x2665, 'hearts diams'],
  [0x27e8, 'lang rang'],
];
/** name (without & and ;) → text, for html.unescape. */
const ENTITIES = new Map<string, string>();
for (const [start, names] of ENTITY_RUNS) {
  for (const [i, name] of names.split(' ').entries()) ENTITIES.set(name, String.fromCodePoint(start + i));
}
/** HTML5 names that are also recognised without the trailing ';'. */
const LEGACY = new Set([...LATIN1.split(' '), 'quot', 'amp', 'lt', 'gt', 'QUOT', 'AMP', 'LT', 'GT', 'COPY', 'REG']);
/** ftfy's table: every `&name;` plus an all-caps form of each lower-case name that is not an entity itself. */
const FTFY_ENTITIES = new Map(ENTITIES);
for (const [name, text] of ENTITIES) {
  const upper = name.toUpperCase();
  if (name === name.toLowerCase() && !ENTITIES.has(upper)) FTFY_ENTITIES.set(upper, text.toUpperCase());
}

/** Windows-1252 for 0x80–0x9F; the five undefined bytes keep their Latin-1 meaning (ftfy's "sloppy" codec). */
const CP1252 = [...'€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ'];

/** Python's html.unescape for one numeric reference. */
function numericRef(num: number): string {
  if (num === 0) return '\ufffd';
  if (num === 0x0d) return '\r';
  if (num >= 0x80 && num <= 0x9f) return CP1252[num - 0x80]!;
  if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
  const invalid =
    (num >= 0x1 && num <= 0x8) ||
    num === 0xb ||
    (num >= 0xe && num <= 0x1f) ||
    num === 0x7f ||
    (num >= 0xfdd0 && num <= 0xfdef) ||
    (num & 0xfffe) === 0xfffe;
  return invalid ? '' : String.fromCodePoint(num);
}

const CHARREF_RE = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** Python's `html.unescape`, limited to the entity table above (see header). */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(CHARREF_RE, (whole, ref: string) => {
    if (ref[0] === '#') {
      const hex = ref[1] === 'x' || ref[1] === 'X';
      return numericRef(parseInt(ref.slice(hex ? 2 : 1), hex ? 16 : 10));
    }
    const exact = ref.endsWith(';') ? ENTITIES.get(ref.slice(0, -1)) : LEGACY.has(ref) ? ENTITIES.get(ref) : undefined;
    if (exact !== undefined) return exact;
    // Longest legacy name that prefixes the reference: "&copy2020" → "©2020".
    for (let n = ref.length - 1; n > 1; n--) {
      if (LEGACY.has(ref.slice(0, n))) return ENTITIES.get(ref.slice(0, n))! + ref.slice(n);
    }
    return whole;
  });
}

// ---------------------------------------------------------------- ftfy.fix_text (subset)

const FTFY_ENTITY_RE = /&#?[0-9A-Za-z]{1,24};/g;
const C1_RE = /[\x80-\x9f]/g;
/** fix_latin_ligatures + fix_character_width as one translation table (their keys don't overlap). */
const LIGATURE_WIDTH = new Map<string, string>([
  ['Ĳ', 'IJ'],
  ['ĳ', 'ij'],
  ['ŉ', 'ʼn'],
  ['Ǳ', 'DZ'],
  ['ǲ', 'Dz'],
  ['ǳ', 'dz'],
  ['Ǆ', 'DŽ'],
  ['ǅ', 'Dž'],
  ['ǆ', 'dž'],
  ['Ǉ', 'LJ'],
  ['ǈ', 'Lj'],
  ['ǉ', 'lj'],
  ['Ǌ', 'NJ'],
  ['ǋ', 'Nj'],
  ['ǌ', 'nj'],
  ['ﬀ', 'ff'],
  ['ﬁ', 'fi'],
  ['ﬂ', 'fl'],
  ['ﬃ', 'ffi'],
  ['ﬄ', 'ffl'],
  ['ﬅ', 'ſt'],
  ['ﬆ', 'st'],
  ['\u3000', ' '],
]);
for (let cp = 0xff01; cp < 0xfff0; cp++) {
  const ch = String.fromCharCode(cp);
  const alt = ch.normalize('NFKC');
  if (alt !== ch) LIGATURE_WIDTH.set(ch, alt);
}
const LIGATURE_WIDTH_RE = new RegExp(`[${[...LIGATURE_WIDTH.keys()].join('')}]`, 'g');
const LONE_SURROGATE_RE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const ANSI_RE = /\x1b\[[\d;]*[a-zA-Z]/g;
const CONTROL_RE = /[\x00-\x08\x0b\x0e-\x1f\x7f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

function ftfyEntity(ref: string): string {
  const named = FTFY_ENTITIES.get(ref.slice(1, -1));
  if (named !== undefined) return named;
  if (ref[1] !== '#') return ref;
  const text = htmlUnescape(ref);
  return text.includes(';') ? ref : text; // only accept references that consume the ';'
}

function fixSegment(text: string, unescapeHtml: boolean): string {
  for (;;) {
    const before = text;
    if (unescapeHtml) text = text.replace(FTFY_ENTITY_RE, ftfyEntity);
    text = text
      .replace(C1_RE, (c) => CP1252[c.charCodeAt(0) - 0x80]!)
      .replace(LIGATURE_WIDTH_RE, (c) => LIGATURE_WIDTH.get(c)!)
      .replace(/[\u201c-\u201f]/g, '"')
      .replace(/[\u02bc\u2018-\u201b]/g, "'")
      .replace(/\r\n?|[\u2028\u2029\x85]/g, '\n')
      .replace(LONE_SURROGATE_RE, '\ufffd')
      .replace(ANSI_RE, '')
      .replace(CONTROL_RE, '')
      .normalize('NFC');
    if (text === before) return text;
  }
}

/** Printable ASCII (plus tab/newline) without '&': ftfy leaves such text unchanged. */
const FTFY_NOOP_RE = /^[\x20-\x25\x27-\x7e\t\n]*$/;

/** The reproduced part of `ftfy.fix_text` (see header). Works line by line, like ftfy. */
export function fixText(text: string): string {
  if (FTFY_NOOP_RE.test(text)) return text;
  let out = '';
  let unescapeHtml = true;
  for (let pos = 0; pos < text.length; ) {
    const end = text.indexOf('\n', pos) + 1 || text.length;
    const segment = text.slice(pos, end);
    if (segment.includes('<')) unescapeHtml = false; // looks like HTML: ftfy stops unescaping for good
    out += fixSegment(segment, unescapeHtml);
    pos = end;
  }
  return out;
}

/** Python's `str.split()` whitespace. */
const WHITESPACE_RE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/g;

/** OpenCLIP's `_clean_lower`: fix_text, html.unescape twice, collapse whitespace, lower-case. */
export function cleanText(text: string): string {
  return htmlUnescape(htmlUnescape(fixText(text)))
    .replace(WHITESPACE_RE, ' ')
    .trim()
    .toLowerCase();
}

// ---------------------------------------------------------------- BPE

/** GPT-2/CLIP byte → printable character map: printable Latin-1 bytes map to themselves, the rest to U+0100+. */
function bytesToUnicode(): string[] {
  const table = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : 256 + extra++);
  }
  return table;
}
/** Byte-unicode symbols in OpenCLIP's vocab order (printable bytes first, then the remapped ones). */
const BYTE_ENCODER = bytesToUnicode();
const BYTE_SYMBOLS = [...BYTE_ENCODER].sort((a, b) => a.charCodeAt(0) - b.charCodeAt(0));

// After whitespace collapse ' ' is the only whitespace left, so `\s` is written as ' ' (JS `\s` would
// also swallow U+FEFF, which Python's `regex` does not treat as whitespace).
const TOKEN_RE = /<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^ \p{L}\p{N}]+/giu;
const MAX_CACHE = 100_000;

export class ClipTokenizer {
  static readonly sotTokenId = SOT_TOKEN_ID;
  static readonly eotTokenId = EOT_TOKEN_ID;
  static readonly vocabSize = VOCAB_SIZE;

  private readonly encoder = new Map<string, number>();
  private readonly decoder: string[] = [];
  private readonly ranks = new Map<string, number>(); // "left right" → merge priority
  private readonly byteDecoder = new Map<string, number>(BYTE_ENCODER.map((c, b) => [c, b]));
  private cache = new Map<string, number[]>(); // pre-tokenized word → ids

  /** @param merges the 48,894 BPE merges, highest priority first. */
  constructor(merges: ReadonlyArray<readonly [string, string]>) {
    if (merges.length !== NUM_MERGES) throw new Error(`expected ${NUM_MERGES} BPE merges, got ${merges.length}`);
    const vocab = [...BYTE_SYMBOLS, ...BYTE_SYMBOLS.map((s) => `${s}</w>`)];
    merges.forEach(([a, b], rank) => {
      this.ranks.set(`${a} ${b}`, rank);
      vocab.push(a + b);
    });
    vocab.push('<start_of_text>', '<end_of_text>');
    for (const [id, sym] of vocab.entries()) this.encoder.set(sym, id);
    if (this.encoder.size !== VOCAB_SIZE) {
      throw new Error(`BPE vocabulary has duplicate symbols (${this.encoder.size} unique)`);
    }
    this.decoder.push(...vocab);
  }

  /** Loads the gzipped merges file (`bpe_simple_vocab_16e6.txt.gz`; default: the copy the package ships). */
  static fromFile(path: string = BUNDLED_VOCAB): ClipTokenizer {
    let lines: string[];
    try {
      lines = gunzipSync(readFileSync(path)).toString('utf8').split('\n');
    } catch (err) {
      const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (err as Error).message;
      throw new Error(`cannot read CLIP BPE vocabulary ${path}: ${why}`);
    }
    if (lines.length < NUM_MERGES + 1) {
      throw new Error(`malformed CLIP BPE vocabulary ${path}: ${lines.length - 1} merge lines, need ${NUM_MERGES}`);
    }
    const merges = lines.slice(1, NUM_MERGES + 1).map((line, i) => {
      const parts = line.trim().split(/\s+/);
      if (parts.length !== 2) {
        throw new Error(`malformed CLIP BPE vocabulary ${path}: line ${i + 2} is not a merge pair`);
      }
      return parts as [string, string];
    });
    try {
      return new ClipTokenizer(merges);
    } catch (err) {
      throw new Error(`malformed CLIP BPE vocabulary ${path}: ${(err as Error).message}`);
    }
  }

  /** Cleans and BPE-encodes `text`, without start/end tokens. */
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const [word] of cleanText(text).matchAll(TOKEN_RE)) ids.push(...this.wordIds(word));
    return ids;
  }

  /** Batch of `[SOT, ...ids, EOT]` rows padded with 0; too long → first `contextLength` ids, last set to EOT. */
  tokenize(texts: string | readonly string[], contextLength = DEFAULT_CONTEXT_LENGTH): number[][] {
    if (!Number.isInteger(contextLength) || contextLength < 1) {
      throw new RangeError(`contextLength must be a positive integer, got ${contextLength}`);
    }
    return (typeof texts === 'string' ? [texts] : texts).map((text) => {
      const row = [SOT_TOKEN_ID, ...this.encode(text), EOT_TOKEN_ID];
      if (row.length > contextLength) {
        row.length = contextLength;
        row[contextLength - 1] = EOT_TOKEN_ID;
      }
      while (row.length < contextLength) row.push(0);
      return row;
    });
  }

  /** `tokenize` as one row-major `[texts.length, contextLength]` Int32Array. */
  tokenizeInt32(texts: string | readonly string[], contextLength = DEFAULT_CONTEXT_LENGTH): Int32Array {
    const rows = this.tokenize(texts, contextLength);
    const out = new Int32Array(rows.length * contextLength);
    for (const [i, row] of rows.entries()) out.set(row, i * contextLength);
    return out;
  }

  /** Like OpenCLIP's decode: '</w>' becomes a space; padding (id 0) is not stripped. */
  decode(ids: ArrayLike<number>): string {
    const bytes: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const sym = this.decoder[ids[i]!];
      if (sym === undefined) throw new RangeError(`token id ${ids[i]} is outside the vocabulary`);
      for (const ch of sym) bytes.push(this.byteDecoder.get(ch)!);
    }
    return new TextDecoder().decode(new Uint8Array(bytes)).replaceAll('</w>', ' ');
  }

  /** Ids of one pre-tokenized word, memoised. */
  private wordIds(word: string): number[] {
    let ids = this.cache.get(word);
    if (ids !== undefined) return ids;
    if (word === '<start_of_text>') ids = [SOT_TOKEN_ID];
    else if (word === '<end_of_text>') ids = [EOT_TOKEN_ID];
    else {
      let symbols = '';
      for (const b of Buffer.from(word, 'utf8')) symbols += BYTE_ENCODER[b];
      ids = this.bpe(symbols).map((s) => this.encoder.get(s)!);
    }
    if (this.cache.size >= MAX_CACHE) this.cache = new Map();
    this.cache.set(word, ids);
    return ids;
  }

  /** Repeatedly merges every occurrence of the best-ranked adjacent pair, left to right. */
  private bpe(symbols: string): string[] {
    let word = symbols.split(''); // byte-unicode symbols are all in the BMP
    word[word.length - 1] += '</w>';
    while (word.length > 1) {
      let best: string | undefined;
      let bestRank = Infinity;
      for (let i = 0; i + 1 < word.length; i++) {
        const rank = this.ranks.get(`${word[i]} ${word[i + 1]}`);
        if (rank !== undefined && rank < bestRank) [bestRank, best] = [rank, `${word[i]} ${word[i + 1]}`];
      }
      if (best === undefined) break;
      const [first, second] = best.split(' ') as [string, string];
      const merged: string[] = [];
      for (let i = 0; i < word.length; i++) {
        if (word[i] === first && word[i + 1] === second) {
          merged.push(first + second);
          i++;
        } else merged.push(word[i]!);
      }
      word = merged;
    }
    return word;
  }
}
