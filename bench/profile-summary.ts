// Summarises `node --cpu-prof` output: top functions by self time, and self time grouped by where the code lives;
// with a bench log, only inside the runs a pattern names, or one kind of run against another, per item.
import { readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { BENCH_LOG, type Frame, FrameSources, type Window, windowsOf } from './profile-windows.js';

interface ProfileNode {
  id: number;
  callFrame: Frame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface SelfTime {
  readonly name: string;
  readonly where: string;
  readonly ms: number;
}

/**
 * Where a frame's code lives, coarse enough to say "crypto binding" or "our codec" at a glance: `file` is the
 * frame's URL or, for the bundled build, the source file its source map names.
 */
export function areaOf(file: string, functionName: string): string {
  if (file === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)' || functionName === '(program)') return functionName;
    return 'native (no url)';
  }
  const nodeModule = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (nodeModule) return nodeModule[1]!;
  if (file.startsWith('node:')) return file;
  const src = /(?:^|\/)(src|bench|test)\/(.*)$/.exec(file);
  if (src) return `${src[1]}/${src[2]!.split('/')[0]}`;
  return file;
}

/** Self time by function and by area, of the samples `keep` accepts (by their time on the profile's clock). */
export function summarise(
  profile: CpuProfile,
  sources: FrameSources = new FrameSources(),
  keep: (at: number) => boolean = () => true,
): { total: number; top: SelfTime[]; areas: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (keep(at)) selfMs.set(id, (selfMs.get(id) ?? 0) + delta / 1000);
  });
  const byFunction = new Map<string, SelfTime>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of selfMs) {
    const frame = byId.get(id)!.callFrame;
    total += ms;
    const { file, line } = sources.sourceOf(frame);
    const where = frame.url === '' ? '' : `${file}:${line}`;
    const name = frame.functionName || '(anonymous)';
    const key = `${name} ${where}`;
    const entry = byFunction.get(key);
    byFunction.set(key, { name, where, ms: (entry?.ms ?? 0) + ms });
    const area = areaOf(frame.url === '' ? '' : file, frame.functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
  }
  const top = [...byFunction.values()].sort((a, b) => b.ms - a.ms);
  const areas = [...byArea].map(([name, ms]) => ({ name, where: '', ms })).sort((a, b) => b.ms - a.ms);
  return { total, top, areas };
}

/** Busy time (idle left out) by key, summed over profiles. */
function busyBy(rows: readonly SelfTime[], key: (row: SelfTime) => string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const row of rows) {
    if (row.name === '(idle)') continue;
    sums.set(key(row), (sums.get(key(row)) ?? 0) + row.ms);
  }
  return sums;
}

/**
 * Rows of `a` against `b`, each divided by its item count (files of a run, say): per key, a's and b's time per
 * item and the difference, largest difference first.
 */
export function compare(
  a: ReadonlyMap<string, number>,
  aItems: number,
  b: ReadonlyMap<string, number>,
  bItems: number,
): { key: string; a: number; b: number; diff: number }[] {
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys]
    .map((key) => {
      const x = (a.get(key) ?? 0) / aItems;
      const y = (b.get(key) ?? 0) / bItems;
      return { key, a: x, b: y, diff: x - y };
    })
    .sort((p, q) => q.diff - p.diff);
}

async function profilesIn(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  return (await readdir(path)).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(path, f));
}

const USAGE = `usage: node --import tsx bench/profile-summary.ts [--top N] [--match RE [--against RE] [--per N] [--log FILE]]
                                                 FILE.cpuprofile|DIR ...
  Self time of each profile by area and by function; frames of the bundled build (dist/bundle) are shown as
  the source files their source maps name.
  --top N        functions listed (default 25)
  --match RE     only the samples inside the bench runs whose log lines match RE: each window runs from the log
                 line before the match to the match (DIR/${BENCH_LOG}, written by 'npm run bench -- --cpu-prof DIR')
  --against RE   also the runs matching RE, and print time per item of --match minus --against, all profiles
                 together (the difference a change of run makes: rules on against rules off, say)
  --per N        items per run for --against (files of a run, default 1)
  --log FILE     the stamped bench log (default: ${BENCH_LOG} in the first DIR, or beside the first FILE)`;

