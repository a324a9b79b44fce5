// Cluster mode on one machine: two `ferry serve` nodes on one PostgreSQL store against the plain Ferry (one node on
// SQLite): logins per second and aggregate upload throughput, the work spread over both nodes. A ratio, not a
// scale-out claim: both nodes share this machine's cores with the client and PostgreSQL.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Cleanup } from './cleanup.js';
import { sha256File } from './files.js';
import { awaitListening } from './listening.js';
import { spread } from './pgp-folder.js';
import type { Measurement } from './scenarios.js';
import type { BenchServer } from './servers.js';
import { type ClientContext, runBatch } from './sftp-client.js';

const execFileAsync = promisify(execFile);
const MIB = 1024 * 1024;
/** The PostgreSQL server the nodes share: a database is created for the run and dropped after it. */
const ADMIN_URL = process.env.FERRY_BENCH_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
/** As servers.ts lifts them for the plain Ferry: one client address and user, many sessions at once. */
const LIMITS = {
  FERRY_MAX_CONNECTIONS_PER_ADDRESS: '100000',
  FERRY_MAX_UNAUTHENTICATED_PER_ADDRESS: '10000',
  FERRY_MAX_SESSIONS_PER_USER: '100000',
};

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: ADMIN_URL, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** A fresh database's URL (dropped at cleanup), or undefined with why when no server answers. */
async function benchDatabase(cleanup: Cleanup): Promise<{ url: string } | { skip: string }> {
  const name = `ferry_bench_${randomBytes(6).toString('hex')}`;
  try {
    await admin((c) => c.query(`CREATE DATABASE ${name}`));
  } catch (err) {
    return { skip: `no PostgreSQL at ${ADMIN_URL} (${(err as Error).message}; FERRY_BENCH_POSTGRES_URL)` };
  }
  cleanup.task(() => admin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}));
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  return { url: url.toString() };
}

async function startNode(
  repo: string,
  args: readonly string[],
  cleanup: Cleanup,
  logFile: string,
  home: string,
): Promise<BenchServer> {
  const child = cleanup.process(
    spawn(process.execPath, ['bin/ferry.js', 'serve', '--listen', '127.0.0.1', '--sftp-port', '0', ...args], {
      cwd: repo,
      detached: true,
      stdio: ['ignore', 'pipe', openSync(logFile, 'a')],
      env: { ...process.env, ...LIMITS },
    }),
    true,
  );
  const [, port] = await awaitListening(child, /SFTP listening on 127\.0\.0\.1:(\d+)/, 'cluster node', {
    hint: `see ${logFile}`,
  });
  return {
    name: 'ferry',
    port: Number(port),
    user: 'bench',
    pid: child.pid!,
    remoteDir: '/xfer',
    localDir: join(home, 'xfer'),
    sharedPath: (name) => `/${name}`,
    description: `cluster node ${args.join(' ')}`,
    stop: () => cleanup.stop(child, 15_000),
  };
}

/** `total` jobs, `parallel` at a time, job i on server i mod the number of servers; elapsed seconds. */
async function spreadOver(
  servers: readonly BenchServer[],
  total: number,
  parallel: number,
  job: (server: BenchServer, i: number) => Promise<unknown>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  const lane = async () => {
    for (let i = next++; i < total; i = next++) await job(servers[i % servers.length]!, i);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, total) }, lane));
  return (performance.now() - started) / 1000;
}

export async function clusterScenario(options: {
  readonly repo: string;
  readonly root: string;
  readonly cleanup: Cleanup;
  /** The plain Ferry (one node, SQLite): the OpenSSH column of these rows. */
  readonly plain: BenchServer;
  readonly clientPublicKey: string;
  readonly client: ClientContext;
  readonly source: { readonly path: string; readonly sha256: string; readonly bytes: number };
  readonly workers: number;
  readonly logins: number;
  readonly streams: number;
  readonly runs: number;
  readonly log: (line: string) => void;
}): Promise<Measurement[]> {
  const { plain, client, source, log, cleanup } = options;
  const db = await benchDatabase(cleanup);
  if ('skip' in db) {
    log(`cluster: skipped, ${db.skip}`);
    return [];
  }
  const dir = join(options.root, 'cluster');
  const dataDir = join(dir, 'data');
  const home = join(dir, 'home');
  await mkdir(join(home, 'xfer'), { recursive: true });
  const store = ['--data-dir', dataDir, '--store', db.url];
  const ferry = (args: string[]) =>
    execFileAsync(process.execPath, ['bin/ferry.js', ...args], { cwd: options.repo });
  await ferry(['init', ...store]);
  await ferry(['users', 'add', 'bench', '--public-key', options.clientPublicKey, '--home', home, ...store]);
  const workers = ['--workers', String(Math.max(1, Math.floor(options.workers / 2)))];
  const nodes = await Promise.all(
    ['node-1', 'node-2'].map((id) =>
      startNode(options.repo, [...store, ...workers, '--node-id', id], cleanup, join(dir, `${id}.log`), home),
    ),
  );
  log(`  cluster: ${nodes.map((n) => `port ${n.port}`).join(', ')} on PostgreSQL, ${workers.join(' ')} each`);
  const columns = [
    ['ferry', nodes],
    ['openssh', [plain]],
  ] as const;
  const logins = { ferry: [] as number[], openssh: [] as number[] };
  const upload = { ferry: [] as number[], openssh: [] as number[] };
  const parallel = 8;
  try {
    for (let run = 0; run < options.runs; run++) {
      for (const [column, servers] of columns) {
        const seconds = await spreadOver(servers, options.logins, parallel, (s) =>
          runBatch(s, client, 'pwd\n'),
        );
        logins[column].push(options.logins / seconds);
        log(`  cluster logins, ${servers.length} node(s): ${logins[column].at(-1)!.toFixed(1)}/s`);
      }
      for (const [column, servers] of columns) {
        const seconds = await spreadOver(servers, options.streams, options.streams, (s, i) =>
          runBatch(s, client, `put ${source.path} ${s.remoteDir}/cluster-${i}.bin\n`),
        );
        upload[column].push((options.streams * source.bytes) / MIB / seconds);
        log(`  cluster upload, ${servers.length} node(s): ${upload[column].at(-1)!.toFixed(0)} MiB/s in all`);
      }
    }
    // What the cluster stored is what was sent.
    if ((await sha256File(join(home, 'xfer', 'cluster-0.bin'))) !== source.sha256)
      throw new Error('cluster bench: the uploaded file differs from the source');
  } finally {
    for (let i = 0; i < options.streams; i++)
      await rm(join(plain.localDir, `cluster-${i}.bin`), { force: true });
    await Promise.all(nodes.map((n) => n.stop()));
  }
  const size = `${Math.round(source.bytes / MIB)} MiB`;
  return [
    {
      id: 'cluster-logins',
      label: `${options.logins} logins, ${parallel} at a time: 2 nodes on PostgreSQL (OpenSSH column: 1 node, SQLite)`,
      unit: 'logins/s',
      better: 'higher',
      runs: logins,
      extra: spread(logins, 'logins/s'),
    },
    {
      id: 'cluster-upload',
      label: `upload ${options.streams}×${size} at once: 2 nodes on PostgreSQL (OpenSSH column: 1 node, SQLite)`,
      unit: 'MiB/s',
      better: 'higher',
      runs: upload,
      extra: spread(upload, 'MiB/s'),
    },
  ];
}
