// The five measurements, each run alternately against Ferry and OpenSSH (A B B A ...) with verified checksums.

import { copyFile, link, rm } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { sha256File } from './files.js';
import { reapedChildrenCpuMs, treeCpuMs, treeMemory } from './proc-stats.js';
import type { BenchServer, ServerName } from './servers.js';
import {
  type BatchResult,
  type ClientContext,
  commandMs,
  type IdleSession,
  openIdleSession,
  runBatch,
} from './sftp-client.js';

export type Target =
  | { readonly kind: 'ratio-at-least'; readonly value: number }
  | { readonly kind: 'ratio-at-most'; readonly value: number }
  | { readonly kind: 'ferry-at-most'; readonly value: number };

export interface Measurement {
  readonly id: string;
  readonly label: string;
  readonly unit: string;
  readonly better: 'higher' | 'lower';
  readonly runs: Record<ServerName, number[]>;
  readonly target?: Target;
  /** Extra figures per server (e.g. PSS next to RSS), medians. */
  readonly extra?: Record<string, Record<ServerName, number>>;
  /**
   * The i-th runs of both columns were measured together (one session): the ratio is the median of their
   * ratios, so the drift between sessions that the pairing takes out does not come back through the medians.
   */
  readonly paired?: boolean;
}

export interface ScenarioContext {
  readonly servers: readonly BenchServer[];
  readonly client: ClientContext;
  /** Client-side scratch directory (tmpfs). */
  readonly clientDir: string;
  readonly runs: number;
  readonly log: (line: string) => void;
}

const MIB = 1024 * 1024;

export function emptyRuns(): Record<ServerName, number[]> {
  return { ferry: [], openssh: [] };
}

/**
 * The servers of a transfer row in run `run`'s order: Ferry then OpenSSH, then OpenSSH then Ferry (A B B A),
 * so neither always runs first after the other's transfer, hash check and delete.
 */
export function serverOrder(ctx: ScenarioContext, run: number): readonly BenchServer[] {
  const [a, b] = ctx.servers;
  return a !== undefined && b !== undefined && ctx.servers.length === 2 ? pairOrder(run, a, b) : ctx.servers;
}

/**
 * The order of a pair of runs of two configurations of ONE Ferry: `a` then `b`, then `b` then `a` (A B B A …).
 * Its cluster hands each session to its workers in turn, so with one session per run a fixed order would put
 * every run of one side on one worker; reversing every other pair gives each side both workers, and both kinds
 * of predecessor.
 */
