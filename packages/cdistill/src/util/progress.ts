// Progress with rate and ETA for long stages (cli-progress on a terminal; periodic lines otherwise,
// so logs of batch jobs still show how far a run is).
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  stop(): void;
}

export function progress(label: string, total: number, unit: string, start = 0): Progress {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} ${unit} | {rate} ${unit}/s | ETA {eta_formatted} {extra}`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    const t0 = performance.now();
    bar.start(total, start, { rate: '0.00', extra: '' });
    return {
      update(done, extra = {}) {
        const rate = (done - start) / Math.max(1e-9, (performance.now() - t0) / 1000);
        bar.update(done, { rate: rate.toFixed(2), extra: Object.entries(extra).map(([k, v]) => `${k} ${v}`).join(' ') });
      },
      stop: () => bar.stop(),
    };
  }
  const t0 = performance.now();
  let lastPrint = 0;
  return {
    update(done, extra = {}) {
      const now = performance.now();
      if (now - lastPrint < 10_000 && done < total) return;
      lastPrint = now;
      const rate = (done - start) / Math.max(1e-9, (now - t0) / 1000);
      const eta = rate > 0 ? (total - done) / rate : Infinity;
      const ex = Object.entries(extra).map(([k, v]) => ` ${k} ${v}`).join('');
      process.stderr.write(`${label}: ${done}/${total} ${unit}, ${rate.toFixed(2)} ${unit}/s, ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : '?'}${ex}\n`);
    },
    stop() {},
  };
}
