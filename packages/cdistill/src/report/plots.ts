// Line charts as inline SVG, rendered here with Vega-Lite (no DOM, no canvas), and the series helpers.
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export interface Series {
  name: string;
  points: { x: number; y: number }[];
  /** Faint line (raw data under a smoothed line). */
  faint?: boolean;
}

export interface PlotOptions {
  title: string;
  xTitle: string;
  yTitle: string;
  yLog?: boolean;
  width?: number;
  height?: number;
  yFormat?: string;
}

let plotCounter = 0;

/** Renders a line chart to an SVG string, with its element ids made unique within the page. */
export async function lineChartSvg(series: Series[], o: PlotOptions): Promise<string> {
  const values = series.flatMap((s) => s.points.map((p) => ({ x: p.x, y: p.y, series: s.name })));
  const names = series.map((s) => s.name);
  const palette = ['#9ab8d8', '#1f5fa8', '#d9822b', '#2e8b57', '#8e44ad'];
  let solid = 0;
  const colors = series.map((s) => (s.faint ? palette[0]! : palette[Math.min(1 + solid++, palette.length - 1)]!));
  const showLegend = series.length > 1;
  const spec: TopLevelSpec = {
    width: o.width ?? 640,
    height: o.height ?? 260,
    background: 'white',
    padding: 6,
    title: { text: o.title, anchor: 'start', fontSize: 13, fontWeight: 600 },
    data: { values },
    encoding: {
      x: {
        field: 'x',
        type: 'quantitative',
        title: o.xTitle,
        axis: { format: '~s', grid: true, tickCount: 8 },
        scale: { nice: false, zero: false },
      },
      y: {
        field: 'y',
        type: 'quantitative',
        title: o.yTitle,
        scale: o.yLog ? { type: 'log', nice: false } : { zero: false },
        axis: { format: o.yFormat ?? '~g', grid: true, tickCount: 6 },
      },
      color: {
        field: 'series',
        type: 'nominal',
        title: null,
        scale: { domain: names, range: colors },
        legend: showLegend ? { orient: 'top', direction: 'horizontal', offset: 4, labelLimit: 400 } : null,
      },
    },
    // One layer per series, drawn in order (raw data under its smoothed line).
    layer: series.map((s) => ({
      transform: [{ filter: { field: 'series', equal: s.name } }],
      mark: { type: 'line' as const, strokeWidth: s.faint ? 1 : 1.8, clip: true },
    })),
    config: {
      font: 'sans-serif',
      view: { stroke: '#d0d7de' },
      axis: {
        labelColor: '#444',
        titleColor: '#333',
        gridColor: '#eef1f4',
        domainColor: '#888',
        tickColor: '#888',
        labelFontSize: 10,
        titleFontSize: 11,
      },
      legend: { labelFontSize: 11 },
    },
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return uniqueSvgIds(svg, `p${++plotCounter}-`);
  } finally {
    view.finalize();
  }
}

/** Vega numbers clip paths from 1 in every render: prefix them so several inline SVGs can share a page. */
export function uniqueSvgIds(svg: string, prefix: string): string {
  const ids = new Set([...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]!));
  if (ids.size === 0) return svg;
  return svg
    .replace(/\sid="([^"]+)"/g, (_m, id: string) => ` id="${prefix}${id}"`)
    .replace(/url\(#([^)]+)\)/g, (m, id: string) => (ids.has(id) ? `url(#${prefix}${id})` : m))
    .replace(/href="#([^"]+)"/g, (m, id: string) => (ids.has(id) ? `href="#${prefix}${id}"` : m));
}

/** Bucket-means a series down to at most `max` points (plots of 100k-step logs stay small). */
export function downsample(points: { x: number; y: number }[], max: number): { x: number; y: number }[] {
  if (points.length <= max) return points;
  const out: { x: number; y: number }[] = [];
  const per = points.length / max;
  for (let i = 0; i < max; i++) {
    const from = Math.floor(i * per);
    const to = Math.max(from + 1, Math.floor((i + 1) * per));
    let sx = 0;
    let sy = 0;
    for (let j = from; j < to; j++) [sx, sy] = [sx + points[j]!.x, sy + points[j]!.y];
    out.push({ x: sx / (to - from), y: sy / (to - from) });
  }
  return out;
}

/** Debiased exponential moving average (as TensorBoard's smoothing); in log space when `log`. */
export function smooth(points: { x: number; y: number }[], weight: number, log: boolean): { x: number; y: number }[] {
  let acc = 0;
  let norm = 0;
  return points.map((p) => {
    const v = log ? Math.log(p.y) : p.y;
    acc = acc * weight + (1 - weight) * v;
    norm = norm * weight + (1 - weight);
    const s = acc / norm;
    return { x: p.x, y: log ? Math.exp(s) : s };
  });
}

export const MAX_PLOT_POINTS = 1500;