export function pairOrder<T>(run: number, a: T, b: T): [T, T] {
  return run % 2 === 0 ? [a, b] : [b, a];
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function expectHash(path: string, expected: string, what: string): Promise<void> {
  const actual = await sha256File(path);
  if (actual !== expected) throw new Error(`checksum mismatch after ${what}: ${actual} != ${expected}`);
}

export function mibPerSecond(bytes: number, ms: number): number {
  return bytes / MIB / (ms / 1000);
}

/** Runs `work` and returns its result with the server's CPU time (ms, its whole process tree) spent meanwhile. */
export async function withCpu<T>(server: BenchServer, work: () => Promise<T>): Promise<[T, number]> {
  const before = await treeCpuMs(server.pid);
  const result = await work();
  return [result, (await treeCpuMs(server.pid)) - before];
}

/**
 * As withCpu, and the client's CPU time too (ms): what this process reaped meanwhile, i.e. the client `work` ran
 * and the children it waited for (sftp and its ssh).
 */
export async function withCpus<T>(server: BenchServer, work: () => Promise<T>): Promise<[T, number, number]> {
  const client0 = await reapedChildrenCpuMs();
  const [result, serverMs] = await withCpu(server, work);
  return [result, serverMs, (await reapedChildrenCpuMs()) - client0];
}

export function medians(runs: Record<ServerName, number[]>): Record<ServerName, number> {
  return { ferry: median(runs.ferry), openssh: median(runs.openssh) };
}

/** Untimed: an upload and a download per server, cipher and core, so JIT compilation and first allocations are not measured. */
export async function warmUp(
  ctx: ScenarioContext,
  source: { path: string; sha256: string },
  ciphers: readonly string[],
): Promise<void> {
  // Upload and download in one session, once per core: Ferry's workers take sessions in turn, and each
  // must have run both paths before they are timed.
  for (const cipher of ciphers) {
    for (let i = 0; i < availableParallelism(); i++) {
      for (const server of ctx.servers) {
        const target = join(ctx.clientDir, 'warm-down.bin');
        const remote = `${server.remoteDir}/warm.bin`;
        await runBatch(server, ctx.client, `put ${source.path} ${remote}\nget ${remote} ${target}\n`, {
          cipher,
        });
        await expectHash(target, source.sha256, `warm-up with ${server.name}`);
        await rm(target);
        await rm(join(server.localDir, 'warm.bin'));
      }
    }
  }
}

/** From the first transfer starting to the last one ending (logins and logouts excluded, as for one stream). */
function transferWindow(results: readonly BatchResult[]): number {
  const starts = results.map((r) => r.marks[0] ?? Number.NaN);
  const ends = results.map((r) => r.marks[1] ?? Number.NaN);
  return Math.max(...ends) - Math.min(...starts);
}

/** 2: `streams` concurrent sessions, each moving one file of `bytes`; aggregate MiB/s from first start to last end. */
export async function concurrentStreams(
  ctx: ScenarioContext,
  source: { path: string; sha256: string; bytes: number },
  streams: number,
): Promise<Measurement[]> {
  const size = `${Math.round(source.bytes / MIB)} MiB`;
  const up: Measurement = {
    id: 'upload-concurrent',
    label: `upload ${streams}×${size} concurrent`,
    unit: 'MiB/s',
    better: 'higher',
    runs: emptyRuns(),
    target: { kind: 'ratio-at-least', value: 1.2 },
  };
  const down: Measurement = {
    ...up,
    id: 'download-concurrent',
    label: `download ${streams}×${size} concurrent`,
    runs: emptyRuns(),
  };
  const indexes = [...Array(streams).keys()];
  const total = source.bytes * streams;
  const gib = total / (1024 * MIB);
  const upCpu = emptyRuns();
  const downCpu = emptyRuns();
  // The clients' CPU too (every sftp and its ssh, start-up included): with the clients on the same cores, a server
  // that needs less CPU per GiB is faster only if its clients do not need more.
  const upClientCpu = emptyRuns();
  const downClientCpu = emptyRuns();
  for (let run = 0; run < ctx.runs; run++) {
    for (const server of serverOrder(ctx, run)) {
      const [results, cpu, clientMs] = await withCpus(server, () =>
        Promise.all(
          indexes.map((i) =>
            runBatch(server, ctx.client, `put ${source.path} ${server.remoteDir}/up-${i}.bin\npwd\n`),
          ),
        ),
      );
      upCpu[server.name].push(cpu / 1000 / gib);
      upClientCpu[server.name].push(clientMs / 1000 / gib);
      const ms = transferWindow(results);
      for (const i of indexes) {
        const path = join(server.localDir, `up-${i}.bin`);
        await expectHash(path, source.sha256, `concurrent upload ${i} to ${server.name}`);
        await rm(path);
      }
      up.runs[server.name].push(mibPerSecond(total, ms));
      ctx.log(
        `  ${up.label} ${server.name}: ${up.runs[server.name].at(-1)!.toFixed(0)} MiB/s, ` +
          `server CPU ${upCpu[server.name].at(-1)!.toFixed(2)} s/GiB, client CPU ${upClientCpu[server.name].at(-1)!.toFixed(2)} s/GiB`,
      );
    }
  }
  for (const server of ctx.servers) {
    await copyFile(source.path, join(server.localDir, 'down-0.bin'));
    for (const i of indexes.slice(1)) {
      await link(join(server.localDir, 'down-0.bin'), join(server.localDir, `down-${i}.bin`));
    }
  }
  for (let run = 0; run < ctx.runs; run++) {
    for (const server of serverOrder(ctx, run)) {
      const [results, cpu, clientMs] = await withCpus(server, () =>
        Promise.all(
          indexes.map((i) =>
            runBatch(
              server,
              ctx.client,
              `get ${server.remoteDir}/down-${i}.bin ${ctx.clientDir}/down-${i}.bin\npwd\n`,
            ),
          ),
        ),
      );
      downCpu[server.name].push(cpu / 1000 / gib);
      downClientCpu[server.name].push(clientMs / 1000 / gib);
      const ms = transferWindow(results);
      for (const i of indexes) {
        const path = join(ctx.clientDir, `down-${i}.bin`);
        await expectHash(path, source.sha256, `concurrent download ${i} from ${server.name}`);
        await rm(path);
      }
      down.runs[server.name].push(mibPerSecond(total, ms));
      ctx.log(
        `  ${down.label} ${server.name}: ${down.runs[server.name].at(-1)!.toFixed(0)} MiB/s, ` +
          `server CPU ${downCpu[server.name].at(-1)!.toFixed(2)} s/GiB, client CPU ${downClientCpu[server.name].at(-1)!.toFixed(2)} s/GiB`,
      );
    }
  }
  for (const server of ctx.servers) {
    for (const i of indexes) await rm(join(server.localDir, `down-${i}.bin`));
  }
  return [
    { ...up, extra: { 'server CPU s/GiB': medians(upCpu), 'client CPU s/GiB': medians(upClientCpu) } },
    { ...down, extra: { 'server CPU s/GiB': medians(downCpu), 'client CPU s/GiB': medians(downClientCpu) } },
  ];
}

/** 3: `sessions` sequential logins, each listing a small directory; sessions per second. */
export async function handshakes(ctx: ScenarioContext, sessions: number): Promise<Measurement[]> {
  const m: Measurement = {
    id: 'handshakes',
    label: `${sessions} sequential sessions (ls)`,
    unit: 'sessions/s',
    better: 'higher',
    runs: emptyRuns(),
    target: { kind: 'ratio-at-least', value: 2 },
  };
  const cpuPerSession = emptyRuns();
  for (let run = 0; run < ctx.runs; run++) {
    for (const server of serverOrder(ctx, run)) {
      const started = performance.now();
      const [, cpu] = await withCpu(server, async () => {
        for (let i = 0; i < sessions; i++) await runBatch(server, ctx.client, `ls ${server.remoteDir}\n`);
      });
      const ms = performance.now() - started;
      cpuPerSession[server.name].push(cpu / sessions);
      m.runs[server.name].push(sessions / (ms / 1000));
      ctx.log(
        `  ${m.label} ${server.name}: ${m.runs[server.name].at(-1)!.toFixed(1)} sessions/s, ` +
          `server CPU ${cpuPerSession[server.name].at(-1)!.toFixed(1)} ms/session`,
      );
    }
  }
  return [{ ...m, extra: { 'server CPU ms/session': medians(cpuPerSession) } }];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Median of three samples a little apart, so one GC or a late page fault does not decide the figure. */
async function sampleMemory(pid: number): Promise<{ rss: number; pss: number; processes: number }> {
  const samples = [];
  for (let i = 0; i < 3; i++) {
    if (i > 0) await sleep(500);
    samples.push(await treeMemory(pid));
  }
  return {
    rss: median(samples.map((s) => s.rssBytes)),
    pss: median(samples.map((s) => s.pssBytes)),
    processes: median(samples.map((s) => s.processes)),
  };
}

/** A login refused under a burst is retried (and reported): memory per session is the question here, not admission. */
async function openWithRetry(ctx: ScenarioContext, server: BenchServer): Promise<IdleSession> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openIdleSession(server, ctx.client);
    } catch (err) {
      if (attempt >= 3) throw err;
      ctx.log(
        `  ${server.name}: idle session attempt ${attempt} failed, retrying: ${String(err).split('\n')[0]}`,
      );
    }
  }
}