function inside(windows: readonly Window[]): (at: number) => boolean {
  return (at) => windows.some((w) => at >= w.start && at <= w.end);
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      top: { type: 'string', default: '25' },
      match: { type: 'string' },
      against: { type: 'string' },
      per: { type: 'string', default: '1' },
      log: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    if (!values.help) process.exitCode = 2;
    return;
  }
  const limit = Number(values.top);
  const sources = new FrameSources();
  const files = (await Promise.all(positionals.map(profilesIn))).flat();
  let windows: Window[] | undefined;
  let others: Window[] | undefined;
  if (values.match !== undefined) {
    const first = positionals[0]!;
    // A profile named alone sits in its run's directory, beside the log (not in the current one).
    const logFile = values.log ?? join((await stat(first)).isDirectory() ? first : dirname(first), BENCH_LOG);
    const log = await readFile(logFile, 'utf8');
    windows = windowsOf(log, new RegExp(values.match));
    if (values.against !== undefined) others = windowsOf(log, new RegExp(values.against));
    process.stdout.write(
      `${windows.length} runs match /${values.match}/${others ? `, ${others.length} /${values.against}/` : ''} in ${logFile}\n`,
    );
  }
  const pct = (ms: number, busy: number) => `${((100 * ms) / busy).toFixed(1).padStart(5)}%`;
  const matched: SelfTime[] = [];
  const against: SelfTime[] = [];
  for (const file of files) {
    const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
    const { total, top, areas } = summarise(profile, sources, windows ? inside(windows) : undefined);
    matched.push(...top);
    if (others) against.push(...summarise(profile, sources, inside(others)).top);
    const idle = areas.find((a) => a.name === '(idle)')?.ms ?? 0;
    const busy = total - idle;
    process.stdout.write(
      `\n${file}\n  sampled ${(total / 1000).toFixed(1)} s, busy ${(busy / 1000).toFixed(1)} s\n`,
    );
    if (busy === 0) continue;
    process.stdout.write('  self time by area (% of busy):\n');
    for (const a of areas.filter((x) => x.name !== '(idle)').slice(0, 15)) {
      process.stdout.write(`    ${pct(a.ms, busy)}  ${(a.ms / 1000).toFixed(2).padStart(7)} s  ${a.name}\n`);
    }
    process.stdout.write(`  top ${limit} functions by self time (% of busy):\n`);
    for (const f of top.filter((x) => x.name !== '(idle)').slice(0, limit)) {
      process.stdout.write(`    ${pct(f.ms, busy)}  ${f.name}  ${f.where}\n`);
    }
  }
  if (!windows || !others) return;
  const per = Number(values.per);
  const aItems = Math.max(1, windows.length * per);
  const bItems = Math.max(1, others.length * per);
  const show = (title: string, key: (row: SelfTime) => string, count: number) => {
    const rows = compare(busyBy(matched, key), aItems, busyBy(against, key), bItems);
    const total = (m: ReadonlyMap<string, number>, n: number) =>
      [...m.values()].reduce((s, v) => s + v, 0) / n;
    process.stdout.write(
      `\n${title}, ms per item, /${values.match}/ against /${values.against}/ (all profiles, busy ${total(busyBy(matched, key), aItems).toFixed(3)} against ${total(busyBy(against, key), bItems).toFixed(3)}):\n`,
    );
    for (const r of rows.slice(0, count)) {
      process.stdout.write(
        `  ${r.diff >= 0 ? '+' : ''}${r.diff.toFixed(3).padStart(7)}  ${r.a.toFixed(3).padStart(7)} ${r.b.toFixed(3).padStart(7)}  ${r.key}\n`,
      );
    }
  };
  show('by source file', (r) => r.where.replace(/:\d+$/, '') || r.name, 25);
  show('by function', (r) => `${r.name} ${r.where}`, limit);
}

if (process.argv[1]?.endsWith('profile-summary.ts')) await main();
