// `cdistill report`: a run folder built here (small PNGs made with sharp) is turned into report.html,
// which is checked as text (escaping, sections, the malformed-line count) and then opened in headless
// Chromium: no request may leave the file, every image must decode, the hostile prompt must show as
// text and open no dialog, and the plots must be there. Chromium is required: without it the test
// fails and says how to install it. REPORT_SCREENSHOT=path saves a full-page screenshot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

import sharp from 'sharp';

import { esc, parseLog, writeReport } from '../src/report/index.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const EVIL = '<script>alert(1)</script> & "quotes"';
const EVIL_IMG = `<img src=x onerror="alert(2)"> 'single'`;

let root: string;
let runDir: string;

/** A width × height PNG of cols × rows flat tiles, each a different colour. */
async function tiles(width: number, height: number, cols = 1, rows = 1, seed = 0): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = Math.floor((y * rows) / height) * cols + Math.floor((x * cols) / width) + seed;
      const o = (y * width + x) * 3;
      raw[o] = (t * 67 + 40) % 256;
      raw[o + 1] = (t * 131 + 90) % 256;
      raw[o + 2] = (t * 29 + 160) % 256;
    }
  }
  return sharp(raw, { raw: { width, height, channels: 3 } })
    .png()
    .toBuffer();
}

function logLines(n: number, lossAt: (i: number) => number): string[] {
  const lines: string[] = [];
  for (let i = 1; i <= n; i++) {
    lines.push(
      JSON.stringify({
        step: i * 10,
        loss: lossAt(i),
        lr: 1e-4 * Math.min(1, i / 20),
        grad_norm: 2 / Math.sqrt(i) + 0.1,
        step_time_s: 0.25 + 0.01 * (i % 3),
        ema: 0.999,
      }),
    );
  }
  return lines;
}

async function writeBench(
  dir: string,
  prompts: string[],
  seed: number,
  perImageMs: number,
  steps: number,
): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const lines: string[] = [];
  for (let i = 0; i < prompts.length; i++) {
    const name = `${String(i).padStart(4, '0')}.png`;
    writeFileSync(join(dir, name), await tiles(48, 48, 2, 2, seed + i));
    lines.push(`${name}\t${prompts[i]}`);
  }
  writeFileSync(join(dir, 'prompts.txt'), `${lines.join('\n')}\n`);
  writeFileSync(
    join(dir, 'summary.json'),
    JSON.stringify({
      timings: {
        per_image_ms: perImageMs,
        per_stage_ms: { text_encoder: 3.5, denoise: perImageMs - 13.5, vae_decode: 10 },
      },
      steps,
      seed: 1234,
      images: prompts.length,
      device: 'cpu',
    }),
  );
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'cdistill-report-'));
  runDir = join(root, 'run');
  mkdirSync(runDir);
  writeFileSync(
    join(runDir, 'config.json'),
    JSON.stringify(
      {
        model: { name: 'microdit-tiny', depth: 4, width: 256 },
        train: { steps: 3000, lr: 1e-4, batch: 32 },
        prompts: ['a red circle', EVIL],
        note: EVIL,
      },
      null,
      2,
    ),
  );

  const log = logLines(300, (i) => 2 * Math.exp(-i / 80) + 0.05 + 0.02 * Math.sin(i));
  log.splice(40, 0, '{"step": 401, "loss": 0.3'); // truncated line
  log.splice(90, 0, '', 'not json at all'); // a blank line (not counted) and a malformed one
  writeFileSync(join(runDir, 'log.jsonl'), `${log.join('\n')}\n`);
  writeFileSync(join(runDir, 'teacher_log.jsonl'), `${logLines(120, (i) => 1 / (1 + i / 10) + 0.1).join('\n')}\n`);

  mkdirSync(join(runDir, 'validation'));
  for (const [i, step] of [500, 100, 1000].entries())
    writeFileSync(
      join(runDir, 'validation', `step-${String(step).padStart(6, '0')}.png`),
      await tiles(96, 64, 3, 2, i),
    );

  writeFileSync(join(runDir, 'grid.png'), await tiles(4 * 40, 2 * 40, 4, 2));
  writeFileSync(
    join(runDir, 'grid.json'),
    JSON.stringify({ prompts: ['a blue square on grass', EVIL_IMG], steps: [1, 2, 4, 8] }),
  );

  const prompts = ['a red circle', EVIL, 'a small green triangle & friends'];
  await writeBench(join(runDir, 'bench'), prompts, 3, 42, 4);
  await writeBench(join(runDir, 'bench-teacher'), [...prompts].reverse(), 9, 1480, 30);

  writeFileSync(
    join(runDir, 'metrics.json'),
    JSON.stringify({
      seconds_total: 812.5,
      eval: {
        'student-4': {
          all: 0.875,
          shape: 0.95,
          color: 0.9,
          position: 0.8,
          size: 0.85,
          background: 0.97,
          ms_per_image: 42,
          psnr_vs_teacher30: 24.3,
        },
        'teacher-30': {
          all: 0.91,
          shape: 0.97,
          color: 0.93,
          position: 0.85,
          size: 0.9,
          background: 0.99,
          ms_per_image: 1480,
        },
      },
    }),
  );
});

