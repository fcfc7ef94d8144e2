// The command line: every option's default in --help, and one clear error for each kind of bad input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { buildProgram } from '../src/commands/program.js';
import { samplePrompts } from '../src/worlds/shapes/index.js';
import { PROMPTS, tinyModelDir } from './fixtures.js';
import { referenceDir, repoRoot } from './util.js';

const cli = join(repoRoot, 'packages', 'cdistill', 'dist', 'src', 'cli.js');
const run = (args: string[]) => spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });
const tmp = () => mkdtempSync(join(tmpdir(), 'cdistill-cli-'));

test('npx cdistill: the linked launcher runs the CLI and --help lists every command; without a build it says to build', () => {
  const bin = join(repoRoot, 'node_modules', '.bin', 'cdistill');
  const r = spawnSync(bin, ['--help'], { encoding: 'utf8', cwd: tmpdir() });
  assert.equal(r.status, 0, r.stderr);
  for (const cmd of buildProgram(() => {}).commands)
    assert.match(r.stdout, new RegExp(`^  ${cmd.name()}\\b`, 'm'), `${cmd.name()} listed`);
  // A copy of the launcher beside no dist/ folder: the message names the missing file and the fix.
  const dir = tmp();
  mkdirSync(join(dir, 'bin'));
  copyFileSync(join(repoRoot, 'packages', 'cdistill', 'bin', 'cdistill.mjs'), join(dir, 'bin', 'cdistill.mjs'));
  const bare = spawnSync(process.execPath, [join(dir, 'bin', 'cdistill.mjs'), '--help'], { encoding: 'utf8' });
  assert.equal(bare.status, 1);
  assert.equal(
    bare.stderr,
    `cdistill: the TypeScript is not built yet (${join(dir, 'dist', 'src', 'cli.js')} is missing): run \`npm run build\` in the repository\n`,
  );
});

test('--help of every command lists every option, with its default where it has one', () => {
  const program = buildProgram(() => {});
  assert.ok(program.commands.length >= 13);
  for (const cmd of program.commands) {
    const help = cmd.helpInformation();
    for (const opt of cmd.options) {
      assert.ok(help.includes(opt.flags), `${cmd.name()} --help lacks ${opt.flags}`);
      if (opt.defaultValue !== undefined) {
        const lines = help.split('\n');
        const at = lines.findIndex((l) => l.trimStart().startsWith(`${opt.flags} `) || l.trim() === opt.flags);
        const rest = lines.slice(at + 1);
        const end = rest.findIndex((l) => /^\s{2}-/.test(l) || l.trim() === '');
        const line = [lines[at], ...rest.slice(0, end < 0 ? rest.length : end)].join(' ');
        assert.match(line.replace(/\s+/g, ' '), /(\(|, )default: /, `${cmd.name()} ${opt.flags}: default not shown`);
      }
    }
  }
});

test('parity exits 0 with "N passed, 0 failed" on the reference, 1 when a case fails', () => {
  const ok = run(['parity', join(referenceDir, 'clip'), '--dtype', 'float32']);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^12 passed, 0 failed$/m);
  // A copy of the tiny CLIP case whose expected output is off by a lot must fail.
  const dir = tmp();
  const torchMod = spawnSync(
    process.execPath,
    [
      '-e',
      `
    const t = await import('@cdistill/torch');
    const io = t.io.loadSafetensors('${join(referenceDir, 'clip', 'clip_text_tiny.io.safetensors')}');
    io.set('out.hidden_states', io.get('out.hidden_states').mul(1.01));
    t.io.saveSafetensors('${join(dir, 'clip_text_tiny.io.safetensors')}', io);
  `,
    ],
    { encoding: 'utf8', cwd: join(repoRoot, 'packages', 'cdistill'), input: '' },
  );
  assert.equal(torchMod.status, 0, torchMod.stderr);
  for (const f of ['clip_text_tiny.json', 'clip_text_tiny.safetensors'])
    copyFileSync(join(referenceDir, 'clip', f), join(dir, f));
  const bad = run(['parity', dir, '--dtype', 'float32']);
  assert.equal(bad.status, 1);
  assert.match(bad.stdout, /FAIL .*clip_text_tiny float32 out\.hidden_states/);
  assert.match(bad.stdout, /^0 passed, 1 failed$/m);
});

