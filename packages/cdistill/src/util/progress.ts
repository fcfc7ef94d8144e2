// Progress with rate and ETA for long stages (cli-progress on a terminal; periodic lines otherwise,
// so logs of batch jobs still show how far a run is). unit 'bytes' shows sizes and rates in MiB.
import cliProgress from 'cli-progress';

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  stop(): void;
}

const MiB = 1024 * 1024;

export function progress(label: string, total: number, unit: string, start = 0): Progress {
  const bytes = unit === 'bytes';
  const amount = (n: number) => (bytes ? `${(n / MiB).toFixed(1)}` : `${n}`);
  const shownUnit = bytes ? 'MiB' : unit;
  const rateOf = (done: number, t0: number) =>
    (done - start) / Math.max(1e-9, (performance.now() - t0) / 1000) / (bytes ? MiB : 1);
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} ${shownUnit} | {rate} ${shownUnit}/s | ETA {eta_formatted} {extra}`,
        stream: process.stderr,
        hideCursor: true,
        formatValue: (v, _o, type) => (type === 'value' || type === 'total' ? amount(v) : String(v)),
      },
      cliProgress.Presets.shades_classic,
    );
    const t0 = performance.now();
    bar.start(total, start, { rate: '0.00', extra: '' });
    return {
      update(done, extra = {}) {
        bar.update(done, {
          rate: rateOf(done, t0).toFixed(2),
          extra: Object.entries(extra)
            .map(([k, v]) => `${k} ${v}`)
            .join(' '),
        });
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
      const rate = rateOf(done, t0);
      const eta = rate > 0 ? (total - done) / (rate * (bytes ? MiB : 1)) : Infinity;
      const ex = Object.entries(extra)
        .map(([k, v]) => ` ${k} ${v}`)
        .join('');
      process.stderr.write(
        `${label}: ${amount(done)}/${amount(total)} ${shownUnit}, ${rate.toFixed(2)} ${shownUnit}/s, ETA ${Number.isFinite(eta) ? `${eta.toFixed(0)} s` : '?'}${ex}\n`,
      );
    },
    stop() {},
  };
}
