// The floors: what no change to Ferry can beat on this machine, measured beside the rows they bound (issues 13 and
// 22). Small files: OpenSSH's client against a server on Ferry's SSH library that does no file work at all
// (bench/floor/zero-work-sftp.mjs), alternating with sshd. Idle memory: a cluster of a primary and two workers that
// load only ssh2 and better-sqlite3 (bench/floor/bare-cluster.mjs).
import { execFile, spawn } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { awaitListening } from './listening.js';
import { smallFileSet, transferMs } from './mft-workloads.js';
import { treeCpuMs, treeMemory } from './proc-stats.js';
import { emptyRuns, type Measurement, median, medians, type ScenarioContext } from './scenarios.js';
import type { BenchLayout, BenchServer } from './servers.js';
import { runBatch } from './sftp-client.js';

const execFileAsync = promisify(execFile);
const MB = 2 ** 20;
/** As the idle row (bench/startup.ts): a primary and two workers, read once they have settled. */
const IDLE_WORKERS = 2;
const IDLE_SETTLE_MS = 10_000;

/**
 * Spawns a floor script (a `.ts` one through tsx) and resolves with its first stdout line that starts with
 * `listening`.
 */
export async function startScript(
  ctx: ScenarioContext,
  repo: string,
  script: string,
  env: Record<string, string>,
): Promise<{ pid: number; line: string; stop(): Promise<void> }> {
  const child = ctx.client.cleanup.process(
    spawn(
      process.execPath,
      [...(script.endsWith('.ts') ? ['--import', 'tsx'] : []), join(repo, 'bench/floor', script)],
      {
        cwd: repo,
        detached: true,
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, ...env },
      },
    ),
    true,
  );
  const [line] = await awaitListening(child, /^listening.*$/m, script, { timeoutMs: 30_000 });
  return { pid: child.pid!, line, stop: () => ctx.client.cleanup.stop(child, 5000) };
}

/** A started floor script as the Ferry column of a row: its files are under /floor, none of them on the disk. */
export function zeroWorkServer(
  started: { pid: number; line: string; stop(): Promise<void> },
  description: string,
): BenchServer {
  return {
    name: 'ferry',
    port: Number(started.line.split(' ')[1]),
    user: 'floor',
    pid: started.pid,
    remoteDir: '/floor',
    localDir: '/nonexistent',
    sharedPath: () => {
      throw new Error('the zero-work server has no shared directory');
    },
    description,
    stop: started.stop,
  };
}

export async function hostKey(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const key = join(dir, 'ssh_host_ed25519_key');
  await rm(key, { force: true });
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  return key;
}

/**
 * Small files against the zero-work server (the Ferry column) and sshd, alternating, with the small-file rows'
 * client, files and commands. Files arriving are counted (the zero-work server sends zeros, not the files).
 */