test('inspect refuses an unsafe pickle, naming the global, with exit code 1', () => {
  const dir = tmp();
  // A torch.save-shaped zip whose data.pkl calls posix.system: built with the zip CLI-free writer below.
  const pkl = Buffer.concat([
    Buffer.from([0x80, 0x02]),
    Buffer.from('cposix\nsystem\n', 'latin1'),
    Buffer.from([0x58, 2, 0, 0, 0]),
    Buffer.from('id'),
    Buffer.from([0x85, 0x52, 0x2e]),
  ]);
  writeFileSync(join(dir, 'evil.pt'), storedZip([['evil/data.pkl', pkl]]));
  const r = run(['inspect', join(dir, 'evil.pt')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /global 'posix\.system' is not allowed/);
  const ok = run(['inspect', join(referenceDir, 'microdit', 'golden', 'microdit_small.teacher.f16.pt')]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^pos_embed\s+float16\s+\[1, 16, 64\]\s+2048$/m);
});

/** A minimal stored (uncompressed) zip, enough for the unpickler's reader. */
function storedZip(entries: [string, Buffer][]): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc32 = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, data] of entries) {
    const n = Buffer.from(name);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc32(data), 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc32(data), 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    centrals.push(central, n);
    offset += 30 + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

test('bad input: one clear error naming the file and line or key', () => {
  const dir = tmp();
  const model = tinyModelDir();
  // malformed JSON prompt list
  writeFileSync(join(dir, 'bad.json'), '["a", ');
  let r = run([
    'generate',
    '--model',
    model,
    '--prompts',
    join(dir, 'bad.json'),
    '--out',
    join(dir, 'o1'),
    '--device',
    'cpu',
  ]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${join(dir, 'bad.json')}: invalid JSON`));
  // an empty prompt in a list
  writeFileSync(join(dir, 'empty.json'), JSON.stringify(['a cat', '  ']));
  r = run([
    'generate',
    '--model',
    model,
    '--prompts',
    join(dir, 'empty.json'),
    '--out',
    join(dir, 'o2'),
    '--device',
    'cpu',
  ]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /empty\.json: entry 1: empty prompt/);
  r = run(['sample', '--checkpoint', dir, '--prompt', '', '--out', join(dir, 'x.png')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^cdistill: sample: prompt 0 is empty$/m);
  // an unknown recipe variant for the demo, refused before anything runs
  r = run(['demo', '--out', join(dir, 'demo'), '--variants', 'skip-2,skip-3']);
  assert.equal(r.status, 1);
  assert.equal(
    r.stderr.trim(),
    "error: option '--variants <names>' argument 'skip-2,skip-3' is invalid. 'skip-3' is not one of heun-step, ict-huber, skip-2, boundary-condition (or 'all')\n(cdistill <command> --help lists its options)",
  );
  // non-UTF-8 bytes in a text prompt list
  writeFileSync(
    join(dir, 'latin1.txt'),
    Buffer.concat([Buffer.from('a cat\ncaf'), Buffer.from([0xe9]), Buffer.from('\n')]),
  );
  r = run(['prompts', '--from', join(dir, 'latin1.txt'), '--out', join(dir, 'p.json')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /latin1\.txt:2: invalid UTF-8/);
  // a TSV without a Prompt column
  writeFileSync(join(dir, 'parti.tsv'), 'Text\tCategory\nhello\tx\n');
  r = run(['bench', '--checkpoint', dir, '--tsv', join(dir, 'parti.tsv'), '--out', join(dir, 'b')]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /parti\.tsv: no 'Prompt' column \(columns: Text, Category\)/);
  // a 500-token prompt is truncated like upstream, not refused
  r = run([
    'generate-one',
    '--model',
    model,
    '--prompt',
    Array(500).fill('word').join(' '),
    '--out',
    join(dir, 'long.png'),
    '--steps',
    '2',
    '--device',
    'cpu',
  ]);
  assert.equal(r.status, 0, r.stderr);
  // a checkpoint of another architecture: every mismatching key named, with the file
  const wrong = join(dir, 'wrong-model');
  mkdirSync(wrong);
  const m = JSON.parse(readFileSync(join(model, 'cdistill-model.json'), 'utf8'));
  m.dit.weights = join(referenceDir, 'microdit', 'golden', 'microdit_small.teacher.safetensors');
  writeFileSync(join(wrong, 'cdistill-model.json'), JSON.stringify(m));
  r = run(['generate-one', '--model', wrong, '--prompt', 'a cat', '--out', join(dir, 'w.png'), '--device', 'cpu']);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /microdit_small\.teacher\.safetensors: DiT\.loadStateDict: .*unexpected keys .*blocks\.2\..*shape mismatches .*x_embedder\.proj\.weight/,
  );
  // a manifest with a wrong type names the key
  m.dit.seed = 'one';
  writeFileSync(join(wrong, 'cdistill-model.json'), JSON.stringify(m));
  r = run(['generate-one', '--model', wrong, '--prompt', 'a cat', '--out', join(dir, 'w.png'), '--device', 'cpu']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /cdistill-model\.json: dit\.seed: Expected number, received string/);
  // captions.json naming a file outside the data folder
  const data = join(dir, 'data');
  mkdirSync(join(data, 'images'), { recursive: true });
  writeFileSync(join(data, 'captions.json'), JSON.stringify({ '../../../etc/passwd': 'a cat' }));
  r = run(['train', '--model', model, '--data', data, '--out', join(dir, 'run'), '--device', 'cpu', '--steps', '1']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /captions\.json: "\.\.\/\.\.\/\.\.\/etc\/passwd" points outside the data folder/);
  // malformed JSONL lines are counted and skipped, not fatal
  writeFileSync(
    join(dir, 'ann.jsonl'),
    [JSON.stringify({ prompt: PROMPTS[0] }), '{oops', '', JSON.stringify({ text: 'x' })].join('\n'),
  );
  r = run(['prompts', '--from', join(dir, 'ann.jsonl'), '--out', join(dir, 'p2.json'), '--n', '5']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /skipped 1 blank, 1 invalid, 1 without 'prompt'/);
});

test("prompts --world shapes: the world's training captions, seeded; exactly one source", () => {
  const dir = mkdtempSync(join(tmpdir(), 'cdistill-world-prompts-'));
  const out = join(dir, 'p.json');
  let r = run(['prompts', '--world', 'shapes', '--n', '6', '--seed', '7', '--out', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), `prompts: 6 captions of the shapes world (seed 7) written to ${out}`);
  assert.deepEqual(
    JSON.parse(readFileSync(out, 'utf8')),
    samplePrompts(6, 7).map((d) => d.prompt),
  );
  for (const args of [[], ['--world', 'shapes', '--from', out]]) {
    r = run(['prompts', ...args, '--out', join(dir, 'q.json')]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr.trim(), 'cdistill: prompts: give one of --from <file> and --world shapes');
  }
  r = run(['prompts', '--world', 'planets', '--out', join(dir, 'q.json')]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /option '--world <name>' argument 'planets' is invalid. Allowed choices are shapes./);
});
