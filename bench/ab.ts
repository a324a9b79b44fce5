// `npm run bench:ab`: two Ferry builds against each other, each pair of server instances started afresh. Two
// instances of one build differ by ~5 % (docs/PERFORMANCE.md, stop 67): one pair cannot tell a small change from
// that, so the rounds are spread over several pairs, and B against A is shown per pair beside the whole.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { type AbRound, type Build, roundOrder, summarize } from './ab-summary.js';
import { Cleanup } from './cleanup.js';
import { sha256File, writeRandomFile } from './files.js';
import { digests, sameDigests, smallFileSet, transferMs } from './mft-workloads.js';
import { treeCpuMs } from './proc-stats.js';
import { writableTmpfs } from './run-support.js';
import { type BenchLayout, type BenchServer, makeClientKey, startFerry } from './servers.js';
import { runBatch } from './sftp-client.js';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const MIB = 1024 * 1024;

const AB_USAGE = `usage: npm run bench:ab -- --a DIR [--b DIR] [--workload smallfiles|single] [--instances N]
                          [--rounds N] [--warm N] [--files N] [--mib N] [--workers N] [--out FILE]
  --a DIR        the build to compare against: a checkout with node_modules and 'npm run build' done
                 (git worktree add /tmp/base <commit>; link node_modules; build)
  --b DIR        the build under test (default: this checkout)
  --workload W   smallfiles (default): 'put -r' then 'get -r' of --files files of 4 KiB, files/s;
                 single: 'put' then 'get' of one file of --mib MiB (aes128-gcm), MiB/s
  --instances N  pairs of servers, each started afresh (default 4)
  --rounds N     measured rounds per build and pair, A B B A or B A A B (default 2)
  --warm N       unmeasured rounds per build and pair before them, taking turns (default 2: a fresh
                 server still speeds up over its first rounds)
  --files N      default 3000; --mib N default 256; --workers N passed to 'ferry serve' (default 2)
  --out FILE     every round as JSON`;

interface Workload {
  readonly label: string;
  readonly unit: string;
  readonly cpuUnit: string;
  prepare(dir: string): Promise<void>;
  /** Uploads then downloads, byte-checked: the rate and the server's CPU of each direction. */
  round(server: BenchServer, scratch: string): Promise<{ up: [number, number]; down: [number, number] }>;
}

/**
 * Runs one `sftp -b` batch and returns its rate (`amount` per second of the transfer command alone) and the server's
 * CPU milliseconds per `cpuPer` (files for per-1000-files figures, GiB for s/GiB).
 */
async function timed(
  server: BenchServer,
  ctx: { key: string; cleanup: Cleanup },
  batch: string,
  amount: number,
  cpuPer: number,
): Promise<[number, number]> {
  const cpu = await treeCpuMs(server.pid);
  const result = await runBatch(server, ctx, batch, { timeoutMs: 1_800_000 });
  const used = (await treeCpuMs(server.pid)) - cpu;
  return [amount / (transferMs(result) / 1000), used / cpuPer];
}

function smallFilesWorkload(count: number, key: string, cleanup: Cleanup): Workload {
  let source = '';
  let sent = new Map<string, string>();
  return {
    label: `${count} files of 4 KiB`,
    unit: 'files/s',
    cpuUnit: 'server CPU ms/1000 files',
    async prepare(dir) {
      source = join(dir, 'small-set');
      sent = await smallFileSet(source, count, 4096);
    },
    async round(server, scratch) {
      const ctx = { key, cleanup };
      const up = await timed(
        server,
        ctx,
        `put -r ${source} ${server.remoteDir}/small\npwd\n`,
        count,
        count / 1000,
      );
      sameDigests(sent, await digests(join(server.localDir, 'small')), 'upload');
      const back = join(scratch, 'small-back');
      const down = await timed(
        server,
        ctx,
        `get -r ${server.remoteDir}/small ${back}\npwd\n`,
        count,
        count / 1000,
      );
      sameDigests(sent, await digests(back), 'download');
      await Promise.all([
        rm(back, { recursive: true }),
        rm(join(server.localDir, 'small'), { recursive: true }),
      ]);
      return { up, down };
    },
  };
}

function singleWorkload(mib: number, key: string, cleanup: Cleanup): Workload {
  let source = '';
  let digest = '';
  return {
    label: `1 file of ${mib} MiB, aes128-gcm`,
    unit: 'MiB/s',
    cpuUnit: 'server CPU s/GiB',
    async prepare(dir) {
      source = join(dir, 'big');
      digest = await writeRandomFile(source, mib * MIB);
    },
    async round(server, scratch) {
      const ctx = { key, cleanup };
      // The server CPU in s/GiB: its milliseconds per thousandth of a GiB.
      const gib = (mib / 1024) * 1000;
      const up = await timed(server, ctx, `put ${source} ${server.remoteDir}/big\npwd\n`, mib, gib);
      if ((await sha256File(join(server.localDir, 'big'))) !== digest) throw new Error('upload differs');
      const back = join(scratch, 'big-back');
      const down = await timed(server, ctx, `get ${server.remoteDir}/big ${back}\npwd\n`, mib, gib);
      if ((await sha256File(back)) !== digest) throw new Error('download differs');
      await Promise.all([rm(back), rm(join(server.localDir, 'big'))]);
      return { up, down };
    },
  };
}

