// What `--cpu-prof` profiles need to say where a row's time went: the bench's timed windows (log lines stamped on
// the clock the profiles use) and the source file behind a frame of the bundled build (its source map).
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A profile's frame, as `node --cpu-prof` writes it (line and column from 0). */
export interface Frame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

/**
 * Microseconds on CLOCK_MONOTONIC, the clock V8 stamps profile samples with (`startTime` and the sum of
 * `timeDeltas`), so a bench log line and a server's samples can be put side by side.
 */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/** The file `--cpu-prof DIR` runs keep the bench's log in, each line after its time (`micros<TAB>line`). */
export const BENCH_LOG = 'bench-log.tsv';

/** What a scenario writes, in a profiling run, where a timed run starts: its window opens there. */
const START = '#start';

/** The stamped log of this process's profiling run, once there is one. */
let stamped: string | undefined;

function stamp(line: string): void {
  // At once, not appended asynchronously: lines keep their order.
  if (stamped) appendFileSync(stamped, `${monotonicMicros()}\t${line}\n`);
}

/**
 * Marks the start of a timed run in the stamped log (nothing without one): the window of the run's log line then
 * opens here rather than at the line before, leaving out the set-up in between.
 */
export function markRunStart(): void {
  stamp(START);
}

/**
 * Stamps a line into the profiling run's log only (nothing is printed): the end of a timed part of a run whose
 * log line comes later (a rules run's uploads, before its deliveries are awaited). Its window is its own; the
 * run's log line then holds only what came after it.
 */
export function markTimedEnd(label: string): void {
  stamp(`#${label}`);
}

/** The bench's log: lines to stderr and, in a profiling run, also stamped into the profiles' directory. */
export class BenchLog {
  readonly line = (line: string): void => {
    process.stderr.write(`${line}\n`);
    stamp(line);
  };

  /** From now on, every line also goes to DIR/BENCH_LOG (started afresh). */
  async stampInto(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const file = join(dir, BENCH_LOG);
    await rm(file, { force: true });
    stamped = file;
  }
}

export interface Window {
  readonly start: number;
  readonly end: number;
  readonly line: string;
}

/**
 * One window per log line matching `pattern`, ending at its stamp. The bench prints a run's line when the run (and
 * whatever it waits for, like a rules run's deliveries) is over; the window opens at the run's start mark
 * (`markRunStart`) when the scenario wrote one after the previous line, otherwise at the previous line, and then
 * holds the set-up in between too.
 */
export function windowsOf(log: string, pattern: RegExp): Window[] {
  const windows: Window[] = [];
  let opened: number | undefined;
  for (const text of log.split('\n')) {
    const tab = text.indexOf('\t');
    const at = Number(text.slice(0, tab));
    if (tab < 0 || !Number.isFinite(at)) continue;
    const line = text.slice(tab + 1);
    if (line === START) {
      opened = at;
      continue;
    }
    if (opened !== undefined && pattern.test(line)) windows.push({ start: opened, end: at, line });
    opened = at;
  }
  return windows;
}

/** Maps frames of bundled files (with a `.map` beside them) to their source files; others keep their URL. */
export class FrameSources {
  readonly #maps = new Map<string, SourceMap | null>();

  #map(url: string): SourceMap | null {
    let map = this.#maps.get(url);
    if (map === undefined) {
      map = null;
      if (url.startsWith('file:')) {
        const path = `${fileURLToPath(url)}.map`;
        if (existsSync(path)) map = new SourceMap(JSON.parse(readFileSync(path, 'utf8')));
      }
      this.#maps.set(url, map);
    }
    return map;
  }

  /** `src/automation/worker.ts` and its line (from 1) for a bundled frame; the URL and its line otherwise. */
  sourceOf(frame: Frame): { readonly file: string; readonly line: number } {
    // findEntry answers {} where the map has nothing for the position.
    const entry = (
      frame.url === '' ? undefined : this.#map(frame.url)?.findEntry(frame.lineNumber, frame.columnNumber)
    ) as { originalSource?: string; originalLine?: number } | undefined;
    if (entry?.originalSource && entry.originalLine !== undefined)
      return { file: shortPath(entry.originalSource), line: entry.originalLine + 1 };
    return { file: shortPath(frame.url), line: frame.lineNumber + 1 };
  }
}

/** A path from the repository's folders on (`src/…`, `node_modules/…`), or the URL as it is. */
function shortPath(url: string): string {
  const m = /\/((?:src|bench|test|dist|node_modules)\/.*)$/.exec(url);
  return m ? m[1]! : url;
}
