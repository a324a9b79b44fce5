// A transfer progress bar (cli-progress) with rate and ETA, drawn on stderr only when it is a terminal.
import cliProgress from 'cli-progress';
import { formatBytes } from '../transfers/timing.js';

export interface ProgressReporter {
  start(name: string, total: number): void;
  update(done: number, total: number): void;
  stop(): void;
}

const SILENT: ProgressReporter = { start() {}, update() {}, stop() {} };

/** A bar like OpenSSH sftp's: name, percent, bytes, rate, ETA. Silent when stderr is not a TTY. */
export function progressBar(enabled: boolean = process.stderr.isTTY === true): ProgressReporter {
  if (!enabled) return SILENT;
  let bar: cliProgress.SingleBar | undefined;
  let started = 0;
  let base = 0;
  let first = true;
  const payload = (done: number) => {
    const seconds = (performance.now() - started) / 1000;
    const rate = seconds > 0.2 ? (done - base) / seconds : 0;
    return { size: `${formatBytes(done)}`, rate: rate > 0 ? `${formatBytes(rate)}/s` : '--' };
  };
  return {
    start(name, total) {
      bar?.stop();
      started = performance.now();
      base = 0;
      first = true;
      bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${name.length > 28 ? `…${name.slice(-27)}` : name.padEnd(28)} {bar} {percentage}% {size} {rate} ETA {eta_formatted}`,
          barsize: 24,
          hideCursor: true,
          clearOnComplete: false,
          etaBuffer: 50,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(Math.max(total, 1), 0, payload(0));
    },
    update(done, total) {
      if (!bar) return;
      // The rate counts from the first report, so a resumed transfer's existing bytes do not inflate it.
      if (first) {
        first = false;
        base = done;
        started = performance.now();
      }
      bar.setTotal(Math.max(total, 1));
      bar.update(done, payload(done));
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}
