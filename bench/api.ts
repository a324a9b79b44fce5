// The REST API under load: p50/p99 latency of a user page (10 000 users) and of the audit trail's first page
// (1 000 000 records), and SFTP upload throughput while the API is polled (and an event stream is open) vs idle.
import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildApiFixture } from './api-fixture.js';
import type { Cleanup } from './cleanup.js';
import { writeRandomFile } from './files.js';
import { treeCpuMs } from './proc-stats.js';
import { type Measurement, median } from './scenarios.js';
import { type BenchLayout, freePort, startFerry } from './servers.js';
import { type ClientContext, runBatch } from './sftp-client.js';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;
/** The poller's pace: a few consoles open on the dashboard, refreshing. */
const POLL_INTERVAL_MS = 100;
const POLLED_PATHS = ['/api/sessions', '/metrics', '/api/status', '/api/users?limit=100'];

/** Store size, sequential requests per endpoint and run, and the uploads (files of bytes) polled vs not. */
export interface ApiPlan {
  readonly users: number;
  readonly auditRecords: number;
  readonly requests: number;
  readonly files: number;
  readonly bytes: number;
  readonly runs: number;
}

export interface ApiBenchOptions {
  readonly repo: string;
  readonly layout: BenchLayout;
  readonly cleanup: Cleanup;
  readonly client: ClientContext;
  readonly workers: number;
  readonly plan: ApiPlan;
  /** Client-side scratch directory (the upload's source file goes there). */
  readonly clientDir: string;
  readonly log: (line: string) => void;
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function timedGet(url: string, key: string): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, { headers: { authorization: `Bearer ${key}` } });
  await response.arrayBuffer();
  if (response.status !== 200) throw new Error(`api bench: ${url} answered ${response.status}`);
  return performance.now() - started;
}

/** Polls the API at a console's pace with an event stream open, until stopped; counts what it did. */
function startPoller(base: string, key: string): { stop(): Promise<{ requests: number; events: number }> } {
  let running = true;
  let requests = 0;
  let events = 0;
  const stream = new AbortController();
  const reading = (async () => {
    const response = await fetch(`${base}/api/events`, {
      headers: { authorization: `Bearer ${key}` },
      signal: stream.signal,
    });
    const decoder = new TextDecoder();
    for await (const chunk of response.body ?? [])
      events += decoder.decode(chunk).split('\nevent: ').length - 1;
  })().catch(() => undefined);
  const polling = (async () => {
    for (let i = 0; running; i++) {
      const started = performance.now();
      await timedGet(`${base}${POLLED_PATHS[i % POLLED_PATHS.length]}`, key);
      requests++;
      await new Promise((r) => setTimeout(r, Math.max(0, POLL_INTERVAL_MS - (performance.now() - started))));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await polling;
      stream.abort();
      await reading;
      return { requests, events };
    },
  };
}

async function apiKey(repo: string, dataDir: string, name: string): Promise<string> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['bin/ferry.js', 'apikeys', 'add', name, '--role', 'operator', '--data-dir', dataDir],
    { cwd: repo },
  );
  return stdout.trim().split('\n').at(-1)!;
}

