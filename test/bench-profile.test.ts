import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { type CpuProfile, compare, summarise } from '../bench/profile-summary.js';
import { BenchLog, FrameSources, markRunStart, windowsOf } from '../bench/profile-windows.js';

test('a run’s window opens at its start mark, or at the line before, and closes at its own line', () => {
  const log = [
    '100\tbench (full) in /dev/shm/x',
    '200\trules: 100 × 4 MiB per run',
    '250\t#start',
    '900\t  upload 100×4 MiB, rules on: 250 MiB/s',
    '1000\t  upload 100×4 MiB, rules off: 300 MiB/s',
    '1100\t#start',
    '1500\t  upload 100×4 MiB, rules on: 260 MiB/s',
    'not a stamped line',
  ].join('\n');
  assert.deepEqual(
    windowsOf(log, /rules on/).map((w) => [w.start, w.end]),
    [
      [250, 900],
      [1100, 1500],
    ],
  );
  // No mark before it: from the previous line.
  assert.deepEqual(
    windowsOf(log, /rules off/).map((w) => [w.start, w.end]),
    [[900, 1000]],
  );
});

test('a profiling run’s log is stamped on the monotonic clock, marks included, and only once asked to', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-log-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const log = new BenchLog();
  const stderr = process.stderr.write;
  let before = 0;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    log.line('before');
    await log.stampInto(dir);
    before = Number(process.hrtime.bigint() / 1000n);
    log.line('first');
    markRunStart();
    log.line('second');
  } finally {
    process.stderr.write = stderr;
  }
  const lines = (await readFile(join(dir, 'bench-log.tsv'), 'utf8')).trim().split('\n');
  assert.deepEqual(
    lines.map((l) => l.split('\t')[1]),
    ['first', '#start', 'second'],
  );
  const stamps = lines.map((l) => Number(l.split('\t')[0]));
  assert.ok(stamps.every((s, i) => i === 0 || s >= stamps[i - 1]!));
  // The clock the profiles use: process.hrtime's, in microseconds.
  assert.ok(stamps[0]! >= before && stamps.at(-1)! <= Number(process.hrtime.bigint() / 1000n));
});

/** A bundle of two source files with its source map, as scripts/bundle-app.mjs makes dist/bundle/. */
async function bundled(dir: string): Promise<{ url: string; text: string }> {
  await mkdir(join(dir, 'src', 'store'), { recursive: true });
  await writeFile(
    join(dir, 'src', 'store', 'slow.ts'),
    'export function slowQuery(n: number): number {\n  let s = 0;\n  for (let i = 0; i < n; i++) s += i;\n  return s;\n}\n',
  );
  await writeFile(
    join(dir, 'src', 'main.ts'),
    "import { slowQuery } from './store/slow.js';\nexport function entry(): number {\n  return slowQuery(3);\n}\n",
  );
  const out = join(dir, 'dist', 'bundle', 'main.js');
  await build({
    entryPoints: [join(dir, 'src', 'main.ts')],
    bundle: true,
    format: 'esm',
    platform: 'node',
    sourcemap: 'linked',
    outfile: out,
    logLevel: 'silent',
  });
  return { url: pathToFileURL(out).href, text: await readFile(out, 'utf8') };
}

/** Where `name` is defined in the bundle: line and column from 0, as profiles count them. */
function positionOf(text: string, name: string): { lineNumber: number; columnNumber: number } {
  const lines = text.split('\n');
  const lineNumber = lines.findIndex((l) => l.includes(`function ${name}(`));
  assert.ok(lineNumber >= 0, `${name} is in the bundle`);
  return { lineNumber, columnNumber: lines[lineNumber]!.indexOf(`function ${name}(`) };
}

test('self time of a bundled frame goes to the source file its source map names, inside the windows asked for', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-profile-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { url, text } = await bundled(dir);
  const frame = (functionName: string, where?: { lineNumber: number; columnNumber: number }) => ({
    functionName,
    url: where ? url : '',
    lineNumber: where?.lineNumber ?? -1,
    columnNumber: where?.columnNumber ?? -1,
  });
  const profile: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 4] },
      { id: 2, callFrame: frame('slowQuery', positionOf(text, 'slowQuery')) },
      { id: 3, callFrame: frame('entry', positionOf(text, 'entry')) },
      { id: 4, callFrame: frame('(idle)') },
    ],
    // Samples at t = 1000 + 1000·k µs: slowQuery at 1, 2 and 5 ms, entry at 3 ms, idle at 4 ms.
    samples: [2, 2, 3, 4, 2],
    timeDeltas: [1000, 1000, 1000, 1000, 1000],
    startTime: 0,
    endTime: 5000,
  };
  const sources = new FrameSources();
  const all = summarise(profile, sources);
  const slow = all.top.find((f) => f.name === 'slowQuery');
  assert.equal(slow?.where, 'src/store/slow.ts:1');
  assert.equal(slow?.ms, 3);
  assert.equal(all.top.find((f) => f.name === 'entry')?.where, 'src/main.ts:2');
  assert.deepEqual(
    all.areas.filter((a) => a.name !== '(idle)').map((a) => [a.name, a.ms]),
    [
      ['src/store', 3],
      ['src/main.ts', 1],
    ],
  );
  // Only the samples from 1.5 to 3.5 ms: one of slowQuery and entry's.
  const inside = summarise(profile, sources, (at) => at >= 1500 && at <= 3500);
  assert.deepEqual(
    inside.top.map((f) => [f.name, f.ms]),
    [
      ['slowQuery', 1],
      ['entry', 1],
    ],
  );
});

test('two kinds of run compare per item, the largest difference first', () => {
  const rows = compare(
    new Map([
      ['kysely', 12],
      ['upload', 100],
    ]),
    10,
    new Map([
      ['upload', 95],
      ['gc', 3],
    ]),
    10,
  );
  assert.deepEqual(
    rows.map((r) => [r.key, Number(r.diff.toFixed(2))]),
    [
      ['kysely', 1.2],
      ['upload', 0.5],
      ['gc', -0.3],
    ],
  );
});