after(() => {
  if (root) rmSync(root, { recursive: true, force: true });
});

test('esc covers the five HTML-special characters', () => {
  assert.equal(esc(`<a href="x">Tom & 'Jerry'</a>`), '&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;');
});

test('parseLog skips and counts malformed lines, ignores blank ones, sorts by step', () => {
  const log = parseLog('{"step": 2, "loss": 1}\n\n{"step": 1, "loss": 2}\nnope\n{"loss": 3}\n[1,2]\n{"step": "3"}\n');
  assert.deepEqual(
    log.records.map((r) => r.step),
    [1, 2],
  );
  assert.equal(log.malformed, 4);
  assert.deepEqual(log.malformedLines, [4, 5, 6, 7]);
});

test('report.html: sections, escaping, malformed-line count, atomic write', async () => {
  const out = await writeReport(runDir, { title: 'Fixture run & <friends>' });
  assert.equal(out, join(runDir, 'report.html'));
  assert.deepEqual(
    readdirSync(runDir).filter((f) => f.includes('.tmp')),
    [],
    'no temporary file left behind',
  );
  const html = readFileSync(out, 'utf8');

  // Nothing from the files reaches the page unescaped, and the page has no script of its own.
  assert.ok(!/<script/i.test(html), 'no <script> element anywhere');
  assert.ok(!html.includes('<img src=x'), 'the <img onerror> prompt is escaped');
  assert.ok(
    html.includes('&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot;'),
    'the hostile prompt is escaped',
  );
  assert.ok(html.includes('<title>Fixture run &amp; &lt;friends&gt;</title>'));
  assert.ok(!/(src|href)="(https?:|\/\/)/i.test(html), 'no external resource');
  assert.ok(html.includes("default-src 'none'"), 'a CSP forbids anything but inline styles and data: images');

  const order = ['bench', 'metrics', 'grid', 'validation', 'training', 'teacher', 'config'];
  for (const id of order) {
    assert.ok(html.includes(`<section id="${id}">`), `section #${id} present`);
    assert.ok(html.includes(`href="#${id}"`), `nav links to #${id}`);
  }
  const at = order.map((id) => html.indexOf(`<section id="${id}">`));
  assert.deepEqual(
    at,
    [...at].sort((a, b) => a - b),
    'the result (benchmark, metrics) first; how it was made after; configuration last',
  );
  assert.ok(!html.includes('not present'), 'every part of the fixture is present');

  assert.match(html, /2 malformed lines skipped/);
  assert.match(html, /lines 41, 92\)/, 'the malformed lines are located (blank lines are not counted)');
  assert.match(html, /<code>train\.lr<\/code>/, 'config flattened to dotted keys');
  assert.match(html, /<svg[^>]*class="marks"/, 'plots are inline SVG');
  assert.ok((html.match(/<svg/g) ?? []).length >= 5, 'student loss + lr + grad norm + step time, and the teacher loss');

  const v100 = html.indexOf('step 100<');
  const v500 = html.indexOf('step 500<');
  const v1000 = html.indexOf('step 1,000<');
  assert.ok(v100 > 0 && v100 < v500 && v500 < v1000, 'validation grids in step order');

  assert.ok(html.includes('87.5%') && html.includes('91.0%'), 'accuracies as percentages');
  assert.ok(html.includes('24.30 dB'));
  assert.ok(html.includes('35.2×'), 'student speed-up over the teacher');
  assert.ok(html.includes('<h3>Student vs teacher</h3>'));
  assert.equal((html.match(/<img src="data:image\/png;base64,/g) ?? []).length, 10);
});

test('only config.json: other sections say not present; config.json is required', async () => {
  const dir = join(root, 'bare');
  mkdirSync(dir);
  await assert.rejects(writeReport(dir), /no config\.json/);
  writeFileSync(join(dir, 'config.json'), '{"a": 1');
  await assert.rejects(writeReport(dir), /not valid JSON/);
  writeFileSync(join(dir, 'config.json'), '{"a": {"b": [1, 2]}}');
  const out = await writeReport(dir, { out: join(root, 'bare.html') });
  const html = readFileSync(out, 'utf8');
  for (const what of [
    'log.jsonl',
    'teacher_log.jsonl',
    'validation/',
    'grid.png',
    'bench/ and bench-teacher/',
    'metrics.json',
  ]) {
    assert.ok(html.includes(`${what} not present`), `${what} reported missing`);
  }
  assert.ok(html.includes('<code>a.b</code>'));
});

test('report.html in headless Chromium: offline, every image decodes, no script runs', {
  timeout: 180_000,
}, async (t) => {
  if (!existsSync(CHROMIUM)) {
    assert.fail(
      `Chromium not found at ${CHROMIUM}: this test needs it. Install it with \`apt-get install -y chromium\` (Debian), or set CHROMIUM_PATH.`,
    );
  }
  const { chromium } = await import('playwright-core');
  const started = Date.now();
  const out = await writeReport(runDir);
  const url = pathToFileURL(out).href;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    timeout: 60_000,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    const dialogs: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
    });
    await page.goto(url, { waitUntil: 'load' });

    const outside = requests.filter((u) => u !== url && !u.startsWith('data:'));
    assert.deepEqual(outside, [], 'the page requests nothing but itself');
    assert.deepEqual(dialogs, [], 'no dialog opened');
    assert.deepEqual(problems, [], 'no page errors, console errors or CSP violations');

    const images = await page.$$eval('img', (els) =>
      els.map((e) => ({ alt: e.alt, complete: e.complete, w: e.naturalWidth, h: e.naturalHeight })),
    );
    assert.equal(images.length, 10);
    const broken = images.filter((i) => !i.complete || i.w === 0 || i.h === 0);
    assert.deepEqual(broken, [], 'every image decodes');

    const text = (await page.textContent('body')) ?? '';
    assert.ok(text.includes(EVIL), 'the <script> prompt shows as text');
    assert.ok(text.includes(EVIL_IMG), 'the <img onerror> prompt shows as text');
    assert.equal(await page.locator('script').count(), 0);
    assert.equal(await page.locator('main img').count(), 10, 'no element was injected from a prompt');

    const plot = page.locator('#training svg.marks').first();
    const box = await plot.boundingBox();
    assert.ok(box && box.width > 200 && box.height > 100, `loss plot laid out (${JSON.stringify(box)})`);
    assert.ok((await page.locator('#training svg.marks path').count()) > 0, 'the loss plot has paths');
    assert.ok((await page.locator('#teacher svg.marks').count()) >= 1, 'the teacher loss plot is there');
    const dupIds = await page.$$eval('[id]', (els) => {
      const seen = new Set<string>();
      return els
        .map((e) => e.id)
        .filter((id) => {
          const dup = seen.has(id);
          seen.add(id);
          return dup;
        });
    });
    assert.deepEqual(dupIds, [], 'element ids are unique across the inline SVGs');

    if (process.env.REPORT_SCREENSHOT) await page.screenshot({ path: process.env.REPORT_SCREENSHOT, fullPage: true });
  } finally {
    await browser.close();
  }
  t.diagnostic(`chromium check took ${Date.now() - started} ms`);
});
