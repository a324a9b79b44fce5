// The workloads MFT traffic is made of (issue 22): thousands of small files in one session, hundreds of
// sessions at once, each against Ferry and OpenSSH alternately with the same `sftp -b` client and every byte checked.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeRandomFile } from './files.js';
import { reapedChildrenCpuMs, treeCpuMs, treeMemory } from './proc-stats.js';
import { markRunStart } from './profile-windows.js';
import { emptyRuns, type Measurement, medians, type ScenarioContext } from './scenarios.js';
import type { BenchServer } from './servers.js';
import { type BatchResult, type HeldSession, openHeldSession, runBatch } from './sftp-client.js';

const MIB = 1024 * 1024;

/** SHA-256 of every file of a flat directory, by name: what arrived must equal what was sent, file for file. */
export async function digests(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await readdir(dir)).sort()) {
    out.set(
      name,
      createHash('sha256')
        .update(await readFile(join(dir, name)))
        .digest('hex'),
    );
  }
  return out;
}

export function sameDigests(a: Map<string, string>, b: Map<string, string>, what: string): void {
  if (a.size !== b.size) throw new Error(`${what}: ${b.size} files arrived, ${a.size} were sent`);
  for (const [name, digest] of a) {
    if (b.get(name) !== digest) throw new Error(`${what}: ${name} differs from what was sent`);
  }
}

/** Writes `count` random files of `bytes` each into `dir` (once; later runs reuse them). */
export async function smallFileSet(dir: string, count: number, bytes: number): Promise<Map<string, string>> {
  await mkdir(dir, { recursive: true });
  if ((await readdir(dir)).length !== count) {
    const width = String(count).length;
    for (let i = 0; i < count; i += 64) {
      const names = [];
      for (let j = i; j < Math.min(count, i + 64); j++) names.push(`f-${String(j).padStart(width, '0')}.edi`);
      await Promise.all(names.map((name) => writeRandomFile(join(dir, name), bytes)));
    }
  }
  return digests(dir);
}

/**
 * Small files: one session uploads `count` files of `bytes` (`put -r` of a directory), another downloads them
 * (`get -r`); files per second of the transfer command alone, server CPU per 1000 files beside it.
 */
export async function smallFiles(ctx: ScenarioContext, count: number, bytes: number): Promise<Measurement[]> {
  const size = bytes >= 1024 ? `${bytes / 1024} KiB` : `${bytes} B`;
  const up: Measurement = {
    id: 'small-files-upload',
    label: `upload ${count} files of ${size} (put -r)`,
    unit: 'files/s',
    better: 'higher',
    runs: emptyRuns(),
    target: { kind: 'ratio-at-least', value: 1.5 },
  };
  const down: Measurement = {
    ...up,
    id: 'small-files-download',
    label: `download ${count} files of ${size} (get -r)`,
    runs: emptyRuns(),
  };
  const cpuUp = emptyRuns();
  const cpuDown = emptyRuns();
  const source = join(ctx.clientDir, 'small-set');
  const sent = await smallFileSet(source, count, bytes);
  const back = join(ctx.clientDir, 'small-back');
  for (let run = 0; run < ctx.runs; run++) {
    for (const server of ctx.servers) {
      const remote = `${server.remoteDir}/small`;
      const local = join(server.localDir, 'small');
      const before = await treeCpuMs(server.pid);
      markRunStart();
      const result = await runBatch(server, ctx.client, `put -r ${source} ${remote}\npwd\n`, {
        timeoutMs: 1_800_000,
      });
      cpuUp[server.name].push(((await treeCpuMs(server.pid)) - before) / (count / 1000));
      sameDigests(sent, await digests(local), `small-file upload to ${server.name}`);
      up.runs[server.name].push(count / (transferMs(result) / 1000));
      ctx.log(`  ${up.label} ${server.name}: ${up.runs[server.name].at(-1)!.toFixed(0)} files/s`);

      const cpuBefore = await treeCpuMs(server.pid);
      markRunStart();
      const fetched = await runBatch(server, ctx.client, `get -r ${remote} ${back}\npwd\n`, {
        timeoutMs: 1_800_000,
      });
      cpuDown[server.name].push(((await treeCpuMs(server.pid)) - cpuBefore) / (count / 1000));
      sameDigests(sent, await digests(back), `small-file download from ${server.name}`);
      down.runs[server.name].push(count / (transferMs(fetched) / 1000));
      ctx.log(`  ${down.label} ${server.name}: ${down.runs[server.name].at(-1)!.toFixed(0)} files/s`);
      await Promise.all([rm(local, { recursive: true }), rm(back, { recursive: true })]);
    }
  }
  await rm(source, { recursive: true });
  return [
    { ...up, extra: { 'server CPU ms/1000 files': medians(cpuUp) } },
    { ...down, extra: { 'server CPU ms/1000 files': medians(cpuDown) } },
  ];
}