/** 4: `sessions` concurrent idle SFTP sessions; server memory growth per session (RSS and PSS over its process tree). */
export async function idleMemory(ctx: ScenarioContext, sessions: number): Promise<Measurement[]> {
  const m: Measurement = {
    id: 'idle-memory',
    label: `${sessions} idle sessions: memory per session`,
    unit: 'KiB RSS',
    better: 'lower',
    runs: emptyRuns(),
    target: { kind: 'ferry-at-most', value: 256 },
  };
  const pss = emptyRuns();
  const wave = 20;
  for (let run = 0; run < ctx.runs; run++) {
    for (const server of serverOrder(ctx, run)) {
      await sleep(1000);
      const before = await sampleMemory(server.pid);
      const open = [];
      try {
        for (let i = 0; i < sessions; i += wave) {
          const batch = Math.min(wave, sessions - i);
          open.push(...(await Promise.all([...Array(batch)].map(() => openWithRetry(ctx, server)))));
        }
        await sleep(2000);
        const after = await sampleMemory(server.pid);
        m.runs[server.name].push((after.rss - before.rss) / sessions / 1024);
        pss[server.name].push((after.pss - before.pss) / sessions / 1024);
        ctx.log(
          `  ${m.label} ${server.name}: ${m.runs[server.name].at(-1)!.toFixed(0)} KiB RSS, ` +
            `${pss[server.name].at(-1)!.toFixed(0)} KiB PSS (${before.processes} → ${after.processes} processes)`,
        );
      } finally {
        await Promise.all(open.map((s) => s.close()));
      }
    }
  }
  return [{ ...m, extra: { 'KiB PSS': medians(pss) } }];
}

/** 5: `ls -l` of a directory of `files` entries; seconds from the command's start to its last line (login excluded). */
export async function listing(ctx: ScenarioContext, files: number): Promise<Measurement[]> {
  const m: Measurement = {
    id: 'listing',
    label: `ls -l of ${files} files`,
    unit: 's',
    better: 'lower',
    runs: emptyRuns(),
    target: { kind: 'ratio-at-most', value: 1 },
  };
  // Untimed listings first, as transfers are warmed up: JIT, a first directory read, Ferry's lstat worker
  // starting (once per process, not per listing). One per core, as Ferry's workers take connections in turn.
  for (let i = 0; i < availableParallelism(); i++) {
    for (const server of ctx.servers) {
      await runBatch(server, ctx.client, `ls -l ${server.sharedPath('')}\n`, { countLines: /^-/ });
    }
  }
  for (let run = 0; run < ctx.runs; run++) {
    for (const server of serverOrder(ctx, run)) {
      const batch = `ls -l ${server.sharedPath('')}\npwd\n`;
      const result = await runBatch(server, ctx.client, batch, { countLines: /^-/ });
      if (result.counted !== files) {
        throw new Error(`ls -l on ${server.name} listed ${result.counted} files, expected ${files}`);
      }
      m.runs[server.name].push(commandMs(result) / 1000);
      ctx.log(`  ${m.label} ${server.name}: ${m.runs[server.name].at(-1)!.toFixed(2)} s`);
    }
  }
  return [m];
}
