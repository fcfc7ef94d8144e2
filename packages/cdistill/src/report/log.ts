// Training logs (JSONL, one record per step): tolerant parsing and the section with the loss curve,
// learning rate, gradient norm and step time.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { esc, fmtNum, fmtSeconds, isNum, isObject, kvTable } from './html.js';
import { downsample, lineChartSvg, MAX_PLOT_POINTS, smooth, type Series } from './plots.js';

export interface LogRecord {
  step: number;
  [k: string]: unknown;
}

export interface ParsedLog {
  records: LogRecord[];
  /** Lines that are not a JSON object with a numeric "step" (blank lines are not counted). */
  malformed: number;
  /** 1-based line numbers of the first few malformed lines. */
  malformedLines: number[];
}

export function parseLog(text: string): ParsedLog {
  const records: LogRecord[] = [];
  const malformedLines: number[] = [];
  let malformed = 0;
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      v = undefined;
    }
    if (isObject(v) && isNum(v.step)) records.push(v as LogRecord);
    else {
      malformed++;
      if (malformedLines.length < 5) malformedLines.push(i + 1);
    }
  });
  records.sort((a, b) => a.step - b.step);
  return { records, malformed, malformedLines };
}

export function column(records: LogRecord[], key: string): { x: number; y: number }[] {
  const pts: { x: number; y: number }[] = [];
  for (const r of records) if (isNum(r[key])) pts.push({ x: r.step, y: r[key]! });
  return pts;
}

export async function logSection(path: string, who: string): Promise<string> {
  const log = parseLog(readFileSync(path, 'utf8'));
  const file = basename(path);
  const parts: string[] = [];
  const bad =
    log.malformed === 0
      ? `<span class="ok">no malformed lines</span>`
      : `<span class="warn">${log.malformed} malformed line${log.malformed === 1 ? '' : 's'} skipped</span> (line${log.malformed === 1 ? '' : 's'} ${log.malformedLines.join(', ')}${log.malformed > log.malformedLines.length ? ', …' : ''})`;
  parts.push(
    `<p class="meta"><code>${esc(file)}</code>: ${log.records.length.toLocaleString('en-US')} records, ${bad}.</p>`,
  );
  if (log.records.length === 0) return parts.join('\n');

  const loss = column(log.records, 'loss');
  const stats: [string, string][] = [];
  const first = log.records[0]!.step;
  const last = log.records[log.records.length - 1]!.step;
  stats.push(['steps', `${fmtNum(first)} – ${fmtNum(last)}`]);
  if (loss.length > 0) {
    const yLog = loss.every((p) => p.y > 0);
    const weight = loss.length < 20 ? 0 : Math.min(0.95, 1 - 10 / loss.length);
    const smoothed = smooth(loss, weight, yLog);
    const min = loss.reduce((a, b) => (b.y < a.y ? b : a));
    stats.push([
      'final loss',
      `${fmtNum(loss[loss.length - 1]!.y)} (smoothed ${fmtNum(smoothed[smoothed.length - 1]!.y)})`,
    ]);
    stats.push(['lowest loss', `${fmtNum(min.y)} at step ${fmtNum(min.x)}`]);
    const series: Series[] = [{ name: 'loss', points: downsample(loss, MAX_PLOT_POINTS), faint: weight > 0 }];
    if (weight > 0)
      series.push({ name: `smoothed (EMA ${weight.toFixed(2)})`, points: downsample(smoothed, MAX_PLOT_POINTS) });
    const svg = await lineChartSvg(series, {
      title: `${who} loss${yLog ? ' (log scale)' : ''}`,
      xTitle: 'step',
      yTitle: 'loss',
      yLog,
      width: 860,
      height: 300,
    });
    parts.push(`<div class="plot">${svg}</div>`);
  } else parts.push(`<p class="na">No record has a numeric <code>loss</code>.</p>`);

  const times = column(log.records, 'step_time_s');
  if (times.length > 0) {
    const sorted = times.map((p) => p.y).sort((a, b) => a - b);
    const total = sorted.reduce((a, b) => a + b, 0);
    stats.push(['median step time', `${fmtNum(sorted[Math.floor(sorted.length / 2)]! * 1000, 3)} ms`]);
    stats.push(['logged step time, summed', fmtSeconds(total)]);
  }

  const small: string[] = [];
  const lr = column(log.records, 'lr');
  if (lr.length > 0) {
    stats.push(['final lr', fmtNum(lr[lr.length - 1]!.y)]);
    small.push(
      await lineChartSvg([{ name: 'lr', points: downsample(lr, MAX_PLOT_POINTS) }], {
        title: 'learning rate',
        xTitle: 'step',
        yTitle: 'lr',
        width: 300,
        height: 150,
        yFormat: '.1e',
      }),
    );
  }
  const gn = column(log.records, 'grad_norm');
  if (gn.length > 0) {
    const yLog = gn.every((p) => p.y > 0);
    small.push(
      await lineChartSvg([{ name: 'grad norm', points: downsample(gn, MAX_PLOT_POINTS) }], {
        title: `gradient norm${yLog ? ' (log)' : ''}`,
        xTitle: 'step',
        yTitle: 'grad norm',
        yLog,
        width: 300,
        height: 150,
      }),
    );
  }
  if (times.length > 0) {
    small.push(
      await lineChartSvg([{ name: 'step time', points: downsample(times, MAX_PLOT_POINTS) }], {
        title: 'step time',
        xTitle: 'step',
        yTitle: 'seconds',
        width: 300,
        height: 150,
      }),
    );
  }
  parts.splice(1, 0, kvTable(stats));
  if (small.length > 0)
    parts.push(`<div class="plots-small">${small.map((s) => `<div class="plot">${s}</div>`).join('')}</div>`);
  return parts.join('\n');
}
