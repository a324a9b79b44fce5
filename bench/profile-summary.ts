// Summarises `node --cpu-prof` output: top functions by self time, and self time grouped by where the code lives.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
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

/** Where a frame's code lives, coarse enough to say "crypto binding" or "our codec" at a glance. */
export function areaOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)') return 'GC';
    if (functionName === '(idle)' || functionName === '(program)') return functionName;
    return 'native (no url)';
  }
  const nodeModule = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nodeModule) return nodeModule[1]!;
  if (url.startsWith('node:')) return url;
  const src = /\/(src|bench|test)\/(.*)$/.exec(url);
  if (src) return `${src[1]}/${src[2]!.split('/')[0]}`;
  return url;
}

export function summarise(profile: CpuProfile): { total: number; top: SelfTime[]; areas: SelfTime[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfMs = new Map<number, number>();
  profile.samples.forEach((id, i) => {
    selfMs.set(id, (selfMs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  const byFunction = new Map<string, SelfTime>();
  const byArea = new Map<string, number>();
  let total = 0;
  for (const [id, ms] of selfMs) {
    const frame = byId.get(id)!.callFrame;
    total += ms;
    const file = frame.url.replace(/^.*\/(node_modules|src|bench|test)\//, '$1/');
    const where = frame.url === '' ? '' : `${file}:${frame.lineNumber + 1}`;
    const name = frame.functionName || '(anonymous)';
    const key = `${name} ${where}`;
    const entry = byFunction.get(key);
    byFunction.set(key, { name, where, ms: (entry?.ms ?? 0) + ms });
    const area = areaOf(frame.url, frame.functionName);
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
  }
  const top = [...byFunction.values()].sort((a, b) => b.ms - a.ms);
  const areas = [...byArea].map(([name, ms]) => ({ name, where: '', ms })).sort((a, b) => b.ms - a.ms);
  return { total, top, areas };
}

async function profilesIn(path: string): Promise<string[]> {
  if (!(await stat(path)).isDirectory()) return [path];
  return (await readdir(path)).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(path, f));
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '25' }, 'no-idle': { type: 'boolean', default: true } },
  });
  if (positionals.length === 0) {
    process.stderr.write(
      'usage: node --import tsx bench/profile-summary.ts [--top N] FILE.cpuprofile|DIR ...\n',
    );
    process.exitCode = 2;
    return;
  }
  const limit = Number(values.top);
  for (const arg of positionals) {
    for (const file of await profilesIn(arg)) {
      const { total, top, areas } = summarise(JSON.parse(await readFile(file, 'utf8')) as CpuProfile);
      const idle = areas.find((a) => a.name === '(idle)')?.ms ?? 0;
      const busy = total - idle;
      const pct = (ms: number) => `${((100 * ms) / busy).toFixed(1).padStart(5)}%`;
      process.stdout.write(
        `\n${file}\n  sampled ${(total / 1000).toFixed(1)} s, busy ${(busy / 1000).toFixed(1)} s\n`,
      );
      process.stdout.write('  self time by area (% of busy):\n');
      for (const a of areas.filter((x) => x.name !== '(idle)').slice(0, 15)) {
        process.stdout.write(`    ${pct(a.ms)}  ${(a.ms / 1000).toFixed(2).padStart(7)} s  ${a.name}\n`);
      }
      process.stdout.write(`  top ${limit} functions by self time (% of busy):\n`);
      for (const f of top.filter((x) => x.name !== '(idle)').slice(0, limit)) {
        process.stdout.write(`    ${pct(f.ms)}  ${f.name}  ${f.where}\n`);
      }
    }
  }
}

if (process.argv[1]?.endsWith('profile-summary.ts')) await main();