/** From the first command's echo to the echo of the last one (`pwd`): the transfers, without login and logout. */
export function transferMs(result: BatchResult): number {
  const first = result.marks[0];
  const last = result.marks.at(-1);
  if (first === undefined || last === undefined || result.marks.length < 2) {
    throw new Error('sftp did not echo the batch commands');
  }
  return last - first;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Samples the server tree's summed RSS every `everyMs` until stopped; resolves to the highest reading. */
function peakRss(pid: number, everyMs: number): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, (await treeMemory(pid)).rssBytes);
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/**
 * Concurrency: `sessions` sftp sessions at once, each uploading `files` files of `bytes`: aggregate MiB/s
 * (first transfer start to last end), p99 of per-file latency, the server's peak RSS summed over its processes
 * (sshd's are one per connection and more), and server CPU per GiB.
 */
export async function manySessions(
  ctx: ScenarioContext,
  o: { sessions: number; files: number; bytes: number },
): Promise<Measurement[]> {
  const size = `${o.bytes / MIB} MiB`;
  const label = `${o.sessions} sessions × ${o.files} files of ${size} up`;
  const throughput: Measurement = {
    id: 'many-sessions-throughput',
    label,
    unit: 'MiB/s',
    better: 'higher',
    runs: emptyRuns(),
    target: { kind: 'ratio-at-least', value: 1.2 },
  };
  const latency: Measurement = {
    id: 'many-sessions-p99',
    label: `${label}: p99 per-file latency`,
    unit: 'ms',
    better: 'lower',
    runs: emptyRuns(),
  };
  const rss: Measurement = {
    id: 'many-sessions-peak-rss',
    label: `${label}: peak server RSS`,
    unit: 'MiB',
    better: 'lower',
    runs: emptyRuns(),
    target: { kind: 'ratio-at-most', value: 0.1 },
  };
  const cpu = emptyRuns();
  const clientCpu = emptyRuns();
  const path = join(ctx.clientDir, 'session-file.bin');
  const digest = await writeRandomFile(path, o.bytes);
  const totalBytes = o.sessions * o.files * o.bytes;
  for (let run = 0; run < ctx.runs; run++) {
    for (const server of ctx.servers) {
      await mkdir(join(server.localDir, 'many'), { recursive: true });
      const batch = (s: number) =>
        `${[...Array(o.files).keys()].map((f) => `put ${path} ${server.remoteDir}/many/s${s}-f${f}.bin`).join('\n')}\npwd\n`;
      // Everyone logs in first (in waves, as a partner's clients would arrive), then all are released at once.
      const held: HeldSession[] = [];
      // The clients' CPU for the transfers: what they used by the time they are reaped, less their logins.
      const reapedBefore = await reapedChildrenCpuMs();
      try {
        for (let s = 0; s < o.sessions; s += 20) {
          const wave = Math.min(20, o.sessions - s);
          held.push(...(await Promise.all([...Array(wave)].map(() => openHeldSession(server, ctx.client)))));
        }
      } catch (err) {
        await Promise.all(held.map((h) => h.close()));
        throw err;
      }
      let logins = 0;
      for (const h of held) logins += await treeCpuMs(h.pid);
      const sampler = peakRss(server.pid, 200);
      const cpuBefore = await treeCpuMs(server.pid);
      const released = performance.now();
      let results: BatchResult[];
      try {
        results = await Promise.all(held.map((h, s) => h.run(batch(s))));
      } finally {
        rss.runs[server.name].push((await sampler.stop()) / MIB);
      }
      const gib = totalBytes / 1024 / MIB;
      cpu[server.name].push(((await treeCpuMs(server.pid)) - cpuBefore) / 1000 / gib);
      clientCpu[server.name].push(((await reapedChildrenCpuMs()) - reapedBefore - logins) / 1000 / gib);
      // A file's latency: from its command's echo to the next command's.
      const perFile = results.flatMap((r) => r.marks.slice(1).map((end, i) => end - r.marks[i]!));
      // From the release to the last session's last echo: the transfers of all sessions, logins excluded.
      const window = Math.max(...results.map((r) => r.marks.at(-1)!)) - released;
      await checkArrivals(join(server.localDir, 'many'), o.sessions * o.files, digest, server);
      throughput.runs[server.name].push(totalBytes / MIB / (window / 1000));
      latency.runs[server.name].push(percentile(perFile, 99));
      ctx.log(
        `  ${label} ${server.name}: ${throughput.runs[server.name].at(-1)!.toFixed(0)} MiB/s, ` +
          `p99 ${latency.runs[server.name].at(-1)!.toFixed(0)} ms, peak RSS ${rss.runs[server.name].at(-1)!.toFixed(0)} MiB, ` +
          `CPU s/GiB server ${cpu[server.name].at(-1)!.toFixed(2)}, clients ${clientCpu[server.name].at(-1)!.toFixed(2)}`,
      );
    }
  }
  await rm(path);
  return [
    { ...throughput, extra: { 'server CPU s/GiB': medians(cpu), 'client CPU s/GiB': medians(clientCpu) } },
    latency,
    rss,
  ];
}

async function checkArrivals(
  dir: string,
  expected: number,
  digest: string,
  server: BenchServer,
): Promise<void> {
  const names = await readdir(dir);
  if (names.length !== expected)
    throw new Error(`${server.name}: ${names.length} files arrived, ${expected} sent`);
  for (const name of names) {
    const actual = createHash('sha256')
      .update(await readFile(join(dir, name)))
      .digest('hex');
    if (actual !== digest) throw new Error(`${server.name}: ${name} differs from what was sent`);
  }
  await rm(dir, { recursive: true });
}