async function startPair(
  builds: Record<Build, string>,
  first: Build,
  root: string,
  clientKey: { key: string; pub: string },
  workers: number,
  cleanup: Cleanup,
): Promise<Record<Build, BenchServer>> {
  const servers: Partial<Record<Build, BenchServer>> = {};
  for (const build of first === 'A' ? (['A', 'B'] as const) : (['B', 'A'] as const)) {
    const dir = join(root, build);
    const ferryHome = join(dir, 'ferry-home');
    await mkdir(join(dir, 'logs'), { recursive: true });
    await mkdir(ferryHome, { recursive: true });
    const layout: BenchLayout = {
      root: dir,
      clientKey: clientKey.key,
      clientPublicKey: clientKey.pub,
      ferryHome,
      sharedDir: join(ferryHome, 'many'),
      logDir: join(dir, 'logs'),
    };
    servers[build] = await startFerry(builds[build], layout, cleanup, { workers });
  }
  return servers as Record<Build, BenchServer>;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string' },
      workload: { type: 'string', default: 'smallfiles' },
      instances: { type: 'string', default: '4' },
      rounds: { type: 'string', default: '2' },
      warm: { type: 'string', default: '2' },
      files: { type: 'string', default: '3000' },
      mib: { type: 'string', default: '256' },
      workers: { type: 'string', default: '2' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const count = (name: 'instances' | 'rounds' | 'files' | 'mib' | 'workers') => {
    const n = Number(values[name]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive whole number`);
    return n;
  };
  if (values.help) {
    console.log(AB_USAGE);
    return 0;
  }
  if (!values.a || !['smallfiles', 'single'].includes(values.workload ?? '')) {
    console.error(AB_USAGE);
    return 2;
  }
  const warm = Number(values.warm);
  if (!Number.isInteger(warm) || warm < 0) throw new Error('--warm must be a whole number');
  const builds: Record<Build, string> = { A: resolve(values.a), B: resolve(values.b ?? repo) };
  const cleanup = new Cleanup();
  const rounds: Array<AbRound & { direction: 'up' | 'down'; cpu: number }> = [];
  try {
    const root = cleanup.dir(await mkdtemp(join(await writableTmpfs(), 'ferry-ab-')));
    const clientKey = await makeClientKey(root);
    const workload =
      values.workload === 'single'
        ? singleWorkload(count('mib'), clientKey.key, cleanup)
        : smallFilesWorkload(count('files'), clientKey.key, cleanup);
    await workload.prepare(root);
    console.log(`A ${builds.A}\nB ${builds.B}\n${workload.label}, ${count('instances')} pairs of instances`);
    for (let instance = 0; instance < count('instances'); instance++) {
      const order = roundOrder(instance, count('rounds') * 2);
      const pairRoot = join(root, `pair-${instance}`);
      const servers = await startPair(builds, order[0]!, pairRoot, clientKey, count('workers'), cleanup);
      // Unmeasured rounds, taking turns: the JIT, the store's first pages, the file system's first writes.
      for (let i = 0; i < warm * 2; i++) await workload.round(servers[order[i % 2]!], pairRoot);
      for (const build of order) {
        const { up, down } = await workload.round(servers[build], pairRoot);
        rounds.push({ build, instance, direction: 'up', value: up[0], cpu: up[1] });
        rounds.push({ build, instance, direction: 'down', value: down[0], cpu: down[1] });
        console.log(
          `  pair ${instance} ${build}: up ${up[0].toFixed(0)} ${workload.unit} (${up[1].toFixed(2)}), ` +
            `down ${down[0].toFixed(0)} (${down[1].toFixed(2)})`,
        );
      }
      await Promise.all([servers.A.stop(), servers.B.stop()]);
      await rm(pairRoot, { recursive: true, force: true });
    }
    for (const direction of ['up', 'down'] as const) {
      const of = rounds.filter((r) => r.direction === direction);
      const rate = summarize(of);
      const cpu = summarize(of.map((r) => ({ ...r, value: r.cpu })));
      const fmt = (s: { median: number; min: number; max: number }, digits: number) =>
        `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;
      console.log(
        `${direction}: A ${fmt(rate.a, 0)}, B ${fmt(rate.b, 0)} ${workload.unit}: B/A ${rate.ratio.toFixed(3)}, ` +
          `per pair ${rate.perInstance.map((r) => r.toFixed(3)).join(' ')}; ${workload.cpuUnit} A ${fmt(cpu.a, 2)}, ` +
          `B ${fmt(cpu.b, 2)}: B/A ${cpu.ratio.toFixed(3)}`,
      );
    }
    if (values.out)
      await writeFile(
        values.out,
        `${JSON.stringify({ builds, workload: workload.label, rounds }, null, 2)}\n`,
      );
    return 0;
  } finally {
    await cleanup.run();
  }
}

try {
  process.exitCode = await main();
} catch (err) {
  console.error(`bench:ab: ${(err as Error).message}`);
  process.exitCode = 1;
}