async function smallFilesFloor(
  ctx: ScenarioContext,
  repo: string,
  layout: BenchLayout,
  count: number,
  bytes: number,
): Promise<Measurement[]> {
  const sshd = ctx.servers.find((s) => s.name === 'openssh')!;
  const started = await startScript(ctx, repo, 'zero-work-sftp.mjs', {
    HOST_KEY: await hostKey(join(layout.root, 'floor')),
    FILES: String(count),
    SIZE: String(bytes),
  });
  const zeroWork = zeroWorkServer(started, 'zero-work SFTP server on ssh2 (bench/floor/zero-work-sftp.mjs)');
  const size = `${bytes / 1024} KiB`;
  const target = { kind: 'ratio-at-least', value: 1.5 } as const;
  const up: Measurement = {
    id: 'floor-small-files-upload',
    label: `floor: upload ${count} files of ${size}, zero-work ssh2 server (Ferry column)`,
    unit: 'files/s',
    better: 'higher',
    runs: emptyRuns(),
    target,
  };
  const down: Measurement = {
    ...up,
    id: 'floor-small-files-download',
    label: `floor: download ${count} files of ${size}, zero-work ssh2 server (Ferry column)`,
    runs: emptyRuns(),
  };
  const cpuUp = emptyRuns();
  const cpuDown = emptyRuns();
  const source = join(ctx.clientDir, 'small-set');
  await smallFileSet(source, count, bytes);
  const back = join(ctx.clientDir, 'floor-back');
  try {
    // Untimed: a thousand files up and down first, so the zero-work server's JavaScript is compiled when timed
    // (a floor measured cold would be lower than it is). sshd has nothing to warm.
    const warm = join(ctx.clientDir, 'floor-warm');
    await smallFileSet(warm, Math.min(count, 1000), bytes);
    await runBatch(zeroWork, ctx.client, `put -r ${warm} /floor/warm\nget -r /floor/warm ${back}\n`);
    await rm(back, { recursive: true });
    await rm(warm, { recursive: true });
    for (let run = 0; run < ctx.runs; run++) {
      for (const server of [zeroWork, sshd]) {
        const remote = `${server.remoteDir}/floor-small`;
        let before = await treeCpuMs(server.pid);
        const put = await runBatch(server, ctx.client, `put -r ${source} ${remote}\npwd\n`, {
          timeoutMs: 1_800_000,
        });
        cpuUp[server.name].push(((await treeCpuMs(server.pid)) - before) / (count / 1000));
        up.runs[server.name].push(count / (transferMs(put) / 1000));
        before = await treeCpuMs(server.pid);
        const get = await runBatch(server, ctx.client, `get -r ${remote} ${back}\npwd\n`, {
          timeoutMs: 1_800_000,
        });
        cpuDown[server.name].push(((await treeCpuMs(server.pid)) - before) / (count / 1000));
        const arrived = (await readdir(back)).length;
        if (arrived !== count)
          throw new Error(`floor: ${arrived} of ${count} files came from ${server.name}`);
        down.runs[server.name].push(count / (transferMs(get) / 1000));
        ctx.log(
          `  floor small files ${server.name === 'ferry' ? 'zero-work' : 'sshd'}: ` +
            `up ${up.runs[server.name].at(-1)!.toFixed(0)}, down ${down.runs[server.name].at(-1)!.toFixed(0)} files/s`,
        );
        await rm(back, { recursive: true });
        if (server === sshd) await rm(join(sshd.localDir, 'floor-small'), { recursive: true });
      }
    }
  } finally {
    await started.stop();
  }
  return [
    { ...up, extra: { 'server CPU ms/1000 files': medians(cpuUp) } },
    { ...down, extra: { 'server CPU ms/1000 files': medians(cpuDown) } },
  ];
}

/** The bare cluster's summed RSS (and PSS) once settled, `runs` times. */
async function idleFloor(ctx: ScenarioContext, repo: string, layout: BenchLayout): Promise<Measurement> {
  const idle: Measurement = {
    id: 'floor-idle-rss',
    label: `floor: idle primary + ${IDLE_WORKERS} workers loading only ssh2 and better-sqlite3 (all processes)`,
    unit: 'MB RSS',
    better: 'lower',
    runs: { ferry: [], openssh: [] },
    target: { kind: 'ferry-at-most', value: 150 },
  };
  const pss: number[] = [];
  const key = await hostKey(join(layout.root, 'floor'));
  for (let run = 0; run < ctx.runs; run++) {
    const cluster = await startScript(ctx, repo, 'bare-cluster.mjs', {
      HOST_KEY: key,
      WORKERS: String(IDLE_WORKERS),
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, IDLE_SETTLE_MS));
      const memory = await treeMemory(cluster.pid);
      if (memory.processes !== IDLE_WORKERS + 1)
        throw new Error(`bare cluster has ${memory.processes} processes`);
      idle.runs.ferry.push(memory.rssBytes / MB);
      pss.push(memory.pssBytes / MB);
      ctx.log(
        `  floor idle: ${(memory.rssBytes / MB).toFixed(0)} MB RSS, ${(memory.pssBytes / MB).toFixed(0)} MB PSS ` +
          `(${memory.each.map((p) => (p.rssBytes / MB).toFixed(0)).join(' + ')})`,
      );
    } finally {
      await cluster.stop();
    }
  }
  return { ...idle, extra: { 'MB PSS': { ferry: median(pss), openssh: Number.NaN } } };
}

export async function floorRows(
  ctx: ScenarioContext,
  o: { readonly repo: string; readonly layout: BenchLayout; readonly files: number; readonly bytes: number },
): Promise<Measurement[]> {
  return [
    ...(await smallFilesFloor(ctx, o.repo, o.layout, o.files, o.bytes)),
    await idleFloor(ctx, o.repo, o.layout),
  ];
}