export async function apiScenario(options: ApiBenchOptions): Promise<Measurement[]> {
  const o = {
    ...options,
    ...options.plan,
    source: { path: join(options.clientDir, 'api.bin'), bytes: options.plan.bytes },
  };
  o.log(
    `api: latency over ${o.users} users and ${o.auditRecords} audit records, ` +
      `upload ${o.files} × ${o.bytes / MIB} MiB polled vs not, ${o.runs} runs`,
  );
  await writeRandomFile(o.source.path, o.bytes);
  const root = join(o.layout.root, 'api');
  const logDir = join(root, 'logs');
  await mkdir(logDir, { recursive: true });
  const port = await freePort();
  const ferry = await startFerry(o.repo, { ...o.layout, root, logDir }, o.cleanup, {
    workers: o.workers,
    extraArgs: ['--http-listen', `127.0.0.1:${port}`],
  });
  const base = `http://127.0.0.1:${port}`;
  const dataDir = join(root, 'ferry-data');
  // One key per use: each has its own request budget (1 200 a minute per process).
  const [usersKey, auditKey, pollKey] = [
    await apiKey(o.repo, dataDir, 'bench-users'),
    await apiKey(o.repo, dataDir, 'bench-audit'),
    await apiKey(o.repo, dataDir, 'bench-poll'),
  ] as [string, string, string];
  o.log(
    `api: building the store: ${o.users} users, ${o.auditRecords} audit records (through the store layer)`,
  );
  await buildApiFixture(dataDir, o.users, o.auditRecords, o.log);

  const endpoints = [
    {
      id: 'users',
      path: '/api/users?limit=100',
      key: usersKey,
      label: `GET /api/users?limit=100 (${o.users} users)`,
    },
    {
      id: 'audit',
      path: '/api/audit',
      key: auditKey,
      label: `GET /api/audit, first page (${o.auditRecords} records)`,
    },
  ] as const;
  const latency = new Map<string, { p50: number[]; p99: number[] }>();
  for (const e of endpoints) {
    latency.set(e.id, { p50: [], p99: [] });
    // Untimed: the first requests compile the route's serializers and warm the store's pages.
    for (let i = 0; i < 10; i++) await timedGet(`${base}${e.path}`, e.key);
  }
  for (let run = 0; run < o.runs; run++) {
    for (const e of run % 2 === 0 ? endpoints : [...endpoints].reverse()) {
      const times: number[] = [];
      for (let i = 0; i < o.requests; i++) times.push(await timedGet(`${base}${e.path}`, e.key));
      const l = latency.get(e.id)!;
      l.p50.push(percentile(times, 50));
      l.p99.push(percentile(times, 99));
      o.log(`  ${e.label}: p50 ${l.p50.at(-1)!.toFixed(1)} ms, p99 ${l.p99.at(-1)!.toFixed(1)} ms`);
    }
  }

  const batch = [
    '-mkdir /xfer/api-in',
    ...Array.from({ length: o.files }, (_, i) => `put ${o.source.path} /xfer/api-in/f${i}.bin`),
    'pwd',
    '',
  ].join('\n');
  const inbox = join(ferry.localDir, 'api-in');
  const mib = (o.source.bytes * o.files) / MIB;
  const rates = { polled: [] as number[], idle: [] as number[] };
  const cpu = { polled: [] as number[], idle: [] as number[] };
  await runBatch(ferry, o.client, batch); // untimed warm-up
  await rm(inbox, { recursive: true, force: true });
  for (let run = 0; run < o.runs; run++) {
    for (const polled of run % 2 === 0 ? [true, false] : [false, true]) {
      const poller = polled ? startPoller(base, pollKey) : undefined;
      const cpuBefore = await treeCpuMs(ferry.pid);
      const result = await runBatch(ferry, o.client, batch);
      const cpuMs = (await treeCpuMs(ferry.pid)) - cpuBefore;
      const done = await poller?.stop();
      // From the first put's start to pwd's (the -mkdir line comes before).
      const rate = mib / ((result.marks[1 + o.files]! - result.marks[1]!) / 1000);
      (polled ? rates.polled : rates.idle).push(rate);
      (polled ? cpu.polled : cpu.idle).push((cpuMs / mib) * 1024);
      o.log(
        `  upload ${o.files}×${o.source.bytes / MIB} MiB, API ${polled ? `polled (${done?.requests} requests, ${done?.events} events streamed)` : 'idle'}: ` +
          `${rate.toFixed(0)} MiB/s, Ferry CPU ${((cpuMs / mib) * 1024).toFixed(0)} ms/GiB`,
      );
      await rm(inbox, { recursive: true, force: true });
    }
  }
  await ferry.stop();

  const rows: Measurement[] = [];
  for (const e of endpoints) {
    const l = latency.get(e.id)!;
    for (const p of ['p50', 'p99'] as const)
      rows.push({
        id: `api-${e.id}-${p}`,
        label: `${e.label}, ${p} of ${o.requests}`,
        unit: 'ms',
        better: 'lower',
        runs: { ferry: l[p], openssh: [] },
      });
  }
  rows.push({
    id: 'upload-api-polled',
    label: `upload ${o.files}×${o.source.bytes / MIB} MiB, API polled + event stream (OpenSSH column: Ferry, API idle)`,
    unit: 'MiB/s',
    better: 'higher',
    runs: { ferry: rates.polled, openssh: rates.idle },
    target: { kind: 'ratio-at-least', value: 0.95 },
    extra: { 'CPU ms/GiB': { ferry: median(cpu.polled), openssh: median(cpu.idle) } },
  });
  return rows;
}
